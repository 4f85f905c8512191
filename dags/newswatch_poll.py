"""newswatch_poll: every 15 minutes, poll each due feed in a task of its own.

plan → poll_feed (mapped: one task per due feed, labelled with the feed's name; with more
due feeds than ``NEWSWATCH_POLL_TASKS``, one task per batch of feeds, labelled
``first-feed +N``) → summarize (always runs; says which feeds failed). A poll task that
stored new articles emits the ``newswatch://articles`` asset itself, when it ends, so the
alerts DAG does not wait for the slowest feed. Wiring only: the work is
``pipeline.polling``'s, imported when a task runs. XCom carries feed names and counts.

A feed that fails is a failed task with the reason in its log and in the database
(``newswatch feeds``); the other feeds carry on. Transient failures (timeouts, 5xx, the
database) are retried with exponential backoff; permanent ones (404, a malformed feed, a
refused address, 429 with its Retry-After) fail at once — the feed's own backoff decides
its next poll. A retry polls only the feeds of its batch that have not succeeded in this
run, and a feed's failures count once per run, not once per try. The run fails when
every feed failed or more than ``NEWSWATCH_POLL_FAILED_SHARE`` of them did.
Set ``NEWSWATCH_POLL_SCHEDULE`` (cron or preset) to poll on another schedule.
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
# The task's label, rendered before it runs: "cbc-world", or "cbc-world +7" for a batch.
FEEDS_LABEL = ("{{ task.op_kwargs['feeds'][0] }}{% if task.op_kwargs['feeds'] | length > 1 %}"
               " +{{ task.op_kwargs['feeds'] | length - 1 }}{% endif %}")


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
    def plan(*, params=None) -> list[list[str]]:
        """The feeds due now (their interval, stretched by backoff after failures), in batches."""
        from newswatch_airflow import task_settings
        from pipeline.polling import plan_polls

        return [list(batch) for batch in plan_polls(task_settings(), force=bool(params["force"])).batches]

    @task(map_index_template=FEEDS_LABEL, retry_policy=PERMANENT_FAILURES, outlets=[NEW_ARTICLES])
    def poll_feed(feeds: list[str], *, dag_run=None, outlet_events=None) -> list[dict[str, int | str]]:
        """Poll a feed (or a batch, one after the other) and store each one's new articles in
        a transaction of its own; announce them as soon as the task ends."""
        from newswatch_airflow import keep_map_label_on_retry, task_settings
        from pipeline.polling import poll_batch, raise_for_failures

        keep_map_label_on_retry()
        reports = poll_batch(task_settings(), feeds, run_started=dag_run.start_date)
        news = {r.feed: r.new for r in reports if r.new}
        if news:
            outlet_events[NEW_ARTICLES].add(ARTICLES, extra={"new": sum(news.values()), "feeds": news})
        raise_for_failures(reports)
        return [{"feed": r.feed, "status": r.status, "entries": r.entries, "new": r.new,
                 "duplicates": r.duplicates, "known": r.known, "errors": r.errors, "versions": r.versions}
                for r in reports]

    @task(trigger_rule="all_done")
    def summarize(planned: list[list[str]], results, *, dag_run=None, ti=None) -> dict[str, int]:
        """Sum the feeds' counts; fail the run when too many of its feeds failed."""
        from airflow.sdk.exceptions import AirflowFailException

        from newswatch_airflow import task_settings
        from pipeline.polling import run_outcome

        settings = task_settings()
        done = [r for batch in results for r in batch]  # the tasks that succeeded (a failed one leaves no XCom)
        outcome = run_outcome(settings, [name for batch in planned for name in batch],
                              run_started=dag_run.start_date)
        totals = {key: sum(int(r.get(key, 0)) for r in done)
                  for key in ("entries", "new", "duplicates", "errors", "versions")}
        totals.update(feeds=outcome.planned, failed=len(outcome.failed),
                      not_modified=sum(r["status"] == "not_modified" for r in done))
        log.info("newswatch_poll: %s", ", ".join(f"{key} {value}" for key, value in totals.items()))
        if outcome.failed:
            log.warning("%s", outcome.note())
            ti.xcom_push(key="run_note", value=outcome.note())  # the run's note (plugins/newswatch.py)
        if outcome.is_failure(settings.poll_failed_share):
            raise AirflowFailException(f"{len(outcome.failed)} of {outcome.planned} feeds failed (more than "
                                       f"NEWSWATCH_POLL_FAILED_SHARE={settings.poll_failed_share:g})")
        return totals

    planned = plan()
    summarize(planned, poll_feed.expand(feeds=planned))


newswatch_poll()
