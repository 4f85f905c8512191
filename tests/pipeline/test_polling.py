"""A poll run as Airflow runs it: the plan in batches, a batch's polls and retries, failures
counted once per run, and what the run came to."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.cli import main
from pipeline.errors import PermanentFeedError, TransientFeedError
from pipeline.models import FeedConfig
from pipeline.polling import batch_feeds, batch_label, plan_polls, poll_batch, raise_for_failures, run_outcome
from pipeline.run import poll_one
from pipeline.storage.engine import open_database
from pipeline.storage.repository import Repository
from tests.conftest import make_settings
from tests.world import FEEDS, write_feed_list


@pytest.fixture
def settings(tmp_path, server):
    write_feed_list(tmp_path / "feeds.toml", server, faults=True)
    settings = make_settings(tmp_path, fetch_timeout=2, fetch_retries=0)
    assert main(["init", "--database-url", settings.database_url,
                 "--baseline", str(settings.baseline_dir)]) == 0
    return settings


def state(settings, name: str):
    with open_database(settings.database_url) as engine:
        return Repository(engine).feed_states([name])[name]


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_a_feed_failing_every_try_of_a_run_counts_one_failure_per_run(settings, tmp_path, server):
    first_run = now()
    for _ in range(4):  # Airflow's first try and three retries
        poll_one(settings, "fault-500", run_started=first_run)
    assert state(settings, "fault-500").consecutive_failures == 1
    backoff = state(settings, "fault-500").next_poll_at - state(settings, "fault-500").last_polled_at
    assert backoff <= timedelta(seconds=2 * 900 + 1)  # one failure: twice the interval, not 16 times

    second_run = now()
    poll_one(settings, "fault-500", run_started=second_run)
    poll_one(settings, "fault-500", run_started=second_run)
    assert state(settings, "fault-500").consecutive_failures == 2
    poll_one(settings, "fault-500")  # `newswatch run` and other callers without a run: every poll counts
    assert state(settings, "fault-500").consecutive_failures == 3

    # The feed's server recovers (same feed, a good address now): one success resets the count.
    feeds = (tmp_path / "feeds.toml").read_text()
    (tmp_path / "feeds.toml").write_text(feeds.replace(server.url("fault/500"), server.url(FEEDS[0]["path"])))
    assert poll_one(settings, "fault-500", run_started=now()).status == "ok"
    assert state(settings, "fault-500").consecutive_failures == 0


def test_batches_cover_every_feed_within_the_task_limit_with_a_hosts_feeds_together():
    feeds = [FeedConfig(name=f"feed-{n:04d}", url=f"http://host{n % 37}.example/{n}.xml", outlet="O")
             for n in range(1100)]
    assert batch_feeds(feeds[:200], 256) == tuple((f.name,) for f in feeds[:200])
    batches = batch_feeds(feeds, 1024)
    assert len(batches) <= 1024 and max(map(len, batches)) == 2
    assert sorted(n for b in batches for n in b) == sorted(f.name for f in feeds)
    batches = batch_feeds(feeds, 37)
    hosts = [{int(name[5:]) % 37 for name in batch} for batch in batches]
    assert len(batches) == 37 and all(len(h) <= 2 for h in hosts)  # a host's feeds sit together
    assert batch_label(["cbc-world"]) == "cbc-world" and batch_label(["a", "b", "c"]) == "a +2"


def test_plan_says_how_many_feeds_are_due_and_when_the_next_one_is(settings, caplog):
    with caplog.at_level(logging.INFO, logger="pipeline.polling"):
        everything = plan_polls(settings)
    assert everything.due == everything.enabled and everything.next_due is None
    poll_one(settings, "cbc-world")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pipeline.polling"):
        later = plan_polls(settings)
    assert later.due == everything.due - 1
    assert later.next_due == state(settings, "cbc-world").next_poll_at
    assert f"{later.due} of {later.enabled} enabled feeds due" in caplog.text
    assert f"due at {later.next_due:%Y-%m-%d %H:%M:%S}Z" in caplog.text
    small = plan_polls(dataclasses.replace(settings, poll_tasks=3), force=True)
    assert len(small.batches) == 3 and small.due == small.enabled
    assert "in 3 tasks of up to" in small.describe()


def test_a_failing_feed_in_a_batch_costs_its_siblings_nothing_and_a_retry_redoes_only_it(settings, server):
    batch = [FEEDS[0]["name"], "fault-500", FEEDS[1]["name"], "fault-malformed"]
    run = now()
    reports = poll_batch(settings, batch, run_started=run)
    assert {r.feed: r.status for r in reports} == {FEEDS[0]["name"]: "ok", "fault-500": "error",
                                                   FEEDS[1]["name"]: "ok", "fault-malformed": "error"}
    with pytest.raises(TransientFeedError, match="2 of 4 feeds of the batch: .*fault-500.*HTTP 500"):
        raise_for_failures(reports)
    server.reset_counts()
    retried = poll_batch(settings, batch, run_started=run)  # Airflow's retry of the same task
    assert sorted(r.feed for r in retried) == ["fault-500", "fault-malformed"]
    assert server.count("/feeds/") == 0 and server.count("/fault/") == 2
    assert state(settings, "fault-500").consecutive_failures == 1
    outcome = run_outcome(settings, batch + [FEEDS[2]["name"]], run_started=run)
    assert [name for name, _ in outcome.failed] == ["fault-500", "fault-malformed", FEEDS[2]["name"]]
    assert dict(outcome.failed)[FEEDS[2]["name"]] == "not polled in this run"
    assert "HTTP 500" in dict(outcome.failed)["fault-500"]
    assert "**3 of 5 feeds failed**" in outcome.note() and outcome.is_failure(0.5)
    assert not outcome.is_failure(0.6)
    with pytest.raises(PermanentFeedError, match="fault-malformed"):
        raise_for_failures([r for r in retried if r.feed == "fault-malformed"])


def test_a_run_fails_when_all_its_feeds_failed_or_more_than_the_share(settings):
    run = now()
    poll_batch(settings, ["fault-500", "fault-malformed"], run_started=run)
    every = run_outcome(settings, ["fault-500", "fault-malformed"], run_started=run)
    assert every.is_failure(1.0)  # all failed: fails whatever the share
    poll_batch(settings, [f["name"] for f in FEEDS[:3]], run_started=run)
    one_of_four = run_outcome(settings, ["fault-500"] + [f["name"] for f in FEEDS[:3]], run_started=run)
    assert not one_of_four.is_failure(0.5) and one_of_four.is_failure(0.2)
    assert run_outcome(settings, [], run_started=run).is_failure(0.0) is False


def test_a_retry_of_the_same_run_takes_over_the_claims_its_dead_try_left(settings, server):
    """A worker killed mid-poll leaves its claims behind; the task's retry (same run) fetches
    those pages at once, where another run leaves them to the claim's expiry."""
    import httpx

    from pipeline.claim import poll_owner
    from pipeline.feeds import parse_feed
    from pipeline.storage.claims import claim_urls

    name, url = FEEDS[0]["name"], server.url(FEEDS[0]["path"])
    entries = parse_feed(httpx.get(url).content, feed=name, url=url).entries
    run = now()
    with open_database(settings.database_url) as engine:
        assert len(claim_urls(engine, [e.url for e in entries], poll_owner(name, run), now())) == len(entries)

    other = poll_one(settings, name, run_started=run + timedelta(minutes=15))
    assert (other.new, other.deferred) == (0, len(entries))
    retry = poll_one(settings, name, run_started=run)
    assert retry.new + retry.duplicates == len(entries) and retry.deferred == 0
