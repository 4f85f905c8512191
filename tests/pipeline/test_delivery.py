"""Delivery through Apprise to a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

from pipeline.delivery import send_message
from tests.receiver import WebhookReceiver


def test_a_message_reaches_a_json_webhook():
    with WebhookReceiver() as receiver:
        outcome = send_message([receiver.url], "newswatch: test", "line one\nline two")
    assert outcome.sent and outcome.error is None
    assert [p["body"]["title"] for p in receiver.posts] == ["newswatch: test"]
    assert receiver.posts[0]["body"]["message"] == "line one\nline two"


def test_a_failing_receiver_is_reported_not_raised():
    with WebhookReceiver() as receiver:
        receiver.status = 500
        outcome = send_message([receiver.url], "t", "b")
    assert not outcome.sent and "delivery failed" in outcome.error
    assert len(receiver.posts) == 1


def test_an_unusable_url_is_named_without_its_secrets():
    outcome = send_message(["nosuchservice://user:secret@example.test/x"], "t", "b")
    assert not outcome.sent and "nosuchservice://example.test/" in outcome.error
    assert "secret" not in outcome.error


def test_nothing_configured():
    assert send_message([], "t", "b").error == "no Apprise URL configured"
