"""Delivery through Apprise to a real webhook receiver and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json

import pytest

from pipeline.delivery import redact_url, send_alert, send_message, target_key
from pipeline.settings import Settings
from tests.mailbox import Mailbox
from tests.receiver import WebhookReceiver

LOOPBACK = Settings.load(environ={}, allowed_private_hosts="127.0.0.1")  # where the test receivers listen


def test_a_message_reaches_a_json_webhook():
    with WebhookReceiver() as receiver:
        outcome = send_message([receiver.url], "newswatch: test", "line one\nline two", settings=LOOPBACK)
    assert outcome.sent and outcome.error is None
    assert [p["body"]["title"] for p in receiver.posts] == ["newswatch: test"]
    assert receiver.posts[0]["body"]["message"] == "line one\nline two"


def test_a_message_says_what_kind_it_is():
    with WebhookReceiver() as receiver:
        assert send_message([receiver.url], "newswatch: a task failed", "…", settings=LOOPBACK, kind="failure").sent
        assert send_message([receiver.url], "newswatch: note", "…", settings=LOOPBACK).sent
    assert [p["body"]["type"] for p in receiver.posts] == ["failure", "info"]


def test_a_failing_receiver_is_reported_not_raised():
    with WebhookReceiver() as receiver:
        receiver.status = 500
        outcome = send_message([receiver.url], "t", "b", settings=LOOPBACK)
    assert not outcome.sent and "delivery failed" in outcome.error
    assert len(receiver.posts) == 1


def test_an_unusable_url_is_named_without_its_secrets():
    outcome = send_message(["nosuchservice://user:secret@example.test/x"], "t", "b", settings=LOOPBACK)
    assert not outcome.sent and "nosuchservice://example.test/" in outcome.error
    assert "secret" not in outcome.error


def test_nothing_configured():
    assert send_message([], "t", "b", settings=LOOPBACK).error == "no Apprise URL configured"


def test_an_alert_to_a_json_webhook_carries_the_structured_document():
    with WebhookReceiver() as receiver:
        outcome = send_alert(receiver.url, "newswatch: alert", "[de] Gipfel\nzweite Zeile", '{"kind": "alert"}',
                             settings=LOOPBACK)
    assert outcome.sent
    [post] = receiver.posts
    assert post["body"]["message"] == "[de] Gipfel\nzweite Zeile"
    [attachment] = post["body"]["attachments"]
    assert attachment["filename"] == "alert.json" and attachment["mimetype"] == "application/json"
    assert json.loads(base64.b64decode(attachment["base64"])) == {"kind": "alert"}


def test_an_alert_by_email_is_plain_text_with_its_lines():
    with Mailbox() as mailbox:
        outcome = send_alert(mailbox.url, "newswatch: Саміт", "[uk] Саміт на Алясці\n<b>not markup</b>", "{}",
                             settings=LOOPBACK)
    assert outcome.sent
    [mail] = mailbox.messages
    assert mail["Subject"] == "newswatch: Саміт" and mail["To"] == "desk@example.test"
    assert mailbox.bodies()[0].splitlines() == ["[uk] Саміт на Алясці", "<b>not markup</b>"]


def test_a_failed_alert_says_why_in_apprises_words():
    with WebhookReceiver() as receiver:
        receiver.status = 503
        outcome = send_alert(receiver.url, "t", "b", "{}", settings=LOOPBACK)
    assert not outcome.sent and outcome.error.startswith("json://127.0.0.1:") and "503" in outcome.error
    refused = send_alert("json://127.0.0.1:9/x", "t", "b", "{}", settings=LOOPBACK)
    assert not refused.sent and "Connection" in refused.error


def test_target_keys_name_the_target_without_its_secrets():
    key = target_key("tgram://123456:SECRETTOKEN@telegram/987")
    assert key.startswith("tgram://telegram/") and "SECRET" not in key
    assert key != target_key("tgram://123456:OTHERTOKEN@telegram/987")


@pytest.mark.parametrize("url, shown", [
    ("mailto://user:secret@mail.example.test?from=a@x.test&to=b@y.test", "mailto://mail.example.test/…"),
    ("json://hooks.example.test/path?token=s3cret", "json://hooks.example.test/…"),
    ("slack://T000/B000/XXXX", "slack://T000/…"),
    ("tgram://123:abc@telegram/", "tgram://telegram/…"),
])
def test_a_target_is_named_without_its_secrets(url, shown):
    assert redact_url(url) == shown
