"""A dead article database is exit 3 on every command and 503 on every web route, with a
message that names the problem and no traceback: every read goes through
``pipeline.storage.engine.storage_errors``.

The databases: a SQLite file whose folder cannot exist (its parent is a regular file: no
user can create it, root included, where an unreadable folder would not stop root), a
SQLite file in a folder that does not exist, a PostgreSQL URL on a closed port of
127.0.0.1, and a SQLite file at the newest revision whose tables are gone — it passes the
start-up check, so each command's and page's own reads meet the failure.
"""

from __future__ import annotations

import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from pipeline.cli import build_parser, main
from pipeline.settings import Settings
from pipeline.storage.engine import alembic_config
from pipeline.web import create_app
from pipeline.web.api import database
from tests.conftest import ROOT

TOKEN = "dead-database-token-0123456789"
DATABASES = ("sqlite-folder-is-a-file", "sqlite-no-folder", "postgres-closed-port", "sqlite-tables-gone")
PROBLEM = {  # what the message must say about each
    "sqlite-folder-is-a-file": r"Not a directory|unable to open database file",
    "sqlite-no-folder": r"not .*run `newswatch init`|unable to open database file",
    "postgres-closed-port": r"Connection refused",
    "sqlite-tables-gone": r"no such table",
}
COMMANDS = {  # every subcommand, each way it reads or writes the database
    "init": [], "run": ["--force"], "feeds": [], "maintain": [], "alerts": [], "alerts --retry": ["--retry", "1"],
    "alerts --deliver": ["--deliver"], "alerts --dry-run": ["--dry-run"], "stories": [], "show": ["1"],
    "search": ["Alaska"], "export jsonl": ["--format", "jsonl"], "export parquet": ["--format", "parquet"],
    "serve": [],
}


NOT_DEAD = {  # combinations where the database is not dead for the command
    ("init", "sqlite-no-folder"),  # init creates the folder and the database (tests/pipeline/test_cli.py)
    ("serve", "sqlite-tables-gone"),  # serve checks the revision only; its pages meet the failure (below)
}
CASES = [(command, kind) for command in COMMANDS for kind in DATABASES if (command, kind) not in NOT_DEAD]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # free once the probe is closed: nothing listens there


def dead_database(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite-folder-is-a-file":
        (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
        return f"sqlite:///{tmp_path / 'a-file' / 'sub' / 'newswatch.db'}"
    if kind == "sqlite-no-folder":
        return f"sqlite:///{tmp_path / 'nowhere' / 'newswatch.db'}"
    if kind == "postgres-closed-port":
        return f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/newswatch"
    head = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://"))).get_current_head()
    path = tmp_path / "tables-gone.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES (?)", (head,))
    connection.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Shared by the commands, so the topic classifiers are fitted once (data/cache)."""
    return tmp_path_factory.mktemp("dead-database-data")


def command_line(command: str, url: str, tmp_path: Path, data_dir: Path) -> list[str]:
    feeds = tmp_path / "feeds.toml"  # loopback only: nothing here may reach the internet
    feeds.write_text(f'[[feed]]\nname = "loop"\nurl = "http://127.0.0.1:{closed_port()}/feed.xml"\n'
                     'outlet = "Loop"\n', encoding="utf-8")
    extra = COMMANDS[command]
    if command == "export parquet":
        extra = [*extra, "--output", str(tmp_path / "out.parquet")]
    if command == "serve":
        extra = ["--port", str(closed_port())]
    return [command.split()[0], *extra, "--database-url", url, "--data-dir", str(data_dir),
            "--feeds", str(feeds), "--baseline", str(ROOT / "seeds" / "baseline"),
            "--topics", str(ROOT / "seeds" / "topics.toml"), "--web-token", TOKEN,
            "--allowed-private-hosts", "127.0.0.1", "--host-delay", "0", "--fetch-retries", "0"]


def test_the_cases_cover_every_subcommand():
    subcommands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert {command.split()[0] for command in COMMANDS} == set(subcommands)


@pytest.mark.parametrize("command, kind", CASES)
def test_every_command_exits_3_naming_the_problem(command, kind, tmp_path, data_dir, capsys):
    args = command_line(command, dead_database(kind, tmp_path), tmp_path, data_dir)
    if command == "serve":  # a process of its own: were the check to pass, it would serve forever
        done = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        code, out, err = done.returncode, done.stdout, done.stderr
    else:
        code = main(args)
        out, err = capsys.readouterr()
    assert code == 3, f"exit {code}\n{out}\n{err}"
    assert err.startswith("database error: ") and re.search(PROBLEM[kind], err), err
    assert "Traceback" not in out + err


def routes_reading_storage(app) -> list[str]:
    """Every route of the app that depends on the database (pages and API alike)."""
    def reads(dependant) -> bool:
        return any(d.call is database or reads(d) for d in dependant.dependencies)

    return sorted(re.sub(r"\{[^}]+\}", "1", route.path) for route in app.routes
                  if isinstance(route, APIRoute) and reads(route.dependant))


@pytest.mark.parametrize("kind", DATABASES)
def test_every_web_route_answers_503(kind, tmp_path, caplog):
    settings = Settings.load(environ={}, database_url=dead_database(kind, tmp_path), web_token=TOKEN,
                             data_dir=tmp_path / "data")
    app = create_app(settings)
    paths = routes_reading_storage(app)
    assert {"/", "/feeds", "/api/feeds", "/articles/1", "/api/stories/1"} <= set(paths), paths
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in paths:
            caplog.clear()
            answer = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 503, (path, answer.status_code, answer.text[:300])
            assert "the article database is not available" in answer.text and "Traceback" not in answer.text
            if path.startswith("/api/"):
                assert answer.json() == {"detail": "the article database is not available right now"}
            logged = [r.getMessage() for r in caplog.records if r.name == "pipeline.web.app"]
            assert any(re.search(PROBLEM[kind], line) for line in logged), (path, logged)


def test_no_code_opens_the_database_around_storage_errors():
    """The failures above stay covered for code yet to come: nothing in pipeline/ opens a
    connection, a transaction or a session except through ``storage_errors``."""
    opening = re.compile(r"\bwith\s+(Session\(|[\w.]+\.(connect|begin)\(\))")
    allowed = {"pipeline/storage/engine.py", "pipeline/storage/migrations/env.py"}  # the way in; Alembic's own
    sources = [path for path in sorted((ROOT / "pipeline").rglob("*.py"))
               if path.relative_to(ROOT).as_posix() not in allowed]
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}" for path in sources
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if opening.search(line)]
    assert not offenders, "open the database through storage_errors:\n" + "\n".join(offenders)
