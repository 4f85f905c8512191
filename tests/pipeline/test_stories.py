"""Story choice: time window, similarity threshold, deterministic ties."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.stories import MIN_SIMILARITY, WINDOW, StoryState, add_to_centroid, choose_story

T = datetime(2025, 8, 16, 12, tzinfo=timezone.utc)
ALASKA = {"alaska": 3.0, "summit": 1.0, "putin": 0.5, "trump": 0.5}
WHITE_HOUSE = {"white-house": 3.0, "european-leaders": 2.0, "security-guarantees": 2.0, "trump": 0.5}


def story(story_id: int, centroid: dict, first: datetime = T, last: datetime = T) -> StoryState:
    return StoryState(story_id, first, last, centroid)


@pytest.mark.parametrize("situation, vector, when, candidates, expected", [
    ("joins the close story", ALASKA, T, [story(1, ALASKA), story(2, WHITE_HOUSE)], 1),
    ("starts a story when nothing is close", {"trade": 2.0}, T, [story(1, ALASKA)], None),
    ("too late for the story", ALASKA, T + WINDOW + timedelta(hours=1), [story(1, ALASKA)], None),
    ("too early for the story", ALASKA, T - WINDOW - timedelta(hours=1), [story(1, ALASKA)], None),
    ("ties go to the oldest story", ALASKA, T, [story(5, ALASKA), story(4, ALASKA)], 4),
    ("an article without concepts stands alone", {}, T, [story(1, ALASKA)], None),
])
def test_choose_story(situation, vector, when, candidates, expected):
    chosen = choose_story(vector, when, candidates)
    assert (chosen[0] if chosen else None) == expected, situation
    if chosen:
        assert chosen[1] >= MIN_SIMILARITY


def test_centroids_add_up():
    assert add_to_centroid({"a": 1.0}, {"a": 0.5, "b": 2.0}) == {"a": 1.5, "b": 2.0}
