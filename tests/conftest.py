"""Shared fixtures: the fixture HTTP server, settings, and databases (SQLite, PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from pipeline.settings import Settings
from tests.fixtureserver import FixtureServer
from tests.world import ARTICLES, write_feed_list

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
POSTGRES_URL = os.environ.get("NEWSWATCH_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pytest_collection_modifyitems(config, items) -> None:
    """Tiers: every test is in the full suite (`./dev test`); the fast tier (`./dev test
    fast`) leaves out what needs Airflow, a browser, PostgreSQL or ../shared/data, and
    whole-world runs through the CLI."""
    for item in items:
        path = Path(str(item.fspath)).relative_to(ROOT / "tests")
        if path.parts[0] in ("dags", "plugins") or path.name in ("test_dev_up.py", "test_celery.py"):
            item.add_marker(pytest.mark.airflow)
        if path.name == "test_browser.py":
            item.add_marker(pytest.mark.browser)
        if len(path.parts) == 1 and path.name not in ("test_readme.py", "test_lint.py", "conftest.py"):
            item.add_marker(pytest.mark.slow)
        if "shared_data" in item.fixturenames:
            item.add_marker(pytest.mark.shared_data)
        callspec = getattr(item, "callspec", None)
        uses_postgres = {"postgres_server", "postgres_url", "stored_worlds"} & set(item.fixturenames)
        if uses_postgres or (callspec is not None and "postgresql" in callspec.id.split("-")):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def server():
    """A fresh fixture server per test, so request counts belong to the test."""
    with FixtureServer() as running:
        yield running


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"third-party evaluation data not found at {SHARED_DATA}")
    return SHARED_DATA


def make_settings(tmp_path: Path, database_url: str | None = None, **overrides) -> Settings:
    """Settings for a test: no politeness delay, short timeouts, loopback allowed."""
    values = dict(
        data_dir=tmp_path / "data",
        database_url=database_url or f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}",
        feeds_path=tmp_path / "feeds.toml",
        baseline_dir=ROOT / "seeds" / "baseline",
        topics_path=ROOT / "seeds" / "topics.toml",
        allowed_private_hosts="127.0.0.1",
        host_delay=0, fetch_timeout=5, retry_backoff=0.05, fetch_retries=1,
    )
    values.update(overrides)
    return Settings.load(environ={}, **values)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's admin URL; skips (or, under CI, fails) when it is absent."""
    try:
        engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except OperationalError as error:
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}: {str(error.orig).strip()[:200]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must prove the production database)")
        pytest.skip(reason)
    return POSTGRES_URL


@contextmanager
def scratch_postgres(server: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database on ``server``, dropped afterwards."""
    name = f"newswatch_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(postgres_server: str):
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    with scratch_postgres(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def stored_worlds(tmp_path_factory, postgres_server):
    """The fixture world stored once per session in SQLite and in PostgreSQL, for tests that
    only read (search, the README's SQL, the web app): ({kind: engine}, {kind: {id: key}})."""
    from pipeline.cli import main
    tmp = tmp_path_factory.mktemp("search")
    with scratch_postgres(postgres_server) as postgres:
        urls = {"sqlite": f"sqlite:///{tmp / 'newswatch.db'}", "postgresql": postgres}
        with FixtureServer() as server, pytest.MonkeyPatch.context() as patch:
            feeds = write_feed_list(tmp / "feeds.toml", server)
            for key, value in {"NEWSWATCH_FEEDS": str(feeds), "NEWSWATCH_BASELINE": str(ROOT / "seeds/baseline"),
                               "NEWSWATCH_TOPICS": str(ROOT / "seeds/topics.toml"),
                               "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                               "NEWSWATCH_DATA_DIR": str(tmp)}.items():
                patch.setenv(key, value)
            for url in urls.values():
                patch.setenv("NEWSWATCH_DATABASE_URL", url)
                assert main(["init"]) == 0 and main(["run", "--no-alerts"]) == 0
            engines = {kind: create_engine(url) for kind, url in urls.items()}
            by_id = {kind: article_keys(engine, server.base) for kind, engine in engines.items()}
        yield engines, by_id
        for engine in engines.values():
            engine.dispose()


def article_keys(engine, base: str) -> dict[int, str]:
    """Article id → the fixture world's key (ids differ between the databases)."""
    keys = {a["canonical"]: a["key"] for a in ARTICLES}
    with engine.connect() as connection:
        rows = connection.execute(text("select id, canonical_url from articles")).all()
    return {row.id: keys.get(row.canonical_url.removeprefix(base + "/"), f"id {row.id}") for row in rows}
