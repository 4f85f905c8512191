"""Who gets in: the token for programs, a login cookie for browsers until they log out, nobody
else; and nobody who keeps guessing the token."""

from __future__ import annotations

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from pipeline.errors import SettingsError
from pipeline.web import create_app
from pipeline.web.auth import (
    LOGIN_FAILURES,
    LOGIN_WINDOW_SECONDS,
    SESSION_COOKIE,
    SESSION_SECONDS,
    LoginThrottle,
    Sessions,
    TokenAuth,
    TooManyLoginsError,
    is_local_path,
)
from tests.conftest import make_settings
from tests.pipeline.web.conftest import TOKEN


def test_anonymous_programs_get_401_and_browsers_the_login_page(anonymous, world):
    api = anonymous.get("/api/stories")
    assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer"
    page = anonymous.get("/coverage?since=2025-08-16")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fcoverage%3Fsince%3D2025-08-16"
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}",
                                    "Bearer tökén-with-ümlauts-1234"])
def test_a_wrong_token_is_refused(anonymous, world, header):
    raw = header.encode()  # as bytes: a client may send any
    assert anonymous.get("/api/feeds", headers={"Authorization": raw}).status_code == 401
    assert anonymous.get("/feeds", headers={"Authorization": raw}).status_code == 401


def test_login_sets_a_strict_httponly_cookie_that_is_not_the_token(anonymous, world):
    wrong = anonymous.post("/login", data={"token": "not-the-token-at-all", "next": "/feeds"})
    assert wrong.status_code == 401 and "not right" in wrong.text and SESSION_COOKIE not in wrong.cookies
    response = anonymous.post("/login", data={"token": TOKEN, "next": "/feeds"})
    assert response.status_code == 303 and response.headers["location"] == "/feeds"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert TOKEN not in cookie
    assert anonymous.get("/feeds").status_code == 200  # the client keeps the cookie
    assert anonymous.get("/api/feeds").status_code == 200
    assert anonymous.post("/logout").status_code == 303
    assert anonymous.get("/feeds").status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "", "feeds"])
def test_login_never_redirects_off_the_app(anonymous, world, target):
    response = anonymous.post("/login", data={"token": TOKEN, "next": target})
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_session_expires_and_a_forged_one_is_refused():
    now = [1_000_000.0]
    auth = TokenAuth(TOKEN, clock=lambda: now[0])
    session = auth.sessions.open()
    assert auth.sessions.is_open(session)
    now[0] += SESSION_SECONDS + 1
    assert not auth.sessions.is_open(session)
    # Another app (a restart, a new token) holds none of this one's sessions.
    assert not TokenAuth(TOKEN + "-rotated").sessions.is_open(auth.sessions.open())
    for forged in ("", ".", "abc.def", "١٢٣.x", session[:-1], session + "x", "1" * 5000 + ".x"):
        assert not auth.sessions.is_open(forged)


def test_logging_out_ends_the_session_for_every_copy_of_its_cookie(app, world):
    with TestClient(app, follow_redirects=False) as browser, TestClient(app, follow_redirects=False) as thief:
        assert browser.post("/login", data={"token": TOKEN, "next": "/feeds"}).status_code == 303
        copied = {"Cookie": f"{SESSION_COOKIE}={browser.cookies[SESSION_COOKIE]}"}
        assert thief.get("/feeds", headers=copied).status_code == 200
        assert thief.get("/api/feeds", headers=copied).status_code == 200
        assert browser.post("/logout").status_code == 303
        assert thief.get("/feeds", headers=copied).headers["location"].startswith("/login")
        assert thief.get("/api/feeds", headers=copied).status_code == 401
        assert thief.get("/openapi.json", headers=copied).status_code == 401


def test_wrong_tokens_are_throttled_per_address_form_and_bearer_alike(app, world):
    with TestClient(app, follow_redirects=False, client=("203.0.113.7", 4000)) as guesser, \
            TestClient(app, follow_redirects=False, client=("198.51.100.2", 4000)) as colleague:
        for attempt in range(LOGIN_FAILURES - 1):
            assert guesser.post("/login", data={"token": f"guess-{attempt:020d}"}).status_code == 401
        assert guesser.get("/api/feeds", headers={"Authorization": "Bearer another-wrong-guess"}).status_code == 401
        refused = [guesser.post("/login", data={"token": TOKEN}),
                   guesser.get("/api/feeds", headers={"Authorization": f"Bearer {TOKEN}"}),
                   guesser.get("/feeds", headers={"Authorization": f"Bearer {TOKEN}"})]
        for response in refused:  # the right token too: guessing on would tell when it is right
            assert response.status_code == 429
            assert 0 < int(response.headers["retry-after"]) <= LOGIN_WINDOW_SECONDS
            assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert "try again in" in refused[0].text and "try again in" in refused[1].json()["detail"]
        assert colleague.post("/login", data={"token": TOKEN}).status_code == 303  # another address
        assert colleague.get("/api/feeds", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_throttle_forgets_failures_once_the_window_has_passed():
    now = [0.0]
    throttle = LoginThrottle(lambda: now[0], limit=3, window=60)
    for _ in range(3):
        throttle.check("a")
        throttle.fail("a")
    with pytest.raises(TooManyLoginsError) as refused:
        throttle.check("a")
    assert refused.value.retry_after == 60
    throttle.check("b")  # one address's failures are its own
    now[0] = 45.5
    with pytest.raises(TooManyLoginsError) as refused:
        throttle.check("a")
    assert refused.value.retry_after == 15
    now[0] = 60
    throttle.check("a")  # the first failure is a window old
    throttle.forget("a")
    throttle.fail("a")
    throttle.check("a")


def test_the_throttle_and_the_sessions_stay_bounded():
    now = [0.0]
    throttle = LoginThrottle(lambda: now[0], limit=2, window=60, clients=100)
    for client in range(1000):
        throttle.fail(str(client))
        throttle.fail(str(client))
    with pytest.raises(TooManyLoginsError):
        throttle.check("999")
    throttle.check("0")  # forgotten: the least recent of more clients than are remembered
    sessions = Sessions(lambda: now[0], seconds=60, limit=100)
    opened = [sessions.open() for _ in range(1000)]
    assert sessions.is_open(opened[-1]) and not sessions.is_open(opened[0])


@pytest.mark.parametrize("target, root, local", [
    ("/stories/1", "", True), ("/newswatch/stories/1", "/newswatch", True),
    ("/other/app", "/newswatch", False), ("//evil.example", "", False), ("http://x/", "", False),
])
def test_only_paths_inside_the_app_are_redirect_targets(target, root, local):
    assert is_local_path(target, root) is local


def test_the_app_refuses_to_start_without_a_token(tmp_path):
    with pytest.raises(SettingsError, match="NEWSWATCH_WEB_TOKEN"):
        create_app(make_settings(tmp_path))


def test_a_host_can_plug_in_its_own_check(tmp_path, world):
    def is_airflow_user(request: Request) -> bool:
        return request.headers.get("x-airflow-user") == "analyst"

    app = create_app(make_settings(tmp_path, world.database_url), authenticate=is_airflow_user)
    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/stories", headers={"x-airflow-user": "analyst"}).status_code == 200
        assert client.get("/stories").status_code == 401  # no login page of its own to send browsers to
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/openapi.json", headers={"x-airflow-user": "analyst"}).status_code == 200
        assert client.get("/login").status_code == 404
        assert client.get("/stories", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    app.state.engine.dispose()
