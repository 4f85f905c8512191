"""Versions: what changed, and when to look again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.versions import MAX_CHECKS, diff_versions, next_check_at

SEEN = datetime(2025, 8, 17, 12, tzinfo=timezone.utc)
HOUR = 3600


def test_diff_keeps_titles_and_paragraphs_added_and_removed():
    before = "First paragraph.\nSecond paragraph stays.\nThird goes away."
    after = "First paragraph.\nSecond paragraph stays.\nA new fourth paragraph.\n"
    change = diff_versions("Old title", before, "New title", after)
    assert change.title_changed and (change.title_before, change.title_after) == ("Old title", "New title")
    assert change.added == ("A new fourth paragraph.",) and change.removed == ("Third goes away.",)
    assert change.as_dict()["added"] == ["A new fourth paragraph."]


def test_an_unchanged_text_has_an_empty_diff():
    change = diff_versions("T", "a\nb", "T", "a\n\nb")
    assert not change.title_changed and change.added == () and change.removed == ()


@pytest.mark.parametrize("checks, now, hours_after_seen", [
    (0, SEEN, 0.5),          # the first look: half an hour after the article appeared
    (1, SEEN, 1.5),          # then at doubling gaps: 1.5 h, 3.5 h, 7.5 h, ...
    (2, SEEN, 3.5),
    (3, SEEN, 7.5),
    (1, SEEN + timedelta(hours=5), 5.0),  # a late look is due now, not in the past
    (7, SEEN, None),         # 63.5 h would be past the 48 h limit: leave it be
])
def test_recheck_schedule(checks, now, hours_after_seen):
    due = next_check_at(SEEN, checks, now, first=0.5 * HOUR, until=48 * HOUR)
    if hours_after_seen is None:
        assert due is None
    else:
        assert due == SEEN + timedelta(hours=hours_after_seen)


def test_checks_end_even_with_no_delay():
    assert next_check_at(SEEN, MAX_CHECKS, SEEN, first=0, until=48 * HOUR) is None
