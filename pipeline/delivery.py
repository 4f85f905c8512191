"""Delivery of messages through Apprise: the only module that talks to chat, mail and webhooks.

Apprise knows the services (Slack, Teams, Telegram, ntfy, e-mail, JSON webhooks, …);
newswatch only says what to send and to whom. Sending never raises for a service that is
down: the result says whether every target took the message, and why not.
"""

from __future__ import annotations

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
    if targets.notify(title=title, body=body):
        log.info("delivered title=%r targets=%d", title, len(urls))
        return Delivery(True)
    return Delivery(False, f"delivery failed for at least one of {len(urls)} targets (see log)")


def _redact(url: str) -> str:
    """The scheme and host of a URL, without the secrets Apprise URLs often carry."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/')[0].split('@')[-1]}/…"
