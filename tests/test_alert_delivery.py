"""Delivery when things go wrong, against real receivers: a webhook answering 500, one that
is down, a deliverer that dies between sending and marking, two deliverers at once.

The guarantee (``pipeline.storage.outbox``): an alert is queued once per rule and story;
it is delivered at least once to every target, retried with exponential backoff up to
``NEWSWATCH_ALERT_ATTEMPTS`` and then marked failed with the error. A deliverer that dies
after sending leaves a claim that goes stale after ten minutes, and the alert is sent
again with the same idempotency key, so a receiver can drop the repeat.
"""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select, text

import pipeline.dispatch
from pipeline.cli import main
from pipeline.dispatch import deliver_alerts
from pipeline.settings import Settings
from pipeline.storage.engine import open_database
from pipeline.storage.outbox import CLAIM_TIMEOUT, claim
from pipeline.storage.schema import Alert
from tests.receiver import WebhookReceiver, flood, redirect, trickle_headers
from tests.world import ARTICLES, write_feed_list

SUMMIT_STORIES = {a["story"] for a in ARTICLES if a["summit"]}
CLOCK = {"start": datetime.now(timezone.utc)}  # reset when the alerts are queued


def at(seconds: float):
    """A clock ``seconds`` after the alerts were queued."""
    return lambda: CLOCK["start"] + timedelta(seconds=seconds)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def keys(receiver: WebhookReceiver, status: int | None = None) -> list[str]:
    return [d["idempotency_key"] for d in receiver.documents(status)]


def rows(database_url: str, sql: str) -> list[dict]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(text(sql))]
    finally:
        engine.dispose()


@pytest.fixture
def queued(monkeypatch, tmp_path, server, request):
    """The fixture world polled, its alerts queued and not yet delivered."""
    database_url = request.getfixturevalue(getattr(request, "param", "sqlite_url"))
    for key, value in {"NEWSWATCH_DATABASE_URL": database_url,
                       "NEWSWATCH_FEEDS": str(write_feed_list(tmp_path / "feeds.toml", server)),
                       "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                       "NEWSWATCH_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(key, value)
    assert main(["init"]) == 0 and main(["run", "--no-alerts"]) == 0
    CLOCK["start"] = datetime.now(timezone.utc)
    return database_url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}"


def settings(*urls: str, **overrides) -> Settings:
    return Settings.load(alert_urls=",".join(urls), alert_backoff=60, **overrides)


@pytest.mark.parametrize("misbehaving, reason", [
    ("redirect", "receiver redirected to http://127.0.0.2:"),
    ("flood", "error=500"),
    ("trickle", "no complete answer within 1 s (NEWSWATCH_DELIVERY_TIMEOUT); cut off"),
])
def test_a_misbehaving_receiver_leaves_each_alert_to_retry_with_the_reason(queued, misbehaving, reason):
    """A receiver redirecting to an address we refuse (the cloud's metadata service, in
    production), flooding 1 GiB of error, or trickling its headers: nothing is marked sent."""
    with WebhookReceiver(host="127.0.0.2") as metadata, WebhookReceiver() as receiver:
        receiver.answer = {"redirect": redirect(302, f"http://{metadata.address}/latest/meta-data/iam/"),
                           "flood": flood(1024 ** 3), "trickle": trickle_headers(0.5)}[misbehaving]
        report = deliver_alerts(settings(receiver.url, delivery_timeout=1), clock=at(0))
    assert (report.sent, report.retrying) == (0, len(SUMMIT_STORIES))
    waiting = rows(queued, "select * from alerts where sequence = 0 and state != 'merged'")
    assert {(r["state"], r["attempts"]) for r in waiting} == {("pending", 1)}
    assert all(reason in r["last_error"] for r in waiting)
    assert len(receiver.posts) == len(SUMMIT_STORIES) and metadata.posts == []


def test_a_failing_receiver_is_retried_with_backoff_and_gets_each_alert_once(queued):
    with WebhookReceiver() as receiver:
        receiver.status = 500
        first = deliver_alerts(settings(receiver.url), clock=at(0))
        assert (first.sent, first.retrying) == (0, len(SUMMIT_STORIES))
        waiting = rows(queued, "select * from alerts where sequence = 0 and state != 'merged'")
        assert {r["state"] for r in waiting} == {"pending"} and {r["attempts"] for r in waiting} == {1}
        assert all("500" in r["last_error"] and "json://127.0.0.1" in r["last_error"] for r in waiting)
        # Not before the backoff is over, even though the receiver is healthy again.
        receiver.status = 200
        assert deliver_alerts(settings(receiver.url), clock=at(30)).sent == 0
        second = deliver_alerts(settings(receiver.url), clock=at(61))
        assert second.sent == len(SUMMIT_STORIES)
        assert deliver_alerts(settings(receiver.url), clock=at(1800)).sent == 0  # digests come at 3600
    delivered = keys(receiver, 200)
    assert len(delivered) == len(set(delivered)) == len(SUMMIT_STORIES)
    assert sorted(keys(receiver, 500)) == sorted(delivered)  # the same alerts, tried once before
    attempts = rows(queued, "select alert_id, ok, error from alert_attempts order by id")
    assert [a["ok"] for a in attempts] == [False] * len(SUMMIT_STORIES) + [True] * len(SUMMIT_STORIES)
    sent = rows(queued, "select state, attempts, last_error from alerts where sequence = 0 and state != 'merged'")
    assert all(r == {"state": "sent", "attempts": 2, "last_error": None} for r in sent)


def test_a_receiver_down_throughout_leaves_the_alert_failed_with_its_error(queued, capsys):
    port = free_port()
    down = f"json://127.0.0.1:{port}/hook"
    with WebhookReceiver() as healthy:
        articles_before = rows(queued, "select count(*) as n from articles")[0]["n"]
        for second in (0, 61, 61 + 121):  # backoff 60 s, then 120 s; three attempts allowed
            report = deliver_alerts(settings(down, healthy.url, alert_attempts=3), clock=at(second))
        assert report.failed == len(SUMMIT_STORIES)
        failed = rows(queued, "select * from alerts where state = 'failed'")
        assert len(failed) == len(SUMMIT_STORIES)
        for alert in failed:
            assert alert["attempts"] == 3
            assert f"json://127.0.0.1:{port}/" in alert["last_error"] and "Connection" in alert["last_error"]
        # The healthy target had each alert once: retries went only where it failed.
        assert sorted(keys(healthy)) == sorted(a["idempotency_key"] for a in failed)
        assert rows(queued, "select count(*) as n from articles")[0]["n"] == articles_before
        capsys.readouterr()
        assert main(["alerts", "--state", "failed"]) == 0
        assert "Connection" in capsys.readouterr().out

        # The receiver comes back; an operator re-queues one alert, and only it goes, only there.
        with WebhookReceiver(port) as revived:
            assert main(["alerts", "--retry", str(failed[0]["id"])]) == 0
            report = deliver_alerts(settings(down, healthy.url, alert_attempts=3), clock=at(400))
            assert report.sent == 1
            assert keys(revived) == [failed[0]["idempotency_key"]]
        assert len(keys(healthy)) == len(failed)


@pytest.mark.parametrize("queued", ["sqlite_url", "postgres_url"], indirect=True)
def test_a_crash_between_sending_and_marking_resends_with_the_same_key(queued, monkeypatch):
    real = pipeline.dispatch.record_attempt

    def die_after_sending(engine, alert_id, now, **kwargs):
        if kwargs["state"] == "sent":
            raise SystemExit("deliverer killed after the send, before marking it")
        return real(engine, alert_id, now, **kwargs)

    with WebhookReceiver() as receiver:
        monkeypatch.setattr(pipeline.dispatch, "record_attempt", die_after_sending)
        with pytest.raises(SystemExit):
            deliver_alerts(settings(receiver.url), clock=at(0))
        monkeypatch.setattr(pipeline.dispatch, "record_attempt", real)
        [crashed] = rows(queued, "select * from alerts where state = 'sending'")
        assert keys(receiver) == [crashed["idempotency_key"]]
        # Another deliverer soon after: the claim is fresh, so the crashed alert waits.
        soon = deliver_alerts(settings(receiver.url), clock=at(60))
        assert soon.sent == len(SUMMIT_STORIES) - 1
        assert keys(receiver).count(crashed["idempotency_key"]) == 1
        # Once the claim is stale, it is sent again — the same key, so the receiver can tell.
        late = deliver_alerts(settings(receiver.url), clock=at(CLAIM_TIMEOUT.total_seconds() + 1))
        assert late.sent == 1
    assert keys(receiver).count(crashed["idempotency_key"]) == 2
    assert len(set(keys(receiver))) == len(SUMMIT_STORIES)
    assert {r["state"] for r in rows(queued, "select state from alerts where sequence = 0")} <= {"sent", "merged"}


@pytest.mark.parametrize("queued", ["postgres_url"], indirect=True)
def test_two_deliverers_at_once_send_each_alert_once(queued):
    with open_database(queued) as engine:
        [first_id] = [r["id"] for r in rows(queued,
                                            "select id from alerts where state = 'pending' order by id limit 1")]
        assert claim(engine, first_id, at(0)()) is True
        assert claim(engine, first_id, at(0)()) is False  # taken, and not stale
    with WebhookReceiver() as receiver:
        reports = []
        barrier = threading.Barrier(2)

        def deliverer():
            barrier.wait()
            reports.append(deliver_alerts(settings(receiver.url), clock=at(1)))

        threads = [threading.Thread(target=deliverer) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(r.sent for r in reports) == len(SUMMIT_STORIES) - 1  # the claimed one waits
    assert len(keys(receiver)) == len(set(keys(receiver))) == len(SUMMIT_STORIES) - 1


SETTLE = timedelta(minutes=20)  # a second deliverer that holds young alerts back (deliver_alerts' ``settled``)


@pytest.mark.parametrize("queued", ["sqlite_url", "postgres_url"], indirect=True)
def test_a_slow_receiver_leaves_no_stale_claim_for_the_safety_net_to_send_again(queued):
    """The receiver takes nine minutes per alert (a fake clock: eighteen alerts held for the
    30 s delivery timeout take as long). Each claim and each mark carries its own time, so the
    safety net's timer run, coming while the last alert is out, finds that claim fresh."""
    now = {"t": at(0)()}
    nets = []
    with WebhookReceiver() as receiver:
        def slow(post: dict) -> None:
            now["t"] += timedelta(minutes=9)
            if len(receiver.posts) == len(SUMMIT_STORIES) and not nets:
                nets.append("running")
                nets.append(deliver_alerts(settings(receiver.url), clock=lambda: now["t"], settled=SETTLE))

        receiver.on_post = slow
        report = deliver_alerts(settings(receiver.url), clock=lambda: now["t"])
    assert report.sent == len(SUMMIT_STORIES) and nets[1].sent == 0
    assert len(keys(receiver)) == len(set(keys(receiver))) == len(SUMMIT_STORIES)
    with open_database(queued) as engine, engine.connect() as connection:
        sent = connection.execute(select(Alert.claimed_at, Alert.sent_at).where(Alert.state == "sent")
                                  .order_by(Alert.sent_at)).all()
    minutes = [[round((moment - at(0)()).total_seconds() / 60) for moment in row] for row in sent]
    assert minutes == [[9 * n, 9 * (n + 1)] for n in range(len(SUMMIT_STORIES))]
