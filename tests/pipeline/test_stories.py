"""Story choice: anchors, decay with time, threshold, deterministic ties."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from pipeline.stories import (
    DECAY,
    MIN_SIMILARITY,
    WINDOW,
    StoryState,
    add_to_centroid,
    choose_story,
    gap_between,
    merge_partner,
)

T = datetime(2025, 8, 16, 12, tzinfo=timezone.utc)
ALASKA = {"anchorage": 3.0, "summit": 1.0, "putin": 0.5, "trump": 0.5}
WHITE_HOUSE = {"white-house": 3.0, "european-leaders": 2.0, "security-guarantees": 2.0, "trump": 0.5}
ANCHORS = frozenset({"anchorage", "white-house", "european-leaders"})


def story(story_id: int, centroid: dict, last: datetime = T) -> StoryState:
    return StoryState(story_id, last - timedelta(hours=6), last, centroid)


def anchors_of(vector: dict) -> frozenset[str]:
    return ANCHORS & vector.keys()


@pytest.mark.parametrize("situation, vector, when, candidates, expected", [
    ("joins the close story", ALASKA, T, [story(1, ALASKA), story(2, WHITE_HOUSE)], 1),
    ("starts a story when nothing is close", {"trade": 2.0, "anchorage": 0.1}, T, [story(1, ALASKA)], None),
    ("too long after the story", ALASKA, T + WINDOW + timedelta(hours=1), [story(1, ALASKA)], None),
    ("too long before the story", ALASKA, T - WINDOW - timedelta(hours=1), [story(1, ALASKA)], None),
    ("ties go to the oldest story", ALASKA, T, [story(5, ALASKA), story(4, ALASKA)], 4),
    ("an article without concepts stands alone", {}, T, [story(1, ALASKA)], None),
    ("no shared anchor, no story: Putin and Trump are in everything",
     {"putin": 0.5, "trump": 0.5, "summit": 1.0}, T, [story(1, ALASKA)], None),
])
def test_choose_story(situation, vector, when, candidates, expected):
    chosen = choose_story(vector, anchors_of(vector), when, candidates)
    assert (chosen[0] if chosen else None) == expected, situation
    if chosen:
        assert chosen[1] >= MIN_SIMILARITY


def test_similarity_decays_with_the_gap():
    gap = timedelta(days=2)
    score = choose_story(ALASKA, anchors_of(ALASKA), T + gap, [story(1, ALASKA)])[1]
    assert score == pytest.approx(math.exp(-gap / DECAY))
    # a weaker match that would join today does not join three days later
    close = {"anchorage": 3.0, "summit": 1.0, "trade": 1.6}
    assert choose_story(close, anchors_of(close), T, [story(1, ALASKA)]) is not None
    assert choose_story(close, anchors_of(close), T + timedelta(days=3), [story(1, ALASKA)]) is None


def test_centroids_add_up():
    assert add_to_centroid({"a": 1.0}, {"a": 0.5, "b": 2.0}) == {"a": 1.5, "b": 2.0}


def test_gap_between_spans():
    early = StoryState(1, T, T + timedelta(hours=10), ALASKA)
    overlapping = StoryState(2, T + timedelta(hours=5), T + timedelta(hours=20), ALASKA)
    later = StoryState(3, T + timedelta(hours=30), T + timedelta(hours=40), ALASKA)
    assert gap_between(early, overlapping) == timedelta(0)
    assert gap_between(early, later) == gap_between(later, early) == timedelta(hours=20)


def test_stories_that_are_one_merge_and_others_do_not():
    half = StoryState(7, T, T + timedelta(hours=3), ALASKA, frozenset({"anchorage"}))
    other_half = StoryState(4, T + timedelta(hours=20), T + timedelta(hours=30), ALASKA, frozenset({"anchorage"}))
    elsewhere = StoryState(2, T, T, WHITE_HOUSE, frozenset({"white-house"}))
    assert merge_partner(half, [elsewhere, other_half]) == other_half
    assert merge_partner(half, [elsewhere]) is None
    unanchored = StoryState(5, T, T, ALASKA, frozenset())
    assert merge_partner(unanchored, [other_half]) is None
