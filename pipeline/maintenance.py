"""The daily maintenance: feed health verdicts, then database housekeeping.

Health: which feeds are failing, malformed, silent for much longer than usual, or were
not polled at all (``pipeline.health`` decides; the verdicts are stored on the feeds, as
each poll also does for its feed, and ``newswatch feeds`` assesses them afresh).
Housekeeping: poll audit rows older than the retention are pruned (each feed's latest
poll is kept), the boilerplate memory forgets paragraphs unseen for
``pipeline.boilerplate.RECENT``, and the planner's statistics are refreshed.
Each run is recorded in ``maintenance_runs``.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from pipeline.boilerplate import RECENT
from pipeline.health import FeedHealth, assess_feed
from pipeline.run import Clock, utcnow
from pipeline.settings import Settings
from pipeline.storage.boilerplate import forget_paragraphs
from pipeline.storage.engine import open_database
from pipeline.storage.upkeep import (
    MaintenanceRecord,
    feed_activity,
    prune_polls,
    record_health,
    record_maintenance,
    refresh_statistics,
)

log = logging.getLogger(__name__)


def check_feed_health(settings: Settings, *, clock: Clock = utcnow) -> list[FeedHealth]:
    """Assess every feed and record the verdicts."""
    with open_database(settings.database_url) as engine:
        now = clock()
        activity = feed_activity(engine, now, timedelta(seconds=settings.poll_retention))
        verdicts = [assess_feed(feed, now) for feed in activity]
        record_health(engine, verdicts, now)
    return verdicts


def health_counts(verdicts: list[FeedHealth]) -> dict[str, int]:
    """How many feeds got each verdict (what an Airflow task passes on)."""
    counts = Counter(verdict.status for verdict in verdicts)
    return {"checked": len(verdicts), **{status: counts[status] for status in ("failing", "silent", "unpolled")}}


def keep_house(settings: Settings, health: dict[str, int], *, clock: Clock = utcnow) -> MaintenanceRecord:
    """Prune old poll audit rows and forgotten paragraphs, refresh statistics, and record
    this maintenance run."""
    started = clock()
    with open_database(settings.database_url) as engine:
        pruned = prune_polls(engine, started - timedelta(seconds=settings.poll_retention))
        forgotten = forget_paragraphs(engine, started - RECENT)
        log.info("maintenance polls_pruned=%d paragraphs_forgotten=%d", pruned, forgotten)
        refresh_statistics(engine)
        record = MaintenanceRecord(
            started_at=started, finished_at=clock(), feeds_checked=health.get("checked", 0),
            feeds_failing=health.get("failing", 0), feeds_silent=health.get("silent", 0),
            feeds_unpolled=health.get("unpolled", 0), polls_pruned=pruned, statistics_refreshed=True)
        record_maintenance(engine, record)
    return record
