"""Bad input gets 400, 404, 422 or 429 with the security headers, never a 500; what the
app does not foresee still answers 500 with them."""

from __future__ import annotations

import pytest

from pipeline.web.auth import SESSION_COOKIE


def assert_secured(response) -> None:
    assert response.headers["content-security-policy"].startswith("default-src 'none'"), response.url
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("query, problem", [
    ("(" * 100 + "Alaska" + " b)" * 100, "parentheses nest more than 10 deep"),  # was 503 (FTS5's stack)
    ("(" * 400 + "Alaska", "parentheses nest more than 10 deep"),  # never Python's recursion limit
    ("Alaska OR " * 60 + "Putin", "characters long; at most 500"),
])
def test_an_over_deep_or_over_long_query_is_400_naming_the_problem(client, world, query, problem):
    api = client.get("/api/search", params={"q": query})
    assert api.status_code == 400 and problem in api.json()["detail"]
    page = client.get("/search", params={"q": query})
    assert page.status_code == 400 and problem in page.text
    for response in (api, page):
        assert_secured(response)


def test_an_absurd_session_cookie_is_no_session(anonymous, world):
    absurd = {"Cookie": f"{SESSION_COOKIE}={'9' * 5000}.{'f' * 64}"}
    page = anonymous.get("/feeds", headers=absurd)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    api = anonymous.get("/api/feeds", headers=absurd)
    assert api.status_code == 401
    for response in (page, api):
        assert_secured(response)
