"""The database side of the daily maintenance: feed activity, health verdicts, housekeeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select, text, update

from pipeline.health import FeedActivity, FeedHealth
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


def feed_activity(engine: Engine, now: datetime, window: timedelta) -> list[FeedActivity]:
    """Every feed's state, its polls in the last day, and its polls that brought entries."""
    day_ago, since = now - timedelta(days=1), now - window
    with storage_errors(engine.connect) as connection:
        feeds = connection.execute(select(Feed).order_by(Feed.name)).all()
        recent = dict(connection.execute(select(Poll.feed_id, func.count()).where(
            Poll.started_at >= day_ago).group_by(Poll.feed_id)).all())
        active: dict[int, list[datetime]] = {}
        for feed_id, started in connection.execute(
                select(Poll.feed_id, Poll.started_at).where(
                    Poll.started_at >= since, Poll.new + Poll.duplicates > 0)
                .order_by(Poll.feed_id, Poll.started_at)):
            active.setdefault(feed_id, []).append(started)
    return [FeedActivity(
        name=f.name, enabled=f.enabled, interval=f.interval_seconds, last_polled_at=f.last_polled_at,
        last_success_at=f.last_success_at, consecutive_failures=f.consecutive_failures,
        polls_last_day=recent.get(f.id, 0), active_polls=tuple(active.get(f.id, ())))
        for f in feeds]


def record_health(engine: Engine, verdicts: Sequence[FeedHealth], now: datetime) -> None:
    with storage_errors(engine.begin) as connection:
        for verdict in verdicts:
            connection.execute(update(Feed).where(Feed.name == verdict.feed).values(
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
