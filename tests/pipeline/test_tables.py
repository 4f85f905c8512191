"""The delivery line ``newswatch run`` and ``newswatch alerts`` print, as a table of situations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.dispatch import DeliveryReport
from pipeline.tables import delivery_line

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=timezone.utc)
IN_40_MIN = {"waiting": 2, "next_due_at": NOW + timedelta(minutes=40)}


@pytest.mark.parametrize("report, dry_run, line", [
    (DeliveryReport(), False, "alerts: nothing due to send; nothing else waiting"),
    (DeliveryReport(), True, "alerts: nothing due to send now; nothing else waiting"),
    (DeliveryReport(sent=3), False, "alerts: 3 sent; nothing else waiting"),
    (DeliveryReport(sent=1, retrying=1, **IN_40_MIN, next_due="retry"), False,
     "alerts: 1 sent; 1 to retry; 2 waiting; the next, a retry, is due 2025-08-20 12:40:00Z (in 40 min)"),
    (DeliveryReport(failed=2), False, "alerts: 2 failed for good; nothing else waiting"),
    (DeliveryReport(**IN_40_MIN, next_due="digest"), True,
     "alerts: nothing due to send now; 2 waiting; the next, a digest, is due 2025-08-20 12:40:00Z (in 40 min)"),
    (DeliveryReport(**IN_40_MIN, next_due="alert"), False,
     "alerts: nothing due to send; 2 waiting; the next, an alert, is due 2025-08-20 12:40:00Z (in 40 min)"),
    (DeliveryReport(held=4, unaddressed=("summit-coverage",)), False,
     "alerts: 4 kept in the database (no alert URL to send them to); nothing else waiting; no alert URL for "
     "rule summit-coverage: its alerts are kept, not sent (NEWSWATCH_ALERT_URLS, or the rule's urls)"),
])
def test_the_delivery_line_says_what_went_and_what_waits(report, dry_run, line):
    assert delivery_line(report, NOW, dry_run=dry_run) == line


def test_a_dry_run_counts_what_it_would_send():
    report = DeliveryReport(previews=(object(), object()))
    assert delivery_line(report, NOW, dry_run=True) == "alerts: 2 would be sent now; nothing else waiting"
