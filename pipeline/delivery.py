"""Delivery of messages through Apprise: the only module that talks to chat, mail and webhooks.

Apprise knows the services (Slack, Teams, Telegram, ntfy, e-mail, JSON webhooks, …);
newswatch only says what to send and to whom. Sending never raises for a service that is
down: the result says whether every target took the message, and why not.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    sent: bool
    error: str | None = None


def send_message(urls: Sequence[str], title: str, body: str) -> Delivery:
    """Send one message to every Apprise URL in ``urls``."""
    import apprise  # loads every service plugin: only when something is sent

    if not urls:
        return Delivery(False, "no Apprise URL configured")
    targets = apprise.Apprise()
    refused = [url for url in urls if not targets.add(url)]
    if refused:
        return Delivery(False, f"not a usable Apprise URL: {', '.join(_redact(u) for u in refused)}")
    if targets.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT):
        log.info("delivered title=%r targets=%d", title, len(urls))
        return Delivery(True)
    return Delivery(False, f"delivery failed for at least one of {len(urls)} targets (see log)")


STRUCTURED = ("json://", "jsons://")


def send_alert(url: str, title: str, body: str, document_json: str) -> Delivery:
    """Send an alert to one target: readable text everywhere, and for JSON webhooks the
    structured document too, as the attachment ``alert.json``. A failure says why, in
    Apprise's own words (the HTTP status, the refused connection)."""
    import apprise
    from apprise.attachment.memory import AttachMemory

    target = apprise.Apprise()
    if not target.add(url):
        return Delivery(False, f"not a usable Apprise URL: {_redact(url)}")
    attachment = None
    if url.startswith(STRUCTURED):
        attachment = AttachMemory(content=document_json, name="alert.json", mimetype="application/json")
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        sent = target.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT, attach=attachment)
    if sent:
        log.info("delivered title=%r target=%s", title, _redact(url))
        return Delivery(True)
    reasons = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
    return Delivery(False, f"{_redact(url)}: {'; '.join(reasons[-2:]) or 'not delivered'}")


def unusable_urls(urls: Sequence[str]) -> list[str]:
    """The URLs Apprise cannot use (no such service, missing parts), without their secrets."""
    import apprise

    return [_redact(url) for url in urls if apprise.Apprise.instantiate(url) is None]


def target_key(url: str) -> str:
    """A stable name for a target that does not reveal its secrets (for the delivery record)."""
    return f"{_redact(url)}#{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def _redact(url: str) -> str:
    """The scheme and host of a URL, without the secrets Apprise URLs often carry."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/')[0].split('@')[-1]}/…"
