"""When feeds are due: intervals, backoff while failing, Retry-After."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.schedule import is_due, next_poll_at

NOW = datetime(2025, 8, 16, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("failures, retry_after, minutes", [
    (0, None, 15),      # healthy: the interval
    (1, None, 30),      # failing: doubled per failure
    (3, None, 120),
    (10, None, 360),    # capped at the maximum backoff ...
    (1000, None, 360),  # ... forever, so a dead feed is still polled
    (0, 3600, 60),      # Retry-After pushes later
    (1, 60, 30),        # ... never earlier
])
def test_next_poll(failures, retry_after, minutes):
    when = next_poll_at(NOW, 900, failures, max_backoff=6 * 3600, retry_after=retry_after)
    assert when - NOW == timedelta(minutes=minutes)


def test_a_long_interval_is_not_shortened_by_the_cap():
    assert next_poll_at(NOW, 86400, 2, max_backoff=3600) - NOW == timedelta(days=1)


def test_due():
    assert is_due(None, NOW)
    assert is_due(NOW, NOW)
    assert not is_due(NOW + timedelta(seconds=1), NOW)
