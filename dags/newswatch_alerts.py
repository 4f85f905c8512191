"""newswatch_alerts: send recipients the alerts and digests the polls queued.

Runs when a ``newswatch_poll`` task announces new articles (the ``newswatch://articles``
asset, emitted by each feed's poll task as it ends) and every 5 minutes as a safety net,
which sends digests when their window closes, retries failed sends when their backoff is
over, and sends whatever else is due. Neither kind of run holds a new alert back: a
feed's articles join their stories when its poll commits, whatever order the feeds
commit in, so an alert is final when it is queued. Wiring only: the work is
``pipeline.dispatch``'s; the outbox in the article database decides what is due, so a
retried or repeated run never sends a story twice.

Recipients' alerts go to each rule's URLs or ``NEWSWATCH_ALERT_URLS``. When an alert
fails for good (after ``NEWSWATCH_ALERT_ATTEMPTS`` tries) the task fails without retry,
and operators hear of it through their own channel (``NEWSWATCH_OPERATOR_ALERT_URLS``).
Set ``NEWSWATCH_ALERTS_SCHEDULE`` (cron) to change the safety net's schedule.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from newswatch_airflow import ARTICLES_URI, OWNER, RETRIES, notify_operators

log = logging.getLogger(__name__)


@dag(
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(os.environ.get("NEWSWATCH_ALERTS_SCHEDULE", "*/5 * * * *"),
                                       timezone="UTC"),
        assets=Asset(uri=ARTICLES_URI, name="newswatch_articles")),
    start_date=datetime(2025, 8, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["newswatch", "alerts"],
    default_args={"owner": OWNER, "on_failure_callback": notify_operators, **RETRIES},
    params={"dry_run": Param(False, type="boolean", description="Compose what is due and log it; send nothing")},
    doc_md=__doc__,
)
def newswatch_alerts():
    @task
    def deliver(*, params=None) -> dict[str, int]:
        """Claim what is due, send it through Apprise, mark it; failures wait for their retry."""
        from airflow.sdk.exceptions import AirflowFailException

        from newswatch_airflow import task_settings
        from pipeline.dispatch import deliver_alerts

        report = deliver_alerts(task_settings(), dry_run=bool(params["dry_run"]))
        for message in report.previews:
            log.info("would send: %s\n%s", message.title, message.body)
        counts = {"sent": report.sent, "retrying": report.retrying, "failed": report.failed,
                  "held": report.held, "previewed": len(report.previews)}
        log.info("alerts: %s", counts)
        if report.failed:
            raise AirflowFailException(f"{report.failed} alert(s) failed for good; "
                                       "see `newswatch alerts --state failed`")
        return counts

    deliver()


newswatch_alerts()
