"""Delivery of messages through Apprise: the only module that talks to chat, mail and webhooks.

Apprise knows the services (Slack, Teams, Telegram, ntfy, e-mail, JSON webhooks, …);
newswatch only says what to send and to whom. Each target is sent to on its own, held to
the limits of ``pipeline.receivers`` (no private addresses, no redirects, a bounded answer
and a deadline). Sending never raises for a service that is down: the result says whether
every target took the message, and why not.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    sent: bool
    error: str | None = None


def send_message(urls: Sequence[str], title: str, body: str, *, settings: Settings,
                 kind: str = "info") -> Delivery:
    """Send one message to every Apprise URL in ``urls``, each target on its own. ``kind``
    is Apprise's notify type (``info``, ``success``, ``warning``, ``failure``): services
    show it as a colour or an icon, and JSON webhooks carry it as ``type``."""
    if not urls:
        return Delivery(False, "no Apprise URL configured")
    refused = unusable_urls(urls)
    if refused:
        return Delivery(False, f"not a usable Apprise URL: {', '.join(refused)}")
    errors = [outcome.error or "not delivered"
              for outcome in (_deliver(url, title, body, None, settings, kind) for url in urls) if not outcome.sent]
    if errors:
        return Delivery(False, f"delivery failed for {len(errors)} of {len(urls)} targets: {' | '.join(errors)}")
    log.info("delivered title=%r targets=%d", title, len(urls))
    return Delivery(True)


STRUCTURED = ("json://", "jsons://")


def send_alert(url: str, title: str, body: str, document_json: str, *, settings: Settings) -> Delivery:
    """Send an alert to one target: readable text everywhere, and for JSON webhooks the
    structured document too, as the attachment ``alert.json``. A failure says why: a limit
    the receiver broke (``pipeline.receivers``), else Apprise's own words (the HTTP status,
    the refused connection)."""
    attachment = None
    if url.startswith(STRUCTURED):
        from apprise.attachment.memory import AttachMemory

        attachment = AttachMemory(content=document_json, name="alert.json", mimetype="application/json")
    outcome = _deliver(url, title, body, attachment, settings)
    if outcome.sent:
        log.info("delivered title=%r target=%s", title, redact_url(url))
    return outcome


def _deliver(url: str, title: str, body: str, attachment: Any, settings: Settings,
             kind: str = "info") -> Delivery:
    """One target, held to the limits of ``pipeline.receivers.guard_delivery``."""
    import apprise

    from pipeline.receivers import guard_delivery, is_guarded

    # Apprise's own time limit abandons a service's worker and lets it run on: services
    # whose connections the guard reaches are cut off by it instead, and only the others
    # are left to Apprise's limit.
    target = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=0))
    if not target.add(url):
        return Delivery(False, f"not a usable Apprise URL: {redact_url(url)}")
    [service] = target
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")
    with guard_delivery(settings) as guard, capture as captured:
        sent = bool(target.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT, attach=attachment,
                                  notify_type=apprise.NotifyType(kind),
                                  timeout=0 if is_guarded(service) else settings.delivery_timeout))
    if sent and guard.reason is None:
        return Delivery(True)
    reasons = [guard.reason] if guard.reason else [
        line.strip() for line in captured.getvalue().splitlines() if line.strip()][-2:]
    return Delivery(False, f"{redact_url(url)}: {'; '.join(reasons) or 'not delivered'}")


def unusable_urls(urls: Sequence[str]) -> list[str]:
    """The URLs Apprise cannot use (no such service, missing parts), without their secrets."""
    import apprise

    return [redact_url(url) for url in urls if apprise.Apprise.instantiate(url) is None]


def target_key(url: str) -> str:
    """A stable name for a target that does not reveal its secrets (for the delivery record)."""
    return f"{redact_url(url)}#{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def redact_url(url: str) -> str:
    """The scheme and host of a URL, without the secrets Apprise URLs often carry."""
    scheme, _, rest = url.partition("://")
    authority = rest.split("?")[0].split("#")[0].split("/")[0]  # the query may hold addresses with @
    return f"{scheme}://{authority.split('@')[-1]}/…"
