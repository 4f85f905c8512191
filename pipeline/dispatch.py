"""Delivering the alerts outbox: claim what is due, compose, send through Apprise, mark.

Runs after a cycle (``newswatch run``), on its own (``newswatch alerts --deliver``) and as
the ``newswatch_alerts`` DAG. See ``pipeline.storage.outbox`` for the guarantees: each
story alerts once per rule; delivery is at least once with a stable idempotency key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pipeline.alerts import Message, Rule, compose_alert, compose_digest, load_rules, to_json
from pipeline.delivery import Delivery, send_alert, target_key, unusable_urls
from pipeline.errors import SettingsError
from pipeline.settings import Settings
from pipeline.storage.engine import open_database
from pipeline.storage.outbox import claim, due_alerts, message_data, record_attempt, waiting_alerts
from pipeline.topics import load_concepts

log = logging.getLogger(__name__)
Sender = Callable[..., Delivery]


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    previews: tuple[Message, ...] = field(default=())  # what --dry-run would send
    unaddressed: tuple[str, ...] = ()  # rules with no alert URL: their alerts are kept, not sent
    waiting: int = 0  # pending alerts not due yet
    next_due_at: datetime | None = None  # when the first of them falls due
    next_due: str | None = None  # and what it is: alert, digest or retry


def check_alert_targets(settings: Settings) -> tuple[Rule, ...]:
    """The rules, once every URL they send to is one Apprise can use; else a SettingsError
    naming the rule (or NEWSWATCH_ALERT_URLS) and the URL, before anything is sent."""
    # The topics' lemmas from the data dir's cache: lemmatising them costs every new process seconds.
    topics = {c.id for c in load_concepts(settings.topics_path, settings.data_dir / "cache") if c.kind == "topic"}
    rules = load_rules(settings.topics_path, topics)
    bad = unusable_urls(settings.alert_urls)
    if bad:
        raise SettingsError(f"NEWSWATCH_ALERT_URLS: not a usable Apprise URL: {', '.join(bad)}")
    for rule in rules:
        bad = unusable_urls(rule.urls)
        if bad:
            raise SettingsError(f"{settings.topics_path}: rule {rule.id!r}: not a usable Apprise URL: {', '.join(bad)}")
    return rules


def deliver_alerts(settings: Settings, *, dry_run: bool = False, send: Sender = send_alert,
                   clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                   settled: timedelta = timedelta(0)) -> DeliveryReport:
    """Send every alert and digest that is due; with ``dry_run``, only compose them.

    ``settled``: new stories' alerts younger than this wait (see ``due_alerts``)."""
    rules = {r.id: r for r in check_alert_targets(settings)}
    counts = {"sent": 0, "retrying": 0, "failed": 0, "held": 0}
    previews = []
    with open_database(settings.database_url) as engine:
        for alert in due_alerts(engine, clock(), settled=settled):
            rule = rules.get(alert["rule"])
            if rule is None:
                continue  # a rule taken out of the topics file: its alerts wait for it
            message = _compose(engine, alert, rule, settings)
            if dry_run:
                previews.append(message)
                continue
            # The time is taken per claim and per mark, not once per run: sends before this
            # one may have taken minutes, and a back-dated claim would look stale to
            # another deliverer at once (which would send the alert again).
            if not claim(engine, alert["id"], clock(), attempts=alert["attempts"]):
                continue
            outcome = _send(engine, alert, rule, message, settings, send, clock)
            counts[outcome] += 1
        waiting, next_due_at, next_due = waiting_alerts(engine, clock())
    unaddressed = tuple(rule_id for rule_id, rule in rules.items() if not (rule.urls or settings.alert_urls))
    return DeliveryReport(**counts, previews=tuple(previews), unaddressed=unaddressed, waiting=waiting,
                          next_due_at=next_due_at, next_due=next_due)


def _compose(engine, alert: dict, rule: Rule, settings: Settings) -> Message:
    data = message_data(engine, alert, settings.digest_window, rule)
    if alert["sequence"] == 0:
        return compose_alert(alert, data["article"], data["story"], rule, settings.web_url, data["why"])
    return compose_digest(alert, data["articles"], data["story"], rule, settings.web_url,
                          earlier_outlets=data["earlier_outlets"], earlier_languages=data["earlier_languages"])


def _send(engine, alert: dict, rule: Rule, message: Message, settings: Settings, send: Sender,
          clock: Callable[[], datetime]) -> str:
    urls = rule.urls or settings.alert_urls
    if not urls:
        record_attempt(engine, alert["id"], clock(), ok=False,
                       error="no alert URLs configured: kept in the database", state="held")
        return "held"
    if alert["sequence"] > 0 and not message.document["articles"]:
        record_attempt(engine, alert["id"], clock(), ok=True, error="nothing new to report", state="sent")
        return "sent"
    delivered = set(alert["delivered_to"] or ())
    errors = []
    document = to_json(message.document)
    for url in urls:
        if target_key(url) in delivered:
            continue  # took it on an earlier attempt: a retry goes only where it failed
        outcome = send(url, message.title, message.body, document, settings=settings)
        if outcome.sent:
            delivered.add(target_key(url))
        else:
            errors.append(outcome.error or "not delivered")
    now = clock()  # when the sends ended, however long the receivers took
    if not errors:
        record_attempt(engine, alert["id"], now, ok=True, error=None, state="sent", delivered_to=delivered)
        log.info("alert=%s rule=%s story=%s sent", alert["id"], alert["rule"], alert["story_id"])
        return "sent"
    error = " | ".join(errors)
    attempts = alert["attempts"] + 1
    if attempts >= settings.alert_attempts:
        record_attempt(engine, alert["id"], now, ok=False, error=error, state="failed", delivered_to=delivered)
        log.error("alert=%s failed for good after %d attempts: %s", alert["id"], attempts, error)
        return "failed"
    retry_at = now + timedelta(seconds=settings.alert_backoff * 2 ** (attempts - 1))
    record_attempt(engine, alert["id"], now, ok=False, error=error, state="pending", next_attempt=retry_at,
                   delivered_to=delivered)
    log.warning("alert=%s attempt %d failed, retry at %s: %s", alert["id"], attempts, retry_at, error)
    return "retrying"
