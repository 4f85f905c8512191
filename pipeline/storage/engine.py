"""Engines for the article database, and its migrations (Alembic).

SQLite gets WAL, a busy timeout and foreign keys on every connection, so several
processes (Airflow's mapped tasks) can write one file; PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from pipeline.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIN_SQLITE = (3, 35, 0)  # RETURNING and ON CONFLICT DO NOTHING without a target
T = TypeVar("T")  # what storage_errors opens: a Connection or a Session


def create_database_engine(url: str, *, read_only: bool = False, connections: int | None = None) -> Engine:
    """An engine for ``url``; for SQLite, its folder is created and the pragmas set.

    ``connections``: how many threads will use it at once (the pool keeps that many,
    and as many again for a moment's need); by default SQLAlchemy's five.
    ``read_only`` engines cannot write, whatever the code using them does: PostgreSQL
    sessions start with ``default_transaction_read_only``, SQLite files are opened with
    ``mode=ro`` and ``query_only`` set.
    """
    parsed = make_url(url)
    pool = {"pool_size": connections, "max_overflow": connections} if connections else {}
    if parsed.get_backend_name() != "sqlite":
        connect_args = {"options": "-c default_transaction_read_only=on"} if read_only else {}
        return create_engine(url, pool_pre_ping=True, future=True, connect_args=connect_args, **pool)
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StorageError(f"SQLite {sqlite3.sqlite_version} is too old; newswatch needs 3.35 or newer")
    database = parsed.database or ""
    is_file = database not in ("", ":memory:")
    if is_file and not read_only:
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"the article database is unreachable: cannot create the folder of {database}: "
                               f"{error.strerror or error}") from None
    if is_file and read_only and not database.startswith("file:"):
        # A URI filename, so SQLite itself opens the file read-only (and never creates it).
        parsed = parsed.set(database=f"file:{quote(str(Path(database).absolute()))}",
                            query={**parsed.query, "mode": "ro", "uri": "true"})
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **pool)

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL" if not read_only else "PRAGMA query_only=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it. Safe to run again."""
    try:
        command.upgrade(alembic_config(engine), "head")
        return current_revision(engine) or ""
    except SQLAlchemyError as error:
        raise StorageError(f"cannot migrate the article database: {short_error(error)}") from None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_database(engine: Engine) -> None:
    """Raise StorageError unless the database answers and is at the newest revision."""
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as error:
        raise StorageError(f"the article database is unreachable: {short_error(error)}") from None
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    if revision != head:
        raise StorageError(f"the article database is at revision {revision or 'none'}, "
                           f"not {head}: run `newswatch init`")


def short_error(error: SQLAlchemyError) -> str:
    """The driver's first line, without SQLAlchemy's statement dump."""
    orig = getattr(error, "orig", None)
    return str(orig if orig is not None else error).strip().splitlines()[0]


@contextmanager
def open_database(url: str, *, connections: int | None = None) -> Iterator[Engine]:
    """An engine for a migrated article database, disposed of afterwards."""
    engine = create_database_engine(url, connections=connections)
    try:
        check_database(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def storage_errors(opener: Callable[[], AbstractContextManager[T]]) -> Iterator[T]:
    """The one way into the article database: open a connection, a transaction or a session
    (``engine.connect``, ``engine.begin``, ``partial(Session, engine)``) and use it; any driver
    error, on opening or on use, becomes StorageError (exit 3 in the CLI, 503 in the web app)."""
    try:
        with opener() as connection:
            yield connection
    except SQLAlchemyError as error:
        raise StorageError(f"article database: {short_error(error)}") from error


def upsert_insert(bind: Connection | Engine, table: Any):
    """An INSERT into ``table`` (a Table or a mapped class) that offers ``on_conflict_do_nothing``
    and ``on_conflict_do_update`` on ``bind``'s database: both dialects spell ON CONFLICT
    alike, through classes of their own."""
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
