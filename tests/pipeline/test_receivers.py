"""Receivers that misbehave, for real on loopback: a delivery is held to its limits.

A receiver that redirects (to 127.0.0.2, which the tests' allow-list leaves out, standing
for 10.0.0.7 or 169.254.169.254) is not followed; one at a refused address is never sent
to; a flood of an error body is read only to its cap; a receiver or a mail server that
trickles bytes is cut off at NEWSWATCH_DELIVERY_TIMEOUT. Every such delivery fails with
the reason, so the outbox retries it. Run with ``-s`` to see the measured bounds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
import requests

from pipeline.delivery import send_alert, send_message
from pipeline.receivers import guard_delivery
from pipeline.settings import Settings
from tests.conftest import ROOT
from tests.mailbox import Mailbox, TricklingMailServer
from tests.receiver import WebhookReceiver, flood, redirect, trickle_body, trickle_headers

TIMEOUT = 2.0
LOOPBACK = Settings.load(environ={}, allowed_private_hosts="127.0.0.1", delivery_timeout=TIMEOUT)
NOTHING_ALLOWED = Settings.load(environ={}, delivery_timeout=TIMEOUT)
GIB = 1024 ** 3
MIB = 1024 ** 2


def send(url: str, settings: Settings = LOOPBACK):
    return send_alert(url, "newswatch: alert", "[en] Summit", '{"kind": "alert"}', settings=settings)


@pytest.mark.parametrize("status, path", [(302, "/latest/meta-data/iam/security-credentials/"), (307, "/hook"),
                                          (301, "/moved"), (308, "/moved")])
def test_a_redirect_is_not_followed_and_fails_the_delivery(status, path):
    with WebhookReceiver(host="127.0.0.2") as elsewhere, WebhookReceiver() as receiver:
        receiver.answer = redirect(status, f"http://{elsewhere.address}{path}")
        outcome = send(receiver.url)
    assert not outcome.sent
    assert outcome.error == (f"json://{receiver.address}/…: receiver redirected to "
                             f"http://{elsewhere.address}/… (HTTP {status}); not followed")
    assert len(receiver.posts) == 1 and elsewhere.posts == []


@pytest.mark.parametrize("host, listening, settings", [
    ("127.0.0.2", "127.0.0.2", LOOPBACK),  # an address the allow-list leaves out
    ("localhost", "127.0.0.1", NOTHING_ALLOWED),  # a name, checked on what it resolves to
])
def test_a_receiver_at_a_refused_address_is_never_sent_to(host, listening, settings):
    with WebhookReceiver(host=listening) as private:
        port = private.address.split(":")[1]
        outcome = send(f"json://{host}:{port}/hook", settings)
    assert not outcome.sent and private.posts == []
    assert outcome.error == f"json://{host}:{port}/…: refused: {host} resolves to non-public address {listening}"


@pytest.mark.parametrize("status", [500, 302])
def test_a_flood_of_an_answer_is_read_only_to_its_cap(status):
    """The receiver answers with 1 GiB, as an error or as a redirect; the delivery runs in a
    process of its own, which measures its peak memory."""
    with WebhookReceiver(host="127.0.0.2") as elsewhere, WebhookReceiver() as receiver:
        receiver.answer = flood(GIB, status, location=f"http://{elsewhere.address}/" if status == 302 else None)
        started = time.monotonic()
        measured = json.loads(subprocess.run([sys.executable, "-c", FLOODED, receiver.url], cwd=ROOT,
                                             capture_output=True, text=True, check=True, timeout=120).stdout)
        elapsed = time.monotonic() - started
    growth = (measured["peak_after_kib"] - measured["peak_before_kib"]) / 1024
    print(f"\n1 GiB body with HTTP {status}: peak RSS grew {growth:.1f} MiB (process peak "
          f"{measured['peak_after_kib'] / 1024:.0f} MiB), {elapsed:.2f} s with the process's start")
    assert not measured["sent"] and ("error=500." if status == 500 else "not followed") in measured["error"]
    assert growth < 16 and elsewhere.posts == []


FLOODED = """
import json, resource, sys
from pipeline.delivery import send_alert, unusable_urls
from pipeline.settings import Settings
import pipeline.receivers  # imported, and Apprise's plugins loaded, before the peak is read
unusable_urls([sys.argv[1]])
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before = peak()
settings = Settings.load(environ={}, allowed_private_hosts="127.0.0.1", delivery_timeout=60)
outcome = send_alert(sys.argv[1], "t", "b", "{}", settings=settings)
print(json.dumps({"sent": outcome.sent, "error": outcome.error, "peak_before_kib": before, "peak_after_kib": peak()}))
"""


@pytest.mark.parametrize("name, answer", [("headers", trickle_headers(0.5)), ("body", trickle_body(0.5))])
def test_a_receiver_trickling_bytes_is_cut_off_at_the_deadline(name, answer):
    with WebhookReceiver() as receiver:
        receiver.answer = answer
        started = time.monotonic()
        outcome = send(receiver.url)
        elapsed = time.monotonic() - started
    print(f"\nreceiver trickling its {name} one byte per 0.5 s: given up after {elapsed:.2f} s "
          f"(NEWSWATCH_DELIVERY_TIMEOUT={TIMEOUT:g})")
    assert not outcome.sent
    assert outcome.error.endswith(f"no complete answer within {TIMEOUT:g} s (NEWSWATCH_DELIVERY_TIMEOUT); cut off")
    assert TIMEOUT - 0.1 < elapsed < TIMEOUT + 1


def test_a_mail_server_at_a_refused_address_is_never_connected_to():
    with Mailbox() as mailbox:
        outcome = send(mailbox.url, NOTHING_ALLOWED)
    assert not outcome.sent and mailbox.messages == []
    assert "refused: 127.0.0.1 resolves to non-public address 127.0.0.1" in outcome.error


def test_a_mail_server_that_never_finishes_its_greeting_is_given_up_at_the_deadline():
    with TricklingMailServer(0.5) as server:
        started = time.monotonic()
        outcome = send(server.url)
        elapsed = time.monotonic() - started
        assert server.hung_up.wait(1)  # cut off, not left to a worker Apprise stopped waiting for
    print(f"\nSMTP server trickling its greeting one byte per 0.5 s: given up after {elapsed:.2f} s")
    assert not outcome.sent and server.connections == 1
    assert outcome.error.endswith(f"no complete answer within {TIMEOUT:g} s (NEWSWATCH_DELIVERY_TIMEOUT); cut off")
    assert TIMEOUT - 0.1 < elapsed < TIMEOUT + 1


def test_operator_messages_are_held_to_the_same_limits():
    with WebhookReceiver(host="127.0.0.2") as elsewhere, WebhookReceiver() as receiver, WebhookReceiver() as fine:
        receiver.answer = redirect(307, f"http://{elsewhere.address}/hook")
        outcome = send_message([fine.url, receiver.url], "newswatch: task failed", "…", settings=LOOPBACK)
    assert not outcome.sent and "delivery failed for 1 of 2 targets" in outcome.error
    assert "not followed" in outcome.error and len(fine.posts) == 1 and elsewhere.posts == []


def test_requests_made_outside_a_delivery_are_left_alone():
    """While a delivery is guarded, another thread's requests follow redirects as requests
    does; afterwards requests is as it was."""
    own_send = requests.Session.send
    with WebhookReceiver() as target, WebhookReceiver() as hopping:
        hopping.answer = redirect(302, f"http://{target.address}/elsewhere")
        with guard_delivery(LOOPBACK) as guard:
            other = []
            thread = threading.Thread(target=lambda: other.append(requests.get(f"http://{hopping.address}/")))
            thread.start()
            thread.join()
            inside = requests.get(f"http://{hopping.address}/")
        assert requests.Session.send is own_send
    assert other[0].status_code == 200 and [p["path"] for p in target.posts] == ["/elsewhere"]
    assert inside.status_code == 302 and "not followed" in guard.reason
