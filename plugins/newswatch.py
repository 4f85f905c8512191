"""The Airflow plugin: newswatch's analyst app inside Airflow's API server.

Mounts ``pipeline.web`` at ``/newswatch`` and adds "newswatch" to Airflow's navigation.
Airflow does not guard plugin apps, so the app checks Airflow's own credentials itself:
the JWT that Airflow's UI keeps in its ``_token`` cookie, or an ``Authorization: Bearer``
token from ``/auth/token``; browsers without one are sent to Airflow's login page.

The article database comes from the ``newswatch_db`` connection when it exists (as for
the DAGs' tasks), else from ``NEWSWATCH_DATABASE_URL`` (or its default); the app opens
it read-only. The app is built at its first request, not when Airflow imports plugins:
every Airflow command imports them, some in the middle of their own database session,
which a connection lookup here would close under them (`airflow dags reserialize` failed
so). A configuration error does not stop Airflow: ``/newswatch`` answers 503 with the
reason.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/newswatch"


def is_airflow_user(request: Any) -> bool:
    """Whether the request carries a valid Airflow token (bearer header first, as Airflow's
    own API does, then the UI's cookie). Runs in FastAPI's thread pool: the auth manager's
    check is a coroutine, so it is run on the event loop from here."""
    import anyio.from_thread
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from jwt import InvalidTokenError

    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        return False
    try:
        anyio.from_thread.run(get_auth_manager().get_user_from_token, token)
    except InvalidTokenError:
        return False
    return True


def airflow_login_url(request: Any) -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=str(request.url))


def article_database_url() -> str | None:
    """The ``newswatch_db`` connection's URL, when Airflow has that connection."""
    from airflow.models.connection import Connection
    from airflow.exceptions import AirflowNotFoundException

    try:
        connection = Connection.get_connection_from_secrets("newswatch_db")
    except AirflowNotFoundException:
        return None
    from newswatch_airflow import database_url_from_connection  # dags/, on Airflow's path

    return database_url_from_connection(connection.conn_type, host=connection.host, port=connection.port,
                                        login=connection.login, password=connection.password,
                                        schema=connection.schema, extra=connection.extra_dejson)


def build_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from pipeline.errors import NewswatchError
    from pipeline.settings import Settings
    from pipeline.web.app import create_app

    try:
        settings = Settings.load(database_url=article_database_url())
        return create_app(settings, authenticate=is_airflow_user, login_url=airflow_login_url)
    except (NewswatchError, ImportError) as error:
        log.error("newswatch plugin: the analyst app is not available: %s", error)
        unavailable = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        reason = f"newswatch is not configured: {error}"
        unavailable.add_api_route("/{path:path}", lambda path="": PlainTextResponse(reason, status_code=503))
        return unavailable


class AnalystApp:
    """An ASGI app that builds the real one (``build_app``) when the first request comes."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.app is None:
            import anyio.to_thread

            built = await anyio.to_thread.run_sync(build_app)  # reads a connection: not on the loop
            self.app = self.app or built
        await self.app(scope, receive, send)


class RunNotes:
    """A listener in the scheduler: when a ``newswatch_poll`` run ends, its note (shown on the
    run in Airflow's UI) says which feeds failed and why — what ``summarize`` pushed as the
    XCom ``run_note``. Tasks cannot write notes themselves (they have no metadata database);
    the scheduler, which ends the run, can, in the same transaction."""

    POLL_DAG = "newswatch_poll"

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self.annotate(dag_run)

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self.annotate(dag_run)

    def annotate(self, dag_run: Any) -> None:
        if dag_run.dag_id != self.POLL_DAG:
            return
        try:
            from airflow.models.dagrun import DagRun
            from airflow.utils.session import create_session
            from sqlalchemy.orm import object_session

            session = object_session(dag_run)
            if session is not None:  # the scheduler's: the note commits with the run's state
                self.write_note(session, dag_run)
                return
            with create_session() as own:  # a run not attached to a session (dag.test())
                self.write_note(own, own.get(DagRun, dag_run.id))
        except Exception:  # noqa: BLE001 — a note is never worth failing the scheduler's loop
            log.exception("newswatch: could not write the note of %s", dag_run.run_id)

    @staticmethod
    def write_note(session: Any, dag_run: Any) -> None:
        from airflow.models.xcom import XComModel
        from sqlalchemy import select

        value = session.scalar(select(XComModel.value).where(
            XComModel.dag_run_id == dag_run.id, XComModel.task_id == "summarize", XComModel.key == "run_note"))
        if value is None or dag_run.note:
            return
        note = XComModel.deserialize_value(type("Stored", (), {"value": value}))
        if isinstance(note, str) and note:
            dag_run.note = note[:1000]


class NewswatchPlugin(AirflowPlugin):
    name = "newswatch"
    listeners = [RunNotes()]
    fastapi_apps = [{"app": AnalystApp(), "url_prefix": URL_PREFIX, "name": "newswatch analyst app"}]
    external_views = [{
        "name": "newswatch", "href": URL_PREFIX.lstrip("/") + "/", "url_route": "newswatch",
        "destination": "nav", "nav_top_level": True,
    }]
