"""Who gets in: the token for programs, a login cookie for browsers, nobody else."""

from __future__ import annotations

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from pipeline.errors import SettingsError
from pipeline.web import create_app
from pipeline.web.auth import SESSION_COOKIE, SESSION_SECONDS, TokenAuth, is_local_path
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
    session = auth.new_session()
    assert auth.is_session(session)
    now[0] += SESSION_SECONDS + 1
    assert not auth.is_session(session)
    issued, _, signature = session.partition(".")
    assert not auth.is_session(f"{int(now[0])}.{signature}")  # a fresh time with an old signature
    assert not TokenAuth(TOKEN + "-rotated", clock=lambda: now[0]).is_session(auth.new_session())
    for forged in ("", ".", "abc.def", "١٢٣.x", f"{issued}"):
        assert not auth.is_session(forged)


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
        assert client.get("/login").status_code == 404
        assert client.get("/stories", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401
    app.state.engine.dispose()
