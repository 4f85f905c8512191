"""What feed health costs now that it follows every poll: per poll, and per read.

A database of ``--feeds`` feeds with ``--days`` days of polls every 15 minutes (one in
five brought entries; the poll retention's worth, 30 days by default), on SQLite and on
PostgreSQL. Reported, as the median of repeated runs: storing one 304 poll with its
verdict (what every poll pays, commit included), the verdict alone (its queries and its
update, without a commit), and assessing every feed as
`newswatch feeds`, /feeds and /api/feeds do when they are read.

    .venv/bin/python bench/health.py [--feeds 200] [--days 30] [--database sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=timezone.utc)


def fill(engine, feeds: int, days: int) -> list[int]:
    """The feeds and their polls; the feed ids."""
    from sqlalchemy import insert

    from pipeline.models import FeedConfig
    from pipeline.storage.repository import Repository
    from pipeline.storage.schema import Poll

    states = Repository(engine).sync_feeds([FeedConfig(f"feed-{i}", f"http://h{i}.test/f", "O")
                                            for i in range(feeds)], NOW - timedelta(days=days))
    ids = [state.id for state in states.values()]
    polls = days * 96
    with engine.begin() as connection:
        for feed_id in ids:
            connection.execute(insert(Poll), [{
                "feed_id": feed_id, "started_at": NOW - timedelta(minutes=15 * n),
                "finished_at": NOW - timedelta(minutes=15 * n) + timedelta(seconds=1), "duration_ms": 1000,
                "status": "ok" if n % 5 == 0 else "not_modified", "http_status": 200 if n % 5 == 0 else 304,
                "entries": 20, "new": 2 if n % 5 == 0 else 0, "duplicates": 0, "known": 18, "errors": 0,
                "deferred": 0} for n in range(polls, 0, -1)])
    return ids


def median_ms(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(kind: str, url: str, feeds: int, days: int) -> list[tuple]:
    from pipeline.storage.engine import create_database_engine, migrate
    from pipeline.storage.queries import feed_health
    from pipeline.storage.repository import PollRecord, Repository
    from pipeline.storage.upkeep import record_poll_health

    engine = create_database_engine(url)
    migrate(engine)
    ids = fill(engine, feeds, days)
    repository = Repository(engine)
    moments = iter(NOW + timedelta(seconds=n) for n in range(1, 10_000))

    def store_304() -> None:
        at = next(moments)
        repository.store_poll(PollRecord(feed_id=ids[len(ids) // 2], started_at=at, finished_at=at,
                                         status="not_modified", next_poll_at=at + timedelta(minutes=15),
                                         failures=0, http_status=304))

    def verdict_only() -> None:  # as inside a poll's transaction: no commit of its own
        with engine.connect() as connection:
            record_poll_health(connection, ids[len(ids) // 3], NOW)
            connection.rollback()

    rows = [(kind, "store one 304 poll, with its verdict", median_ms(store_304, 200)),
            (kind, "its verdict alone (no commit)", median_ms(verdict_only, 200)),
            (kind, f"assess all {feeds} feeds (newswatch feeds)", median_ms(lambda: feed_health(engine, NOW), 5))]
    engine.dispose()
    return rows


def postgres_database():
    from bench.databases import scratch_postgres

    return scratch_postgres("newswatch_health")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--database", default="sqlite,postgresql")
    args = parser.parse_args()
    rows = []
    for kind in args.database.split(","):
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                rows += measure(kind, f"sqlite:///{Path(tmp) / 'health.db'}", args.feeds, args.days)
        else:
            url, drop = postgres_database()
            try:
                rows += measure(kind, url, args.feeds, args.days)
            finally:
                drop()
    print(f"feed health: {args.feeds} feeds, {args.days} days of polls every 15 min "
          f"({args.feeds * args.days * 96:,} polls)")
    print(f"{'database':<11} {'what':<42} {'median ms':>10}")
    for kind, what, ms in rows:
        print(f"{kind:<11} {what:<42} {ms:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
