"""The daily maintenance on SQLite and PostgreSQL: verdicts recorded, old polls pruned."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from pipeline.cli import main
from pipeline.maintenance import check_feed_health, health_counts, keep_house
from pipeline.models import FeedConfig
from pipeline.storage.engine import create_database_engine, migrate
from pipeline.storage.repository import PollRecord, Repository
from pipeline.storage.schema import Feed, MaintenanceRun, Poll
from tests.conftest import make_settings

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=timezone.utc)
FEEDS = (FeedConfig("steady", "http://a.test/feed", "A"), FeedConfig("dead", "http://b.test/feed", "B"),
         FeedConfig("quiet", "http://c.test/feed", "C"))


@pytest.fixture
def settings(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url, poll_retention="10d")
    engine = create_database_engine(settings.database_url)
    migrate(engine)
    repository = Repository(engine)
    states = repository.sync_feeds(FEEDS, NOW - timedelta(days=40))

    def poll(feed: str, at: datetime, status: str = "ok", new: int = 0, failures: int = 0) -> None:
        record = PollRecord(feed_id=states[feed].id, started_at=at, finished_at=at + timedelta(seconds=1),
                            status=status, next_poll_at=at + timedelta(minutes=15), failures=failures,
                            error="HTTP 503" if status == "error" else None, entries=new)
        repository.store_poll(record)
        if new:  # what a poll that brought entries leaves in the audit
            with engine.begin() as connection:
                connection.execute(Poll.__table__.update().where(Poll.started_at == at).values(new=new))

    for hours in range(24 * 20, 0, -3):  # every 3 h for 20 days, news each time
        poll("steady", NOW - timedelta(hours=hours), new=2)
        poll("quiet", NOW - timedelta(hours=hours), new=2 if hours > 24 * 4 else 0)
    for failures, hours in enumerate(range(30, 0, -1), start=1):  # a day and more of errors
        poll("dead", NOW - timedelta(hours=hours), "error", failures=failures)
    engine.dispose()
    return settings


def test_verdicts_are_recorded_and_old_polls_pruned(settings, capsys):
    verdicts = {v.feed: v for v in check_feed_health(settings, clock=lambda: NOW)}
    assert verdicts["steady"].status == "ok"
    assert verdicts["dead"].status == "failing" and "30 failed polls in a row" in verdicts["dead"].note
    assert verdicts["quiet"].status == "silent" and "usually every 3 h" in verdicts["quiet"].note
    counts = health_counts(list(verdicts.values()))
    assert counts == {"checked": 3, "failing": 1, "silent": 1, "unpolled": 0}

    engine = create_database_engine(settings.database_url)
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(Poll)).scalar_one()
    record = keep_house(settings, counts, clock=lambda: NOW)
    with engine.connect() as connection:
        after = connection.execute(select(func.count()).select_from(Poll)).scalar_one()
        oldest = connection.execute(select(func.min(Poll.started_at))).scalar_one()
        runs = connection.execute(select(MaintenanceRun)).all()
        health = dict(connection.execute(select(Feed.name, Feed.health)).all())
    engine.dispose()
    assert record.polls_pruned == before - after > 0
    assert oldest >= NOW - timedelta(days=10)
    assert len(runs) == 1 and runs[0].feeds_failing == 1 and runs[0].polls_pruned == record.polls_pruned
    assert health == {"steady": "ok", "dead": "failing", "quiet": "silent"}

    assert main(["feeds", "--database-url", settings.database_url]) == 0
    out = capsys.readouterr().out
    assert "failing" in out and "silent" in out and f"{record.polls_pruned} old polls pruned" in out


def test_each_feeds_latest_poll_survives_pruning(settings):
    keep_house(settings, {}, clock=lambda: NOW + timedelta(days=365))  # everything is old now
    engine = create_database_engine(settings.database_url)
    with engine.connect() as connection:
        remaining = connection.execute(select(Poll.feed_id)).scalars().all()
    engine.dispose()
    assert sorted(remaining) == sorted(set(remaining)) and len(remaining) == len(FEEDS)
