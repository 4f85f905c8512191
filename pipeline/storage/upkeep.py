"""The database side of feed health and the daily maintenance: feed activity, verdicts, housekeeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, insert, or_, select, text, true, update

from pipeline.health import HISTORY, RHYTHM_POLLS, BodyRead, FeedActivity, FeedHealth, assess_feed
from pipeline.storage.engine import storage_errors
from pipeline.storage.schema import Feed, MaintenanceRun, Poll


@dataclass(frozen=True)
class MaintenanceRecord:
    started_at: datetime
    finished_at: datetime
    feeds_checked: int
    feeds_failing: int
    feeds_silent: int
    feeds_unpolled: int
    polls_pruned: int
    statistics_refreshed: bool


def feed_activity(engine: Engine, now: datetime, window: timedelta = HISTORY) -> list[FeedActivity]:
    """Every feed's state, its polls in the last day, its polls that brought entries within
    ``window``, and its last poll that got a body."""
    with storage_errors(engine.connect) as connection:
        return activity_of(connection, now, window)


def assess_feeds(engine: Engine, now: datetime) -> dict[str, FeedHealth]:
    """Every feed's health as of now, by feed name (what people read; nothing is written)."""
    return {activity.name: assess_feed(activity, now) for activity in feed_activity(engine, now)}


def activity_of(connection: Connection, now: datetime, window: timedelta = HISTORY,
                feed_id: int | None = None) -> list[FeedActivity]:
    """As ``feed_activity``, on a connection, for every feed or for one. A few indexed
    look-ups per feed (its polls by time), never a scan of the poll history."""
    feeds = connection.execute(select(Feed).where(Feed.id == feed_id if feed_id is not None else true())
                               .order_by(Feed.name)).all()
    return [_activity(connection, feed, now, now - window) for feed in feeds]


# Built once: a look-up per feed then costs its execution, not the building of a statement.
_LAST_DAY = select(func.count()).where(Poll.feed_id == bindparam("feed"), Poll.started_at >= bindparam("day_ago"))
_ACTIVE = (select(Poll.started_at).where(Poll.feed_id == bindparam("feed"), Poll.started_at >= bindparam("since"),
                                         Poll.new + Poll.duplicates > 0)
           .order_by(Poll.started_at.desc()).limit(RHYTHM_POLLS))
_LAST_READ = (select(Poll.finished_at, Poll.status, Poll.error).where(  # the last poll that got a body
    Poll.feed_id == bindparam("feed"),
    or_(Poll.status == "ok", and_(Poll.status == "error", Poll.http_status.between(200, 299))))
    .order_by(Poll.started_at.desc()).limit(1))


def _activity(connection: Connection, feed: Any, now: datetime, since: datetime) -> FeedActivity:
    last_day = connection.execute(_LAST_DAY, {"feed": feed.id, "day_ago": now - timedelta(days=1)}).scalar_one()
    active = connection.execute(_ACTIVE, {"feed": feed.id, "since": since}).scalars().all()
    read = connection.execute(_LAST_READ, {"feed": feed.id}).first()
    return FeedActivity(
        name=feed.name, enabled=feed.enabled, interval=feed.interval_seconds, last_polled_at=feed.last_polled_at,
        last_success_at=feed.last_success_at, consecutive_failures=feed.consecutive_failures,
        polls_last_day=last_day, active_polls=tuple(reversed(active)), last_status=feed.last_status,
        last_read=BodyRead(read.finished_at, read.status == "ok", read.error) if read else None)


def record_health(engine: Engine, verdicts: Sequence[FeedHealth], now: datetime) -> None:
    with storage_errors(engine.begin) as connection:
        for verdict in verdicts:
            connection.execute(update(Feed).where(Feed.name == verdict.feed).values(
                health=verdict.status, health_note=verdict.note, health_checked_at=now))


def record_poll_health(connection: Connection, feed_id: int, now: datetime) -> None:
    """Record one feed's verdict after its poll, in the poll's transaction."""
    for activity in activity_of(connection, now, feed_id=feed_id):
        verdict = assess_feed(activity, now)
        connection.execute(update(Feed).where(Feed.id == feed_id).values(
            health=verdict.status, health_note=verdict.note, health_checked_at=now))


def prune_polls(engine: Engine, before: datetime) -> int:
    """Delete poll audit rows older than ``before``, keeping each feed's latest poll."""
    latest = select(func.max(Poll.id)).group_by(Poll.feed_id).scalar_subquery()
    with storage_errors(engine.begin) as connection:
        result = connection.execute(delete(Poll).where(Poll.started_at < before, Poll.id.not_in(latest)))
    return result.rowcount or 0


def refresh_statistics(engine: Engine) -> None:
    """Let the query planner see the tables as they are now."""
    statement = "PRAGMA optimize" if engine.dialect.name == "sqlite" else "ANALYZE"
    with storage_errors(engine.begin) as connection:
        connection.execute(text(statement))


def record_maintenance(engine: Engine, record: MaintenanceRecord) -> None:
    with storage_errors(engine.begin) as connection:
        connection.execute(insert(MaintenanceRun).values(**record.__dict__))


def last_maintenance(engine: Engine) -> MaintenanceRecord | None:
    with storage_errors(engine.connect) as connection:
        row = connection.execute(select(MaintenanceRun).order_by(MaintenanceRun.id.desc()).limit(1)).first()
    if row is None:
        return None
    return MaintenanceRecord(**{key: getattr(row, key) for key in MaintenanceRecord.__dataclass_fields__})
