"""newswatch_alerts: send recipients the alerts and digests the polls queued.

Runs when ``newswatch_poll`` announces new articles (the ``newswatch://articles`` asset)
and every 5 minutes as a safety net, which sends digests when their window closes, retries
failed sends when their backoff is over, and sends new alerts only once they are 20
minutes old (the poll's own run sends them first; a timer run in the middle of a poll
would otherwise alert on half-clustered stories). Wiring only: the work is
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
from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from newswatch_airflow import ARTICLES_URI, OWNER, RETRIES, notify_operators

log = logging.getLogger(__name__)
SETTLE = timedelta(minutes=20)  # longer than a poll run takes


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
    def deliver(*, params=None, dag_run=None) -> dict[str, int]:
        """Claim what is due, send it through Apprise, mark it; failures wait for their retry."""
        from airflow.sdk.exceptions import AirflowFailException

        from newswatch_airflow import task_settings
        from pipeline.dispatch import deliver_alerts

        settled = timedelta(0)
        if dag_run is not None and dag_run.run_type == "scheduled":
            # The timer's run may fall in the middle of a poll: it sends digests, retries and
            # news the poll's own (asset-triggered) run missed, not alerts the poll is still making.
            settled = SETTLE
        report = deliver_alerts(task_settings(), dry_run=bool(params["dry_run"]), settled=settled)
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
