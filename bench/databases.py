"""A fresh PostgreSQL database for a benchmark, when the server is there."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

from sqlalchemy import create_engine, text

SERVER = os.environ.get("NEWSWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def fresh_postgres(name: str) -> str | None:
    """The URL of an empty database ``name`` (dropped first if it exists), or None when
    the server does not answer (the benchmark then reports SQLite only)."""
    try:
        engine = create_engine(SERVER, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - the bench reports and goes on without it
        print(f"(PostgreSQL skipped: {type(error).__name__})")
        return None
    return SERVER.rsplit("/", 1)[0] + "/" + name


def scratch_postgres(prefix: str) -> tuple[str, Callable[[], None]]:
    """A new database with a random name after ``prefix``: its URL, and how to drop it."""
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return make_url(SERVER).set(database=name).render_as_string(hide_password=False), drop
