"""newswatch_maintenance: daily feed health and database housekeeping.

feed_health records a verdict on every feed (failing since its last poll, malformed, silent
for much longer than usual, not polled), as each poll also does for its own feed and
``newswatch feeds`` does as it reads; housekeeping prunes poll audit
rows older than ``NEWSWATCH_POLL_RETENTION`` (each feed's latest is kept), refreshes the
planner's statistics (SQLite ``PRAGMA optimize``, PostgreSQL ``ANALYZE``) and records
the run. Wiring only: the work is ``pipeline.maintenance``'s.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from airflow.sdk import dag, task

from newswatch_airflow import OWNER, RETRIES, notify_operators

log = logging.getLogger(__name__)


@dag(
    schedule="@daily",
    start_date=datetime(2025, 8, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["newswatch", "maintenance"],
    default_args={"owner": OWNER, "on_failure_callback": notify_operators, **RETRIES},
    doc_md=__doc__,
)
def newswatch_maintenance():
    @task
    def feed_health() -> dict[str, int]:
        from newswatch_airflow import task_settings
        from pipeline.maintenance import check_feed_health, health_counts

        verdicts = check_feed_health(task_settings())
        for verdict in verdicts:
            if verdict.status not in ("ok", "new", "disabled"):
                log.warning("feed %s: %s — %s", verdict.feed, verdict.status, verdict.note)
        return health_counts(verdicts)

    @task
    def housekeeping(health: dict[str, int]) -> dict[str, int]:
        from newswatch_airflow import task_settings
        from pipeline.maintenance import keep_house

        record = keep_house(task_settings(), health)
        return {"polls_pruned": record.polls_pruned, **health}

    housekeeping(feed_health())


newswatch_maintenance()
