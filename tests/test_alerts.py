"""Alerts end to end, delivered for real: a JSON webhook receiver and an SMTP server on
127.0.0.1, the fixture feeds through `newswatch run`, on SQLite and PostgreSQL.

The world's summit stories (the Alaska summit, the White House talks, the contest to host
a trilateral summit and the Kremlin's denial) are each alerted exactly once; traps and
other war coverage never; follow-up
coverage arrives as one digest per story and window; near-duplicates and new versions
stay silent; re-runs send nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select, text

from pipeline.cli import main
from pipeline.dispatch import deliver_alerts
from pipeline.settings import Settings
from pipeline.storage.schema import Alert
from pipeline.tables import delivery_line
from tests.conftest import ROOT
from tests.mailbox import Mailbox
from tests.receiver import WebhookReceiver
from tests.world import ARTICLES, FEEDS, article, write_feed_list

SUMMIT_STORIES = {a["story"] for a in ARTICLES if a["summit"]}
LATE_FEEDS = {"vedomosti", "alpenpost"}  # left out of the first poll: their coverage comes later


def world_key(server, url: str) -> dict:
    return next(a for a in ARTICLES if server.url(a["canonical"]) == url)


@pytest.fixture
def alerting(monkeypatch, tmp_path, server, database_url):
    """The world's feeds but the late ones, the receiver and mailbox subscribed."""
    with WebhookReceiver() as receiver, Mailbox() as mailbox:
        feeds = write_feed_list(tmp_path / "feeds.toml", server)
        early = tmp_path / "early.toml"
        early.write_text("\n\n".join(block for block in feeds.read_text().split("\n\n")
                                     if block.strip() and not any(f'name = "{n}"' in block for n in LATE_FEEDS)),
                         encoding="utf-8")
        for key, value in {"NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_FEEDS": str(early),
                           "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                           "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
                           "NEWSWATCH_ALERT_URLS": f"{receiver.url},{mailbox.url}",
                           "NEWSWATCH_WEB_URL": "http://newswatch.example.test/newswatch",
                           "NEWSWATCH_RECHECK_FIRST": "0"}.items():
            monkeypatch.setenv(key, value)
        assert main(["init"]) == 0
        engine = create_engine(database_url)
        yield server, receiver, mailbox, engine, feeds
        engine.dispose()


def rows(engine, sql: str, **params) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(text(sql), params)]


def test_each_summit_story_alerts_once_with_why_and_follow_ups_come_as_digests(alerting, monkeypatch, capsys):
    server, receiver, mailbox, engine, feeds = alerting
    assert main(["run"]) == 0
    first = receiver.documents()
    assert [d["kind"] for d in first] == ["alert"] * len(first)
    alerted = [world_key(server, d["article"]["url"]) for d in first]
    # Every summit story once, nothing else: no trap, no other war coverage.
    assert sorted(a["story"] for a in alerted) == sorted(SUMMIT_STORIES)
    assert all(a["summit"] for a in alerted)
    assert len({d["idempotency_key"] for d in first}) == len(first)
    # The e-mail carries the same alerts as readable text.
    assert len(mailbox.messages) == len(first)
    for document, mail, body in zip(first, mailbox.messages, mailbox.bodies()):
        item = document["article"]
        assert mail["Subject"].startswith("newswatch: ") and item["title"] in mail["Subject"]
        assert f"[{item['language']}] {item['title']}" in body
        assert item["url"] in body and item["outlet"] in body
        assert f"http://newswatch.example.test/newswatch/articles/{item['id']}" in body
        assert f"Alert id: {document['idempotency_key']}" in body
        score = document["topic_scores"]["summit"]  # how sure the learned topic is, and the terms
        assert score >= 0.6 and f"summit ({score:.2f}" in body
        assert f"Baseline similarity {item['baseline_similarity']:.2f}" in body
        assert document["story"]["article_count"] >= 1 and document["story"]["languages"]
    # The chat text is in the webhook body too.
    assert all("Why: " in post["body"]["message"] for post in receiver.posts)

    # A re-run and another delivery send nothing.
    assert main(["run"]) == 0 and main(["alerts", "--deliver"]) == 0
    assert len(receiver.posts) == len(first) and len(mailbox.messages) == len(first)

    # Later coverage: the late feeds join the stories, and a changed page makes a version.
    item = article("v")
    server.replaced[f"/{item['path']}"] = server.root / item["v2_path"]
    monkeypatch.setenv("NEWSWATCH_FEEDS", str(feeds))
    alerts_before = rows(engine, "select id from alerts where sequence = 0")
    assert main(["run", "--force"]) == 0
    assert rows(engine, "select id from alerts where sequence = 0") == alerts_before  # no new alert
    assert rows(engine, "select version from articles where canonical_url = :u",
                u=server.url(item["canonical"]))[0]["version"] == 2
    assert len(receiver.posts) == len(first)  # digests wait for their window to close
    pending = rows(engine, "select * from alerts where sequence > 0 and state = 'pending'")
    assert pending and len({(p["rule"], p["story_id"], p["sequence"]) for p in pending}) == len(pending)

    settings = Settings.load()
    later = lambda: datetime.now(timezone.utc) + timedelta(hours=2)  # noqa: E731 - a clock
    report = deliver_alerts(settings, clock=later)
    digests = [d for d in receiver.documents()[len(first):]]
    assert digests and all(d["kind"] == "digest" for d in digests)
    assert report.sent == len(pending)
    assert len(digests) <= len(pending)  # a window with nothing new left to say is closed quietly
    per_story = [d["story"]["id"] for d in digests]
    assert len(per_story) == len(set(per_story))  # one digest per story and window
    alerted_ids = {d["article"]["id"] for d in first}
    copies = {r["id"] for r in rows(engine, "select id from articles where duplicate_of is not null")}
    late_outlets = {f["outlet"] for f in FEEDS if f["name"] in LATE_FEEDS}
    for digest in digests:
        ids = [a["id"] for a in digest["articles"]]
        assert ids and not set(ids) & alerted_ids and not set(ids) & copies
        assert set(digest["new_outlets"]) <= {a["outlet"] for a in digest["articles"]}
        stories = {r["story_id"] for r in rows(
            engine, f"select story_id from articles where id in ({','.join(map(str, ids))})")}
        assert stories == {digest["story"]["id"]}
    assert late_outlets & {o for d in digests for o in d["new_outlets"]}
    mail_digests = [m for m in mailbox.messages[len(first):]]
    assert len(mail_digests) == len(digests)
    assert all(m["Subject"].startswith("newswatch: follow-up") for m in mail_digests)

    # And again: nothing more, however often it runs.
    sent = len(receiver.posts)
    assert deliver_alerts(settings, clock=later).sent == 0
    assert main(["run", "--force"]) == 0
    assert deliver_alerts(settings, clock=lambda: datetime.now(timezone.utc) + timedelta(hours=5)).sent == 0
    assert len(receiver.posts) == sent and len(mailbox.messages) == sent

    # The listing shows them all, sent.
    capsys.readouterr()
    assert main(["alerts", "--limit", "100"]) == 0
    listing = capsys.readouterr().out
    assert "summit-coverage" in listing and "digest 1" in listing and "pending" not in listing


def test_dry_run_shows_what_would_be_sent_and_sends_nothing(alerting, capsys):
    server, receiver, mailbox, engine, _ = alerting
    assert main(["run", "--no-alerts"]) == 0
    capsys.readouterr()
    assert main(["alerts", "--dry-run"]) == 0
    shown = capsys.readouterr().out
    assert shown.count("--- would send: newswatch: ") == len(SUMMIT_STORIES)
    assert receiver.posts == [] and mailbox.messages == []
    states = [r["state"] for r in rows(engine, "select state from alerts where sequence = 0")]
    assert states.count("pending") == len(SUMMIT_STORIES) and set(states) <= {"pending", "merged"}
    assert main(["alerts", "--deliver"]) == 0
    assert len(receiver.posts) == len(SUMMIT_STORIES)


def test_run_and_dry_run_say_what_went_and_what_waits(alerting, capsys):
    server, receiver, mailbox, engine, feeds = alerting
    assert main(["run"]) == 0
    with engine.connect() as connection:
        waiting = connection.execute(select(Alert.not_before).where(Alert.state == "pending")).scalars().all()
    first = min(waiting)
    assert len(receiver.posts) == len(SUMMIT_STORIES) and waiting  # follow-ups wait for their window
    next_due = f"{len(waiting)} waiting; the next, a digest, is due {first:%Y-%m-%d %H:%M:%S}Z (in "
    said = capsys.readouterr().out
    assert f"alerts: {len(SUMMIT_STORIES)} sent; {next_due}" in said and "kept" not in said
    assert re.search(r"\(in (59|58) min\)", said)  # the digest window: an hour after the first follow-up
    assert main(["alerts", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().startswith(f"alerts: nothing due to send now; {next_due}")
    later = lambda: datetime.now(timezone.utc) + timedelta(hours=2)  # noqa: E731 - a clock
    report = deliver_alerts(Settings.load(), clock=later)
    assert report.sent == len(waiting) and delivery_line(report, later()) == \
        f"alerts: {len(waiting)} sent; nothing else waiting"
    assert main(["alerts", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip() == "alerts: nothing due to send now; nothing else waiting"


def test_without_alert_urls_alerts_are_kept_not_lost(alerting, monkeypatch, capsys):
    server, receiver, mailbox, engine, _ = alerting
    monkeypatch.delenv("NEWSWATCH_ALERT_URLS")
    assert main(["run"]) == 0
    said = capsys.readouterr().out
    assert f"{len(SUMMIT_STORIES)} kept in the database (no alert URL to send them to)" in said
    assert "no alert URL for rule summit-coverage: its alerts are kept, not sent" in said
    held = rows(engine, "select id, state, last_error from alerts where sequence = 0 and state != 'merged'")
    assert len(held) == len(SUMMIT_STORIES)
    assert {r["state"] for r in held} == {"held"} and "no alert URLs" in held[0]["last_error"]
    monkeypatch.setenv("NEWSWATCH_ALERT_URLS", receiver.url)
    assert main(["alerts", "--retry", str(held[0]["id"])]) == 0
    assert main(["alerts", "--deliver"]) == 0
    assert len(receiver.posts) == 1
    assert main(["alerts", "--retry", str(held[0]["id"])]) == 1  # sent: nothing to retry


def test_a_rule_for_one_language_and_its_own_target(alerting, tmp_path, monkeypatch):
    """Rules come from the topics file: a German-only rule with its own receiver."""
    server, receiver, mailbox, engine, _ = alerting
    with WebhookReceiver() as german:
        topics = tmp_path / "topics.toml"
        shipped = (ROOT / "seeds/topics.toml").read_text(encoding="utf-8")
        topics.write_text(shipped.split("[[rule]]")[0] + f"""
[[rule]]
id = "summit-de"
name = "Gipfel auf Deutsch"
all_topics = ["summit"]
none_topics = ["sanctions"]
languages = ["de"]
min_baseline_similarity = 0.45
urls = ["{german.url}"]
""", encoding="utf-8")
        monkeypatch.setenv("NEWSWATCH_TOPICS", str(topics))
        assert main(["run"]) == 0
        german_alerts = [world_key(server, d["article"]["url"]) for d in german.documents()]
    assert german_alerts and all(a["language"] == "de" for a in german_alerts)
    assert receiver.posts == []  # the rule's own URLs, not NEWSWATCH_ALERT_URLS
    assert {r["rule"] for r in rows(engine, "select rule from alerts")} == {"summit-de"}


def test_a_bad_alert_url_stops_the_run_before_anything_is_polled(alerting, monkeypatch, tmp_path, capsys):
    server, receiver, mailbox, engine, _ = alerting
    server.reset_counts()
    monkeypatch.setenv("NEWSWATCH_ALERT_URLS", f"{receiver.url} nosuchservice://user:secret@host/x")
    assert main(["run"]) == 2
    error = capsys.readouterr().err
    assert "NEWSWATCH_ALERT_URLS: not a usable Apprise URL: nosuchservice://host/" in error and "secret" not in error
    assert server.count() == 0
    topics = tmp_path / "topics.toml"
    topics.write_text((ROOT / "seeds/topics.toml").read_text(encoding="utf-8").replace(
        "min_outlets = 2\n", 'min_outlets = 2\nurls = ["slack://"]\n'), encoding="utf-8")
    monkeypatch.setenv("NEWSWATCH_ALERT_URLS", receiver.url)
    monkeypatch.setenv("NEWSWATCH_TOPICS", str(topics))
    assert main(["alerts", "--deliver"]) == 2
    assert "rule 'summit-coverage': not a usable Apprise URL: slack://" in capsys.readouterr().err
    assert main(["run", "--no-alerts"]) == 0 and server.count() > 0  # polling needs no alert URL
