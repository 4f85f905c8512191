"""Two `newswatch run` processes at once on one database: each page fetched once, each
article stored once, nothing lost (what one run left to the other, a later run finds stored)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import ROOT, article_keys
from tests.world import write_feed_list

NEWSWATCH = str(Path(sys.executable).parent / "newswatch")


def run(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([NEWSWATCH, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return out


def test_two_runs_at_once_fetch_each_page_once_and_store_each_article_once(tmp_path, server, database_url):
    env = {**os.environ, "NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
           "NEWSWATCH_FEEDS": str(write_feed_list(tmp_path / "feeds.toml", server)),
           "NEWSWATCH_BASELINE": str(ROOT / "seeds" / "baseline"),
           "NEWSWATCH_TOPICS": str(ROOT / "seeds" / "topics.toml"),
           "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_FETCH_RETRIES": "0",
           # Spaced requests (shared by both runs through the database) keep the runs side by side.
           "NEWSWATCH_HOST_DELAY": "0.2"}
    finish(run(env, "init"))
    first, second = run(env, "run", "--no-alerts"), run(env, "run", "--no-alerts")
    finish(first), finish(second)

    pages = {path: n for path, n in server.requests.items() if not path.startswith("/feeds/") and path != "/robots.txt"}
    assert pages and {path: n for path, n in pages.items() if n > 1} == {}
    assert all(server.requests[path] == 2 for path in server.requests if path.startswith("/feeds/"))
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            notes = connection.execute(
                text("select error from polls where error like '%another poll%'")).scalars().all()
        assert notes, "the two runs never overlapped: nothing was left to the other"
        keys = sorted(article_keys(engine, server.base).values())
        assert keys and len(keys) == len(set(keys))

        # What the second run left to the first is stored: a third run finds nothing new to fetch.
        server.reset_counts()
        finish(run({**env, "NEWSWATCH_HOST_DELAY": "0"}, "run", "--force", "--no-alerts"))
        assert {path for path in server.requests if not path.startswith("/feeds/")} <= {"/robots.txt"}
        assert sorted(article_keys(engine, server.base).values()) == keys
    finally:
        engine.dispose()
