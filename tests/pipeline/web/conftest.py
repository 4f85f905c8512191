"""The analyst app over the fixture world, built once per database (SQLite, PostgreSQL).

The world is what the pipeline makes of the fixture feeds: ``newswatch init`` and
``newswatch run`` against the real fixture server, plus a failing feed, alerts whose
target is down (so they carry failed attempts), a second version of article "v", and
the hostile records of ``hostile.py``. Building it takes seconds, so it is shared by
every test of a session; tests only read it (the app's engine is read-only anyway).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from pipeline.cli import main
from pipeline.web import create_app
from tests.conftest import ROOT, make_settings, scratch_postgres
from tests.fixtureserver import FixtureServer
from tests.pipeline.web.hostile import insert_hostile
from tests.world import article, write_feed_list

TOKEN = "test-token-0123456789abcdef"


@dataclass(frozen=True)
class World:
    database_url: str
    base: str  # the fixture server's address, as stored URLs begin
    hostile: dict[str, int]
    engine: Engine  # a writable engine, for the tests' own reads

    def article_id(self, key: str) -> int:
        canonical = f"{self.base}/{article(key)['canonical']}"
        with self.engine.connect() as connection:
            return connection.execute(text("select id from articles where canonical_url = :c"),
                                      {"c": canonical}).scalar_one()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _build(tmp: Path, database_url: str) -> World:
    with FixtureServer() as server:
        feeds = write_feed_list(tmp / "feeds.toml", server)
        with feeds.open("a", encoding="utf-8") as handle:
            handle.write(f'[[feed]]\nname = "fault-500"\nurl = "{server.url("fault/500")}"\n'
                         'outlet = "Faults"\nlanguage = "en"\n')
        common = ["--database-url", database_url, "--baseline", str(ROOT / "seeds" / "baseline"),
                  "--topics", str(ROOT / "seeds" / "topics.toml"), "--data-dir", str(tmp / "data")]
        run = [*common, "--feeds", str(feeds), "--allowed-private-hosts", "127.0.0.1", "--host-delay", "0",
               "--fetch-retries", "0", "--recheck-first", "0",
               "--alert-urls", f"json://127.0.0.1:{_free_port()}/down"]  # nobody listens: attempts fail
        assert main(["init", *common]) == 0
        assert main(["run", *run]) == 0
        versioned = article("v")
        server.replaced[f"/{versioned['path']}"] = server.root / versioned["v2_path"]
        assert main(["run", *run, "--force"]) == 0
        base = server.base
    engine = create_engine(database_url)
    return World(database_url=database_url, base=base, hostile=insert_hostile(engine), engine=engine)


@pytest.fixture(scope="session")
def sqlite_world(tmp_path_factory) -> World:
    tmp = tmp_path_factory.mktemp("web-sqlite")
    world = _build(tmp, f"sqlite:///{tmp / 'data' / 'newswatch.db'}")
    yield world
    world.engine.dispose()


@pytest.fixture(scope="session")
def postgres_world(tmp_path_factory, postgres_server) -> World:
    with scratch_postgres(postgres_server) as url:
        world = _build(tmp_path_factory.mktemp("web-postgres"), url)
        yield world
        world.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request) -> World:
    """The fixture world on SQLite, then on PostgreSQL."""
    return request.getfixturevalue("sqlite_world" if request.param == "sqlite" else "postgres_world")


@pytest.fixture
def settings(world, tmp_path):
    return make_settings(tmp_path, world.database_url, web_token=TOKEN)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(app) -> TestClient:
    """A program with the token."""
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


@pytest.fixture
def anonymous(app) -> TestClient:
    with TestClient(app, follow_redirects=False) as client:
        yield client
