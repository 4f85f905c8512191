"""When a feed is due: its interval, stretched by exponential backoff while it fails.

Backoff doubles the interval per consecutive failure up to a cap, and never beyond
it: a dead feed is polled rarely, but it is polled, so it is noticed when it comes
back. A server's ``Retry-After`` pushes the next poll later, never earlier, and never
past the same cap (``NEWSWATCH_MAX_FEED_BACKOFF``): a server asking for a year, or for
99999999999999999999 seconds, gets its feed polled again after the cap. Pure functions;
nothing here touches the network or the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def next_poll_at(now: datetime, interval: float, failures: int, *, max_backoff: float,
                 retry_after: float | None = None) -> datetime:
    """When to poll a feed next, after a poll that left it with ``failures`` in a row."""
    cap = max(max_backoff, interval)
    delay = interval
    if failures > 0:
        delay = min(interval * 2 ** min(failures, 32), cap)
    if retry_after is not None:
        delay = max(delay, capped_retry_after(retry_after, cap))
    return now + timedelta(seconds=delay)


def capped_retry_after(retry_after: float, cap: float) -> float:
    """A server's ``Retry-After`` in seconds, kept within [0, cap]."""
    return min(max(retry_after, 0.0), cap)


def is_due(next_poll: datetime | None, now: datetime) -> bool:
    return next_poll is None or next_poll <= now
