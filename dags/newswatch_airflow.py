"""Airflow glue shared by newswatch's DAG files: settings for tasks, operators' failure alerts.

The DAG processor imports this at every parse, so it imports nothing heavy at module
level: the pipeline, SQLAlchemy and Apprise are imported inside the functions, when a
task runs. Not a DAG file itself (``.airflowignore`` keeps the processor from parsing it).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

OWNER = "newswatch"
CONNECTION_ID = "newswatch_db"
ARTICLES_URI = "newswatch://articles"
# Retries for transient failures (timeouts, 5xx, the database): 1, 2, 4 … minutes, at most 15.
RETRIES = dict(retries=3, retry_delay=timedelta(minutes=1), retry_exponential_backoff=2.0,
               max_retry_delay=timedelta(minutes=15))


def task_settings() -> Any:
    """newswatch's settings inside a task: the ``newswatch_db`` connection, when it exists,
    names the article database; otherwise ``NEWSWATCH_DATABASE_URL`` or the default does."""
    from pipeline.settings import Settings

    return Settings.load(database_url=connection_database_url())


def connection_database_url() -> str | None:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        connection = Connection.get(CONNECTION_ID)
    except AirflowNotFoundException:
        return None
    return database_url_from_connection(connection.conn_type, host=connection.host,
                                        port=connection.port, login=connection.login,
                                        password=connection.password, schema=connection.schema,
                                        extra=connection.extra_dejson)


def database_url_from_connection(conn_type: str | None, *, host: str | None = None,
                                 port: int | None = None, login: str | None = None,
                                 password: str | None = None, schema: str | None = None,
                                 extra: dict | None = None) -> str:
    """A SQLAlchemy URL from a connection's fields (``get_uri()`` says ``postgres://``,
    which SQLAlchemy refuses)."""
    from sqlalchemy.engine import URL

    from pipeline.errors import SettingsError

    kind = (conn_type or "").lower()
    if kind in ("postgres", "postgresql"):
        return URL.create("postgresql+psycopg", username=login or None, password=password or None,
                          host=host or None, port=port or None, database=schema or None,
                          query={key: str(value) for key, value in (extra or {}).items()}
                          ).render_as_string(hide_password=False)
    if kind == "sqlite":
        return f"sqlite:///{host or schema}"  # Airflow's SQLite connections keep the file path in host
    raise SettingsError(f"Airflow connection {CONNECTION_ID!r} is of type {conn_type!r}; "
                        "newswatch's article database is postgres or sqlite")


def notify_operators(context: dict[str, Any]) -> None:
    """Task failure callback: tell operators which DAG, task and feed failed, and why.

    Sent to ``NEWSWATCH_OPERATOR_ALERT_URLS`` (Apprise URLs); with none, only logged.
    """
    from pipeline.delivery import send_message
    from pipeline.settings import Settings

    ti = context["ti"]
    feed = getattr(ti, "rendered_map_index", None)
    error = context.get("exception")
    subject = f"feed {feed}" if feed else ti.task_id
    title = f"newswatch: {subject} failed in {ti.dag_id}"
    body = "\n".join([
        f"DAG: {ti.dag_id}", f"Run: {ti.run_id}",
        f"Task: {ti.task_id}" + (f" (feed {feed})" if feed else ""),
        f"Try: {getattr(ti, 'try_number', '?')}",
        f"Error: {type(error).__name__ + ': ' if error else ''}{error}",
        f"Log: {getattr(ti, 'log_url', '')}",
    ])
    log.error("%s\n%s", title, body)
    settings = Settings.load()
    if settings.operator_alert_urls:
        outcome = send_message(settings.operator_alert_urls, title, body, settings=settings, kind="failure")
        if not outcome.sent:
            log.error("operator alert not delivered: %s", outcome.error)


def keep_map_label_on_retry() -> None:
    """Make a try that Airflow will retry keep its task's label (``map_index_template``).

    Airflow 3.3.2's task runner sends the label as soon as a try starts, but reports a
    failed try that will be retried without it, and the API server then clears the label:
    a feed waiting for its retry showed only its index until its last try failed. Called
    at the start of a mapped task, in the task's process; it wraps the runner's failure
    step so the retry report carries the label the try already has. Does nothing where
    the runner has no such step (another Airflow version) or is wrapped already.
    """
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import RetryTask

    finalize = getattr(task_runner, "_finalize_task_failure", None)
    if finalize is None or getattr(finalize, "keeps_map_label", False):
        return

    def finalize_keeping_label(ti: Any, *args: Any, **kwargs: Any) -> Any:
        message, state = finalize(ti, *args, **kwargs)
        label = getattr(ti, "rendered_map_index", None)
        if isinstance(message, RetryTask) and message.rendered_map_index is None and label:
            message = message.model_copy(update={"rendered_map_index": label})
        return message, state

    finalize_keeping_label.keeps_map_label = True  # type: ignore[attr-defined]
    task_runner._finalize_task_failure = finalize_keeping_label
