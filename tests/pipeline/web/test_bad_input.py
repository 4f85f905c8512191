"""Bad input gets 400, 404, 422 or 429 with the security headers, never a 500; what the
app does not foresee still answers 500 with them."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pipeline.web import create_app
from pipeline.web.auth import SESSION_COOKIE

TOO_BIG = str(2**63)  # the example; anything past LARGEST is refused alike
LARGEST = str(2**31 - 1)  # the largest id both databases store


def assert_secured(response) -> None:
    assert response.headers["content-security-policy"].startswith("default-src 'none'"), response.url
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path, parameter", [
    (f"/articles/{TOO_BIG}", "article_id"), (f"/api/articles/{TOO_BIG}", "article_id"),
    (f"/stories/{TOO_BIG}", "story_id"), (f"/api/stories/{'9' * 40}", "story_id"),
    (f"/search?story={TOO_BIG}", "story"), (f"/api/search?q=Alaska&story={TOO_BIG}", "story"),
    ("/api/articles/0", "article_id"), ("/stories/-1", "story_id"),
])
def test_ids_beyond_what_a_database_stores_are_422_naming_the_parameter(client, world, path, parameter):
    response = client.get(path)
    assert response.status_code == 422, (path, response.text[:300])
    assert_secured(response)
    assert f"{parameter}: Input should be" in (response.json()["detail"] if path.startswith("/api/")
                                                else response.text)


def test_the_largest_storable_id_is_simply_not_there(client, world):
    for path in (f"/api/articles/{LARGEST}", f"/stories/{LARGEST}"):
        response = client.get(path)
        assert response.status_code == 404 and LARGEST in response.text
        assert_secured(response)
    assert client.get("/api/search", params={"story": LARGEST}).json()["total"] == 0


@pytest.mark.parametrize("path, parameter", [
    ("/api/search?until=9999-12-31", "until"), ("/search?q=Alaska&until=9999-12-31", "until"),
    ("/api/search?since=0001-01-01", "since"), ("/api/coverage?until=9999-12-31", "until"),
    ("/coverage?since=9999-12-31", "since"), ("/coverage?until=0001-01-01", "until"),
    ("/api/coverage?since=0001-01-01&until=0001-01-02", "since"),
])
def test_days_outside_the_storable_range_are_422_naming_the_parameter(client, world, path, parameter):
    response = client.get(path)
    assert response.status_code == 422, (path, response.text[:300])
    assert_secured(response)
    detail = response.json()["detail"] if path.startswith("/api/") else response.text
    assert f"{parameter}: Input should be" in detail


def test_days_at_the_ends_of_the_range_are_searched_even_when_empty(client, world):
    found = client.get("/api/search", params={"since": "1900-01-01", "until": "2999-12-31"})
    assert found.status_code == 200 and found.json()["total"] > 50
    assert client.get("/coverage", params={"until": "1900-01-01"}).status_code == 200
    assert client.get("/api/coverage", params={"since": "2999-12-31"}).status_code == 200


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


def test_the_openapi_schema_is_behind_the_same_check_as_the_api(client, anonymous, world):
    refused = anonymous.get("/openapi.json")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert_secured(refused)
    for path in ("/docs", "/redoc"):
        assert anonymous.get(path).status_code in (303, 404)
    assert client.get("/openapi.json").json()["info"]["title"] == "newswatch"


def test_under_a_mount_prefix_errors_are_secured_and_the_schema_names_its_server(settings, world):
    host = FastAPI()
    app = create_app(settings)
    host.mount("/newswatch", app)
    with TestClient(host, headers={"Authorization": "Bearer " + settings.web_token}) as client:
        response = client.get(f"/newswatch/api/articles/{TOO_BIG}")
        assert response.status_code == 422
        assert_secured(response)
        assert client.get("/newswatch/openapi.json").json()["servers"] == [{"url": "/newswatch"}]
    app.state.engine.dispose()


def test_an_unforeseen_error_is_a_500_that_still_carries_the_headers(app, world):
    def broken() -> None:
        raise RuntimeError("a bug nobody foresaw")

    app.add_api_route("/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")
    assert response.status_code == 500 and "a bug nobody foresaw" not in response.text
    assert_secured(response)


def test_unknown_paths_are_404_with_the_headers(client, world):
    for path in ("/nowhere", "/api/nowhere"):
        response = client.get(path)
        assert response.status_code == 404
        assert_secured(response)
