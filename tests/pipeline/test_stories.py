"""Stories as events: links by closeness and time, joins, merges that keep the older story,
near-duplicate ties, and the same stories whatever order articles arrive in."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from pipeline.stories import MIN_LINK, WINDOW, EventPoint, link_strength, plan_stories

T = datetime(2025, 8, 16, 12, tzinfo=timezone.utc)


def unit(*weights: float) -> np.ndarray:
    vector = np.zeros(512, dtype=np.float32)
    vector[:len(weights)] = weights
    return vector / np.linalg.norm(vector)


ALASKA, ALASKA_TOO, WHITE_HOUSE, MOUNTAIN = unit(1, 0.2), unit(1, 0.35), unit(0.3, 1), unit(0, 0, 1)


@pytest.mark.parametrize("cosine, gap_hours, linked", [
    (0.9, 0, True),          # the same event, reported at once
    (0.5, 1, True),          # loosely alike, within the hour
    (0.4, 0, False),         # about the same part of the world, not the same event
    (0.5, 12, False),        # loosely alike, half a day apart: another event
    (0.95, 23, True),        # the same words a day later (a follow-up or a re-run)
    (0.95, 30, False),       # past the window: nothing links
    (0.3, 0, False),         # unalike
])
def test_what_links_two_articles(cosine, gap_hours, linked):
    strength = link_strength(np.array([cosine]), np.array([gap_hours / 24]))[0]
    assert bool(strength >= MIN_LINK) is linked
    assert (gap_hours / 24 <= WINDOW / timedelta(days=1)) or not linked


def test_alike_articles_start_one_story_and_unalike_ones_their_own():
    new = [EventPoint(1, T, ALASKA), EventPoint(2, T + timedelta(hours=2), ALASKA_TOO),
           EventPoint(3, T, MOUNTAIN)]
    plan = plan_stories(new, [], {})
    assert plan.new_stories == [[1, 2], [3]] and not plan.joins and not plan.merges


def test_a_new_article_joins_the_story_of_the_article_it_links_to():
    stored = [EventPoint(10, T, ALASKA, story_id=5)]
    plan = plan_stories([EventPoint(11, T + timedelta(hours=1), ALASKA_TOO)], stored, {5: T})
    assert plan.joins == {11: 5} and not plan.new_stories


def test_the_same_event_a_week_later_is_another_story():
    stored = [EventPoint(10, T, ALASKA, story_id=5)]
    plan = plan_stories([EventPoint(11, T + timedelta(days=7), ALASKA)], stored, {5: T})
    assert plan.new_stories == [[11]]


def test_an_article_bridging_two_stories_merges_them_into_the_older():
    stored = [EventPoint(10, T, unit(1, 0.5), story_id=7), EventPoint(20, T, unit(0.5, 1), story_id=4)]
    ages = {7: T - timedelta(hours=3), 4: T - timedelta(hours=1)}  # story 7 is the older, though its id is higher
    plan = plan_stories([EventPoint(30, T, unit(1, 1))], stored, ages)
    assert plan.merges == [(7, 4)] and plan.joins == {30: 7}


def test_a_near_duplicate_joins_its_originals_story_however_unalike_its_vector():
    stored = [EventPoint(10, T, ALASKA, story_id=5)]
    plan = plan_stories([EventPoint(11, T, MOUNTAIN)], stored, {5: T}, copies={11: ("story", 5)})
    assert plan.joins == {11: 5}


def test_an_article_without_a_vector_links_to_nothing():
    plan = plan_stories([EventPoint(1, T, np.zeros(512, dtype=np.float32)), EventPoint(2, T, ALASKA)], [], {})
    assert plan.new_stories == [[1], [2]]


def partition(points: list[EventPoint], order: list[int]) -> set[frozenset[int]]:
    """Feed the points in ``order``, one poll at a time, as storage would; the final stories."""
    story_of: dict[int, int] = {}
    ages: dict[int, datetime] = {}
    next_id = iter(range(1000, 2000))
    for index in order:
        point = points[index]
        stored = [EventPoint(p.article_id, p.when, p.vector, story_of[p.article_id])
                  for p in points if p.article_id in story_of]
        plan = plan_stories([point], stored, ages)
        for keep, gone in plan.merges:
            story_of.update({a: keep for a, s in story_of.items() if s == gone})
            ages[keep] = min(ages[keep], ages.pop(gone))
        story_of.update(plan.joins)
        for members in plan.new_stories:
            story = next(next_id)
            ages[story] = point.when
            story_of.update({m: story for m in members})
    groups: dict[int, set[int]] = {}
    for article, story in story_of.items():
        groups.setdefault(story, set()).add(article)
    return {frozenset(g) for g in groups.values()}


def test_the_same_articles_give_the_same_stories_in_any_arrival_order():
    rng = np.random.default_rng(7)
    centres = [np.roll(unit(1, 0.6, 0.3), 8 * k) for k in range(4)]  # four events, far apart
    points = []
    for index in range(40):
        centre = centres[index % 4]
        noisy = centre + 0.9 * unit(*rng.normal(size=64))
        points.append(EventPoint(index, T + timedelta(hours=float(rng.uniform(0, 30))),
                                 (noisy / np.linalg.norm(noisy)).astype(np.float32)))
    orders = [list(range(40))] + [random.Random(seed).sample(range(40), 40) for seed in range(20)]
    results = {frozenset(partition(points, order)) for order in orders}
    assert len(results) == 1
    assert 4 <= len(next(iter(results))) < 40  # neither everything apart nor one lump
