"""newswatch_poll: every 15 minutes, poll each due feed in a task of its own.

plan → poll_feed (mapped, one task per due feed, labelled with the feed's name)
→ summarize (always runs; emits the ``newswatch://articles`` asset when new articles
arrived, with the counts in the event's extra). Wiring only: the work is
``pipeline.run``'s, imported when a task runs. XCom carries feed names and counts.

A feed that fails is a failed task with the reason in its log and in the database
(``newswatch feeds``); the other feeds and the summary carry on. Transient failures
(timeouts, 5xx, the database) are retried with exponential backoff; permanent ones
(404, a malformed feed, a refused address, 429 with its Retry-After) fail at once — the
feed's own backoff decides its next poll. Set ``NEWSWATCH_POLL_SCHEDULE`` (cron or
preset) to poll on another schedule.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone

from airflow.sdk import Asset, AssetAlias, ExceptionRetryPolicy, Param, RetryAction, RetryRule, dag, task

from newswatch_airflow import ARTICLES_URI, OWNER, RETRIES, notify_operators

log = logging.getLogger(__name__)
ARTICLES = Asset(uri=ARTICLES_URI, name="newswatch_articles")
NEW_ARTICLES = AssetAlias("newswatch_new_articles")  # an event only when there is news
PERMANENT_FAILURES = ExceptionRetryPolicy(rules=[RetryRule(
    exception="pipeline.errors.PermanentFeedError", action=RetryAction.FAIL,
    reason="not worth retrying this cycle; the feed's backoff decides its next poll")])


@dag(
    schedule=os.environ.get("NEWSWATCH_POLL_SCHEDULE", "*/15 * * * *"),
    start_date=datetime(2025, 8, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["newswatch", "ingest"],
    default_args={"owner": OWNER, "on_failure_callback": notify_operators, **RETRIES},
    params={"force": Param(False, type="boolean",
                           description="Poll every enabled feed now, due or not")},
    doc_md=__doc__,
)
def newswatch_poll():
    @task
    def plan(*, params=None) -> list[str]:
        """The feeds due now: their interval, stretched by backoff after failures."""
        from newswatch_airflow import task_settings
        from pipeline.run import plan_cycle

        return plan_cycle(task_settings(), force=bool(params["force"]))

    @task(map_index_template="{{ task.op_kwargs['feed'] }}", retry_policy=PERMANENT_FAILURES)
    def poll_feed(feed: str) -> dict[str, int | str]:
        """Poll one feed, fetch and store its new articles (one transaction)."""
        from newswatch_airflow import task_settings
        from pipeline.run import poll_one

        report = poll_one(task_settings(), feed)
        report.raise_for_failure()
        return {"feed": feed, "status": report.status, "entries": report.entries, "new": report.new,
                "duplicates": report.duplicates, "known": report.known, "errors": report.errors,
                "versions": report.versions}

    @task(trigger_rule="all_done", outlets=[NEW_ARTICLES])
    def summarize(planned: list[str], results, *, outlet_events=None) -> dict[str, int]:
        """Sum the feeds' counts; announce new articles to the DAGs scheduled on them."""
        done = list(results)  # the polls that succeeded (a failed task leaves no XCom)
        totals = {key: sum(int(r.get(key, 0)) for r in done)
                  for key in ("entries", "new", "duplicates", "errors", "versions")}
        totals.update(feeds=len(planned), failed=len(planned) - len(done),
                      not_modified=sum(r["status"] == "not_modified" for r in done))
        log.info("newswatch_poll: %s", ", ".join(f"{key} {value}" for key, value in totals.items()))
        if totals["new"]:
            outlet_events[NEW_ARTICLES].add(ARTICLES, extra=totals)
        return totals

    planned = plan()
    summarize(planned, poll_feed.expand(feed=planned))


newswatch_poll()
