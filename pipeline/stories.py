"""Stories: articles about the same event, across outlets and languages.

A new article joins the story whose concept centroid is closest to its own concept
vector (``pipeline.similarity``), if that story was active within a few days of the
article and close enough; otherwise it starts a story. A near-duplicate always joins
its original's story. Decisions depend only on the article and the candidate stories
handed in — the storage layer bounds those to stories active in the time window — so
clustering is incremental (nothing is re-clustered) and deterministic (ties go to the
oldest story). Nothing here touches the network or the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.similarity import Vector, cosine

WINDOW = timedelta(days=3)
# Measured on the labelled fixture world (tests/test_quality.py pins the outcome).
MIN_SIMILARITY = 0.6


@dataclass(frozen=True)
class StoryState:
    id: int
    first_seen_at: datetime
    last_seen_at: datetime
    centroid: Vector  # the sum of its articles' vectors


def choose_story(vector: Vector, when: datetime, candidates: Sequence[StoryState]) -> tuple[int, float] | None:
    """The story an article with ``vector`` at ``when`` belongs to, with the similarity."""
    if not vector:
        return None
    best: tuple[int, float] | None = None
    for story in sorted(candidates, key=lambda s: s.id):
        if when - story.last_seen_at > WINDOW or story.first_seen_at - when > WINDOW:
            continue
        score = cosine(vector, story.centroid)
        if score >= MIN_SIMILARITY and (best is None or score > best[1]):
            best = (story.id, score)
    return best


def add_to_centroid(centroid: Mapping[str, float], vector: Mapping[str, float]) -> Vector:
    merged = dict(centroid)
    for key, value in vector.items():
        merged[key] = round(merged.get(key, 0.0) + value, 6)
    return merged
