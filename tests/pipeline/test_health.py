"""Feed health verdicts, as a table of situations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.health import BodyRead, FeedActivity, assess_feed, format_span, usual_gap

NOW = datetime(2025, 8, 20, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def activity(**changes) -> FeedActivity:
    values = dict(name="cbc-world", enabled=True, interval=900, last_polled_at=NOW - 10 * timedelta(minutes=1),
                  last_success_at=NOW - 10 * timedelta(minutes=1), consecutive_failures=0, polls_last_day=96,
                  active_polls=tuple(NOW - n * 2 * HOUR for n in range(12, 0, -1)))
    values.update(changes)
    return FeedActivity(**values)


@pytest.mark.parametrize("situation, changes, status, note", [
    ("healthy", {}, "ok", "new entries about every 2 h"),
    ("disabled", {"enabled": False}, "disabled", "disabled in the feed list"),
    ("never polled", {"last_polled_at": None, "last_success_at": None, "polls_last_day": 0,
                      "active_polls": ()}, "new", "not polled yet"),
    ("failing for a day", {"consecutive_failures": 96, "last_success_at": NOW - 25 * HOUR},
     "failing", "no success for 1 d 1 h (96 failed polls in a row)"),
    # the verdict agrees with the last poll, however recent the last success
    ("failing briefly", {"consecutive_failures": 3, "last_success_at": NOW - 2 * HOUR, "last_status": "error"},
     "failing", "no success for 2 h (3 failed polls in a row)"),
    ("failed once", {"consecutive_failures": 1, "last_status": "error"}, "failing",
     "no success for 10 min (1 failed poll in a row)"),
    # a 304 means "the body you last read": its verdict stands
    ("malformed, then 304s", {"last_status": "not_modified", "last_read": BodyRead(
        NOW - 5 * HOUR, True, "warning: SAXParseException: mismatched tag")}, "warning",
     "its body, as last read 5 h ago, came with a warning: SAXParseException: mismatched tag"),
    ("malformed, read again", {"last_status": "ok", "last_read": BodyRead(NOW - HOUR, True, "warning: bad")},
     "warning", None),
    ("unreadable, then 304s", {"last_status": "not_modified", "last_read": BodyRead(
        NOW - 3 * HOUR, False, "feed 'cbc-world': malformed feed: SAXParseException")}, "failing",
     "answers 304 since its body could not be read 3 h ago: feed 'cbc-world': malformed feed: SAXParseException"),
    ("read fine, 304s since", {"last_status": "not_modified", "last_read": BodyRead(NOW - 3 * HOUR, True)},
     "ok", None),
    ("notes that are no warning", {"last_read": BodyRead(NOW - HOUR, True, "3 new entries left for the next poll")},
     "ok", None),
    ("read fine after an unreadable body", {"last_status": "ok", "last_read": BodyRead(NOW - HOUR, True)},
     "ok", None),
    ("never succeeded", {"consecutive_failures": 5, "last_success_at": None}, "failing",
     "never succeeded (5 failed polls in a row)"),
    ("not polled for a day", {"polls_last_day": 0, "last_polled_at": NOW - 30 * HOUR}, "unpolled",
     "no poll in the last day (last 1 d 6 h ago)"),
    ("silent", {"active_polls": tuple(NOW - 60 * HOUR - n * 2 * HOUR for n in range(12, 0, -1))},
     "silent", "no new entry for 2 d 14 h; usually every 2 h"),
    ("quiet, but it is a slow feed", {"active_polls": tuple(NOW - n * 24 * HOUR for n in range(8, 1, -1))},
     "ok", "new entries about every 1 d"),
    ("too little history to tell", {"active_polls": (NOW - 90 * HOUR,)}, "ok", ""),
])
def test_assess_feed(situation, changes, status, note):
    verdict = assess_feed(activity(**changes), NOW)
    assert verdict.status == status, situation
    if note is not None:
        assert verdict.note == note, situation


def test_usual_gap_is_the_median():
    times = (NOW, NOW + HOUR, NOW + 2 * HOUR, NOW + 10 * HOUR)  # one long gap does not skew it
    assert usual_gap(times) == HOUR
    assert usual_gap(times[:3]) is None


@pytest.mark.parametrize("span, text", [(timedelta(seconds=20), "under a minute"), (timedelta(minutes=12), "12 min"),
                                        (2 * HOUR, "2 h"),
                                        (5 * HOUR + timedelta(minutes=10), "5 h 10 min"),
                                        (timedelta(days=3, hours=4), "3 d 4 h"), (timedelta(days=2), "2 d")])
def test_format_span(span, text):
    assert format_span(span) == text
