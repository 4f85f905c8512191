"""Who may read the analyst app.

The app asks one question of every request, through a pluggable ``Authenticate``
callable (request in, True or False out), so that the Airflow plugin can put Airflow's
own session check in its place. Standalone, ``TokenAuth`` answers it from
``NEWSWATCH_WEB_TOKEN``: programs send ``Authorization: Bearer <token>``; browsers log in
once through a form and then carry a session cookie.

The cookie never holds the token: it holds a random session id that counts only while
the app holds it (``Sessions``), for at most ``SESSION_SECONDS``. Logging out forgets
it, so a copied cookie stops working then; a restart (which a new token needs) forgets
every session. Wrong tokens, from the form or as a bearer, are counted per client
address (``LoginThrottle``): after ``LOGIN_FAILURES`` within ``LOGIN_WINDOW_SECONDS``,
that client's token attempts are refused with 429 and Retry-After until the oldest
failure is that old. Both live in this process, so several worker processes would each
keep their own. Token comparisons are constant-time. This module never logs or returns
a token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

log = logging.getLogger(__name__)

Authenticate = Callable[[Request], bool]
LoginURL = Callable[[Request], str]

SESSION_COOKIE = "newswatch_session"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 10_000  # past this many, a login ends the oldest session
LOGIN_FAILURES = 10
LOGIN_WINDOW_SECONDS = 15 * 60
MAX_CLIENTS = 10_000  # clients whose failures are remembered (the least recent are forgotten)
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


class TooManyLoginsError(Exception):
    """A client gave too many wrong tokens lately: it may try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong tokens from this address; try again in {retry_after} s")
        self.retry_after = retry_after


class Sessions:
    """The browser sessions this app has opened and not yet closed, each for ``seconds``.

    A session id is 32 random bytes; only its SHA-256 is kept, so a lookup's timing says
    nothing about the ids held.
    """

    def __init__(self, clock: Callable[[], float], seconds: float = SESSION_SECONDS,
                 limit: int = MAX_SESSIONS) -> None:
        self._opened: OrderedDict[bytes, float] = OrderedDict()  # oldest first
        self._clock, self._seconds, self._limit = clock, seconds, limit
        self._lock = threading.Lock()

    def open(self) -> str:
        session = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            while self._opened and (len(self._opened) >= self._limit
                                    or now - next(iter(self._opened.values())) >= self._seconds):
                self._opened.popitem(last=False)
            self._opened[_digest(session)] = now
        return session

    def is_open(self, session: str) -> bool:
        if not 0 < len(session) <= 64:  # whatever else a cookie holds, it is no session of ours
            return False
        opened = self._opened.get(_digest(session))
        return opened is not None and 0 <= self._clock() - opened < self._seconds

    def close(self, session: str) -> None:
        with self._lock:
            self._opened.pop(_digest(session), None)


def _digest(session: str) -> bytes:
    return hashlib.sha256(session.encode("utf-8", "replace")).digest()


class LoginThrottle:
    """Wrong tokens per client address: ``limit`` of them within ``window`` seconds, and the
    client's next attempts raise TooManyLoginsError until the oldest is ``window`` old."""

    def __init__(self, clock: Callable[[], float], limit: int = LOGIN_FAILURES,
                 window: float = LOGIN_WINDOW_SECONDS, clients: int = MAX_CLIENTS) -> None:
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # least recent failure first
        self._clock, self._limit, self._window, self._clients = clock, limit, window, clients
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Raise TooManyLoginsError when ``client`` may not try a token now."""
        now = self._clock()
        with self._lock:
            failures = self._failures.get(client)
            while failures and now - failures[0] >= self._window:
                failures.popleft()
            if failures and len(failures) >= self._limit:
                raise TooManyLoginsError(max(1, math.ceil(failures[0] + self._window - now)))

    def fail(self, client: str) -> None:
        with self._lock:
            failures = self._failures.setdefault(client, deque(maxlen=self._limit))
            failures.append(self._clock())
            self._failures.move_to_end(client)
            while len(self._failures) > self._clients:
                self._failures.popitem(last=False)

    def forget(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


class TokenAuth:
    """Bearer token or session cookie: the token opens sessions, the sessions let browsers in."""

    def __init__(self, token: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._token = token.encode()
        self.sessions = Sessions(clock)
        self.throttle = LoginThrottle(clock)

    def __call__(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return self.is_token(credentials.strip(), client_address(request))
        return self.sessions.is_open(request.cookies.get(SESSION_COOKIE, ""))

    def is_token(self, candidate: str, client: str) -> bool:
        """Whether ``candidate`` is the token; a wrong one counts against ``client``, and a
        client with too many raises TooManyLoginsError, whatever it sends."""
        self.throttle.check(client)
        if hmac.compare_digest(candidate.encode(), self._token):
            self.throttle.forget(client)
            return True
        self.throttle.fail(client)
        return False


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


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
        client = client_address(request)
        try:
            if not auth.is_token((form.get("token") or [""])[0].strip(), client):
                log.warning("web login refused client=%s", client)
                return render(request, error="That token is not right.", next=target, status_code=401)
        except TooManyLoginsError as error:
            log.warning("web login throttled client=%s", client)
            return _throttled_form(render, request, error, target)
        root = request.scope.get("root_path", "")
        if not is_local_path(target, root):
            target = route_path(request, "search")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, auth.sessions.open(), max_age=SESSION_SECONDS, path=root + "/",
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    @router.post("/logout", name="logout")
    def logout(request: Request) -> Response:
        auth.sessions.close(request.cookies.get(SESSION_COOKIE, ""))  # a copy of the cookie ends with it
        response = RedirectResponse(route_path(request, "login_form"), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path", "") + "/",
                               httponly=True, samesite="strict")
        return response

    return router


def _throttled_form(render: Callable[..., HTMLResponse], request: Request, error: TooManyLoginsError,
                    target: str) -> HTMLResponse:
    page = render(request, error=f"Too many wrong tokens from your address; try again in {error.retry_after} "
                                 "seconds.", next=target, status_code=429)
    page.headers["Retry-After"] = str(error.retry_after)
    return page
