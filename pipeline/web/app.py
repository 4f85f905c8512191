"""The analyst web app: search, articles, stories, coverage, feeds and alerts, as HTML pages
and as a JSON API, over a read-only engine.

``create_app`` builds it for ``newswatch serve`` (standalone, token login) or for a host
that mounts it under a prefix (the Airflow plugin, with its own ``authenticate``). Every
link is built from the request, so the prefix never appears in the code. The app never
writes to the article database and never serves script: its Content-Security-Policy
allows none. Every answer carries the security headers, errors included (even the 500
of an unforeseen exception: they are added outside Starlette's error middleware), and
the OpenAPI schema is behind the same check as the API.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.errors import SettingsError, StorageError
from pipeline.settings import Settings
from pipeline.storage.engine import create_database_engine
from pipeline.web import api, pages
from pipeline.web.auth import (
    Authenticate,
    LoginRequiredError,
    LoginURL,
    TokenAuth,
    TooManyLoginsError,
    login_router,
)

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
}


def create_app(settings: Settings, *, authenticate: Authenticate | None = None,
               login_url: LoginURL | None = None, engine: Engine | None = None) -> FastAPI:
    """The app over ``settings.database_url``, opened read-only.

    Without ``authenticate``, the token in ``settings.web_token`` guards it (required:
    SettingsError naming NEWSWATCH_WEB_TOKEN otherwise), with a login form for browsers.
    A host's own ``authenticate`` may come with ``login_url`` (where to send browsers
    without a session); without one they get 401 like programs do.
    """
    token_auth: TokenAuth | None = None
    if authenticate is None:
        if not settings.web_token:
            raise SettingsError("NEWSWATCH_WEB_TOKEN is not set: the web app needs a token "
                                "(at least 16 characters) to let anyone in")
        authenticate = token_auth = TokenAuth(settings.web_token)
        login_url = _login_page
    engine = engine or create_database_engine(settings.database_url, read_only=True)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        engine.dispose()

    app = SecuredFastAPI(title="newswatch", summary="The analyst app: search and read the article database.",
                         version="1", openapi_url=None, docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.engine = engine
    app.state.show_logout = token_auth is not None
    _add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    if token_auth is not None:
        app.include_router(login_router(token_auth, pages.render_login))
    reader = Depends(_guard(authenticate, None))
    app.add_api_route("/openapi.json", openapi_schema, methods=["GET"], include_in_schema=False,
                      dependencies=[reader])
    app.include_router(api.router, prefix="/api", dependencies=[reader])
    app.include_router(pages.router, dependencies=[Depends(_guard(authenticate, login_url))])
    return app


def healthz() -> dict[str, str]:
    return {"status": "ok"}


def openapi_schema(request: Request) -> JSONResponse:
    """The API's OpenAPI schema, with the mount prefix (if any) as its server."""
    schema = request.app.openapi()
    root = request.scope.get("root_path", "").rstrip("/")
    return JSONResponse({**schema, "servers": [{"url": root}]} if root else schema)


class SecuredFastAPI(FastAPI):
    """FastAPI whose every answer carries ``SECURITY_HEADERS``. Starlette answers an
    unhandled exception's 500 from its outermost middleware, past any middleware added
    with ``app.middleware``; these headers are added outside even that one."""

    def build_middleware_stack(self) -> ASGIApp:
        return _with_security_headers(super().build_middleware_stack())


def _with_security_headers(app: ASGIApp) -> ASGIApp:
    async def secured(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith(("text/html", "application/json")):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await app(scope, receive, send_secured)

    return secured


def _login_page(request: Request) -> str:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return pages.path_for({"request": request}, "login_form", query={"next": path})


def _guard(authenticate: Authenticate, login_url: LoginURL | None):
    """A dependency refusing requests ``authenticate`` does not accept: 401 for programs,
    a redirect to the login page for browsers (when there is one)."""
    def require_reader(request: Request) -> None:
        if authenticate(request):
            return
        if login_url is not None and not request.headers.get("authorization"):
            raise LoginRequiredError(login_url(request))
        raise StarletteHTTPException(401, "authentication required: Authorization: Bearer <token>",
                                     headers={"WWW-Authenticate": "Bearer"})

    return require_reader


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(request.scope.get("root_path", "") + "/api/")


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequiredError)
    async def to_login(request: Request, error: LoginRequiredError) -> Response:
        return RedirectResponse(error.login_url, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        return _error(request, error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
        return _error(request, 422, problems or "invalid request")

    @app.exception_handler(TooManyLoginsError)
    async def throttled(request: Request, error: TooManyLoginsError) -> Response:
        return _error(request, 429, str(error), {"Retry-After": str(error.retry_after)})

    @app.exception_handler(StorageError)
    async def storage(request: Request, error: StorageError) -> Response:
        log.error("web storage error path=%s: %s", request.url.path, error)
        return _error(request, 503, "the article database is not available right now")


def _error(request: Request, status: int, detail: str, headers: dict[str, Any] | None = None) -> Response:
    if _is_api(request) or status == 401:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    page = pages.render(request, "error.html", status, status=status, detail=detail)
    page.headers.update(headers or {})
    return page
