"""Who may read the analyst app.

The app asks one question of every request, through a pluggable ``Authenticate``
callable (request in, True or False out), so that the Airflow plugin can put Airflow's
own session check in its place. Standalone, ``TokenAuth`` answers it from
``NEWSWATCH_WEB_TOKEN``: programs send ``Authorization: Bearer <token>``; browsers log in
once through a form and then carry a session cookie. The cookie never holds the token:
it holds the time of the login and an HMAC of that time under a key derived from the
token, so it expires, and changing the token ends every session. Comparisons are
constant-time. This module never logs or returns a token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

log = logging.getLogger(__name__)

Authenticate = Callable[[Request], bool]
LoginURL = Callable[[Request], str]

SESSION_COOKIE = "newswatch_session"
SESSION_SECONDS = 12 * 3600
MAX_FORM_BYTES = 4096


def route_path(request: Request, name: str, **params: str) -> str:
    """The path of this app's route ``name`` as the browser sees it. Looked up in the app's
    own routes (``request.app``), not the outermost router's: mounted in Airflow, that
    one is Airflow's, with route names of its own (it has a "static" too)."""
    return request.scope.get("root_path", "").rstrip("/") + str(request.app.url_path_for(name, **params))


class LoginRequiredError(Exception):
    """A browser asked for a page without a session: it is sent to ``login_url``."""

    def __init__(self, login_url: str) -> None:
        super().__init__(login_url)
        self.login_url = login_url


class TokenAuth:
    """Bearer token or session cookie, both checked against one secret token."""

    def __init__(self, token: str, *, clock: Callable[[], float] = time.time) -> None:
        self._token = token.encode()
        self._key = hashlib.sha256(b"newswatch web session\x00" + self._token).digest()
        self._clock = clock

    def __call__(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return self.is_token(credentials.strip())
        return self.is_session(request.cookies.get(SESSION_COOKIE, ""))

    def is_token(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)

    def new_session(self) -> str:
        issued = str(int(self._clock()))
        return f"{issued}.{self._sign(issued)}"

    def is_session(self, value: str) -> bool:
        issued, _, signature = value.partition(".")
        if not issued.isascii() or not issued.isdigit():
            return False
        fresh = 0 <= self._clock() - int(issued) < SESSION_SECONDS
        return hmac.compare_digest(signature.encode(), self._sign(issued).encode()) and fresh

    def _sign(self, issued: str) -> str:
        return hmac.new(self._key, b"session:" + issued.encode(), hashlib.sha256).hexdigest()


def is_local_path(target: str, root_path: str) -> bool:
    """Whether ``target`` is a path inside this app, safe to redirect to after a login
    (never another site: no scheme, no host, no ``//`` or backslash tricks)."""
    parts = urlsplit(target)
    return (not parts.scheme and not parts.netloc and target.startswith(root_path + "/")
            and not target.startswith("//") and "\\" not in target and target.isprintable())


def login_router(auth: TokenAuth, render: Callable[..., HTMLResponse]) -> APIRouter:
    """``/login`` (the form and its POST) and ``/logout``; ``render(request, error=, next=)``
    draws the form."""
    router = APIRouter(include_in_schema=False)

    @router.get("/login", name="login_form")
    def login_form(request: Request, next: str = "") -> Response:
        return render(request, error=None, next=next)

    @router.post("/login", name="login")
    async def login(request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace")) if len(body) <= MAX_FORM_BYTES else {}
        target = (form.get("next") or [""])[0]
        if not auth.is_token((form.get("token") or [""])[0].strip()):
            log.warning("web login refused client=%s", request.client.host if request.client else "?")
            return render(request, error="That token is not right.", next=target, status_code=401)
        root = request.scope.get("root_path", "")
        if not is_local_path(target, root):
            target = route_path(request, "search")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, auth.new_session(), max_age=SESSION_SECONDS, path=root + "/",
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    @router.post("/logout", name="logout")
    def logout(request: Request) -> Response:
        response = RedirectResponse(route_path(request, "login_form"), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path", "") + "/",
                               httponly=True, samesite="strict")
        return response

    return router
