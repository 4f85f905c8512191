"""Stories and near-duplicates in the database, on SQLite and PostgreSQL: the same stories
in any arrival order, merges that keep the older story, the earliest published as the
original, and one outlet's same summary under two URLs as one article."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import insert, select

from pipeline.dedup import signature_of, summary_key
from pipeline.labels import ArticleLabels
from pipeline.storage.engine import create_database_engine, migrate
from pipeline.storage.labelling import NewArticle, label_articles
from pipeline.storage.schema import Article, Story

T = datetime(2025, 8, 16, 8, tzinfo=timezone.utc)
WIRE = ("Leaders met for three hours in Anchorage and left without a ceasefire, officials said, while "
        "negotiators promised to keep talking about the terms of a peace settlement in the coming weeks. ") * 3


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def event(seed: int, noise: float = 0.05, base: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centre = np.random.default_rng(1000 + (base if base is not None else seed)).normal(size=512)
    vector = centre / np.linalg.norm(centre) + noise * rng.normal(size=512) / np.sqrt(512)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def store(engine, article_id: int, when: datetime, vector=None, *, text: str = "", outlet: str = "CBC",
          summary: str = "") -> None:
    """One article stored and labelled in its own transaction, as one poll would."""
    with engine.begin() as connection:
        connection.execute(insert(Article).values(
            id=article_id, outlet=outlet, url=f"https://x.test/{article_id}", canonical_url=f"https://x.test/{article_id}",
            title=f"article {article_id}", published_at=when, first_seen_at=when + timedelta(hours=1), language="en",
            language_confidence=1.0, language_source="text", word_count=10, text=text or "t", text_sha256="0" * 64,
            text_source="page", is_baseline=False, version=1))
        labels = ArticleLabels((), (), {}, 0.0, (), event_vector=vector) if vector is not None else None
        label_articles(connection, [NewArticle(article_id, f"article {article_id}", outlet, "en", when,
                                               signature_of(text) if text else None, labels,
                                               summary_key=summary_key(outlet, summary) if summary else None)])


def partition(engine) -> set[frozenset[int]]:
    with engine.connect() as connection:
        rows = connection.execute(select(Article.id, Article.story_id)).all()
    groups: dict[int, set[int]] = {}
    for article_id, story in rows:
        groups.setdefault(story, set()).add(article_id)
    return {frozenset(g) for g in groups.values()}


POINTS = [(n, T + timedelta(hours=n % 7), n % 3) for n in range(1, 13)]  # three events over a few hours


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_the_same_articles_give_the_same_stories_in_any_order(engine, seed):
    order = POINTS if seed is None else random.Random(seed).sample(POINTS, len(POINTS))
    for article_id, when, base in order:
        store(engine, article_id, when, event(article_id, base=base))
    assert partition(engine) == {frozenset(n for n, _, b in POINTS if b == base) for base in range(3)}


def test_an_article_bridging_two_stories_merges_them_into_the_older(engine):
    left, right = event(1), event(2)
    store(engine, 1, T, left)
    store(engine, 2, T + timedelta(minutes=30), right)
    bridge = (left + right) / np.linalg.norm(left + right)
    store(engine, 3, T + timedelta(minutes=10), bridge.astype(np.float32))
    with engine.connect() as connection:
        stories = dict(connection.execute(select(Article.id, Article.story_id)).all())
        merged = connection.execute(select(Story.id, Story.merged_into).where(Story.merged_into.is_not(None))).all()
        kept = connection.execute(select(Story).where(Story.id == stories[1])).one()
    assert stories[1] == stories[2] == stories[3]
    assert len(merged) == 1 and merged[0].merged_into == stories[1]  # the younger story points at the older
    assert kept.article_count == 3 and kept.title == "article 1"  # the earliest article's title


def test_the_earliest_published_is_the_original_whatever_arrived_first(engine):
    store(engine, 1, T + timedelta(minutes=38), event(5), text=WIRE)  # the reprint, polled first
    store(engine, 2, T, event(5), text=WIRE + " Updated.")  # the wire original, published earlier
    with engine.connect() as connection:
        rows = dict(connection.execute(select(Article.id, Article.duplicate_of)).all())
    assert rows == {1: 2, 2: None}


def test_one_outlets_same_summary_under_two_urls_is_one_article(engine):
    summary = "The prime minister said the talks would resume next week after a long night of negotiation"
    store(engine, 1, T, event(7), summary=summary, outlet="Sky")
    store(engine, 2, T + timedelta(minutes=5), event(8), summary=summary, outlet="Sky")
    store(engine, 3, T + timedelta(minutes=6), event(9), summary=summary, outlet="BBC")  # another outlet
    with engine.connect() as connection:
        rows = dict(connection.execute(select(Article.id, Article.duplicate_of)).all())
        stories = dict(connection.execute(select(Article.id, Article.story_id)).all())
    assert rows == {1: None, 2: 1, 3: None}
    assert stories[1] == stories[2]  # a copy joins its original's story, however unlike its vector
