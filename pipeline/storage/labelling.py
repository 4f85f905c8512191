"""Writing what the labelling stages decided: near-duplicate links, concepts, stories.

Runs inside the poll's transaction. Near-duplicates are found article by article in
publication order, so a copy arriving in the same poll as its original still finds it;
the original is always the earliest published of a group, whatever order they arrived
in (a later-polled original takes the place of a reprint found first). Lookups are
bounded: near-duplicate candidates share an LSH band key (an index lookup, at most
``NEAR_CANDIDATES`` verified) or the outlet and feed summary (``summary_key``); story
candidates are the articles of the time window around the poll's articles (an index
range on ``event_time``). The story decisions are ``pipeline.stories``' — this module
loads their inputs in bulk and writes their outcome. On PostgreSQL the labelling holds a
transaction-level advisory lock, so two workers never decide stories at the same moment;
SQLite's write lock already serialises them. The baseline is the reference stories are
compared with, never a member of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, func, insert, select, text, update

from pipeline import embedding
from pipeline.dedup import NearMatch, Signature, band_keys, best_near_match
from pipeline.labels import ArticleLabels
from pipeline.storage.outbox import Labelled, repoint_alerts
from pipeline.storage.schema import Article, ArticleConcept, MinhashBand
from pipeline.stories import EventPoint
from pipeline.storage.stories import assign_stories

NEAR_CANDIDATES = 20
STORY_LOCK = 727_274  # any constant: the advisory lock's key


@dataclass(frozen=True)
class NewArticle:
    """What the labelling writes need to know of one stored article."""

    id: int
    title: str
    outlet: str
    language: str
    when: datetime  # publication time (first seen when unknown), never after first seen
    signature: Signature | None
    labels: ArticleLabels | None
    summary_key: str | None = None  # outlet + feed summary: the same piece under another URL
    is_baseline: bool = False


def label_articles(connection: Connection, articles: list[NewArticle]) -> list[Labelled]:
    """Link near-duplicates, record concepts and assign stories, oldest article first.

    Returns the originals among them (near-duplicates stay silent), in that order, with
    the stories they ended in.
    """
    if not articles:
        return []
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK})
    ordered = sorted(articles, key=lambda a: (a.when, a.id))
    ties: dict[int, int] = {}  # article -> an article of its near-duplicate group: one story
    copies: set[int] = set()
    for article in ordered:
        other, is_copy = _near_duplicate(connection, article)
        if other is not None:
            ties[article.id] = other
        if is_copy:
            copies.add(article.id)
        _record_labels(connection, article)
    members = [a for a in ordered if not a.is_baseline]
    assign_stories(connection, [_point(a) for a in members], ties,
                   on_merge=lambda keep, gone: repoint_alerts(connection, keep, gone))
    stories = {article_id: story_id for article_id, story_id in connection.execute(
        select(Article.id, Article.story_id).where(Article.id.in_([a.id for a in members]))) if story_id is not None}
    return [Labelled(a.id, stories[a.id], a.language, a.outlet, a.labels.topics if a.labels else (),
                     a.labels.matches if a.labels else (), a.labels.baseline_similarity if a.labels else None)
            for a in members if a.id not in copies and stories.get(a.id) is not None]


def _point(article: NewArticle) -> EventPoint:
    vector = article.labels.event_vector if article.labels is not None else None
    if vector is None:  # no text to read: it links to nothing
        vector = np.zeros(embedding.DIMENSIONS, dtype=np.float32)
    return EventPoint(article.id, article.when, vector, language=article.language)


def _record_labels(connection: Connection, article: NewArticle) -> None:
    values: dict = {"event_time": article.when, "summary_key": article.summary_key}
    labels = article.labels
    if labels is not None:
        rows = concept_rows(article.id, labels)
        if rows:
            connection.execute(insert(ArticleConcept), rows)
        values.update(baseline_similarity=labels.baseline_similarity, baseline_adds=list(labels.adds),
                      concept_vector=labels.vector,
                      event_vector=embedding.to_bytes(labels.event_vector) if labels.event_vector is not None
                      else None)
    connection.execute(update(Article).where(Article.id == article.id).values(**values))


def concept_rows(article_id: int, labels: ArticleLabels) -> list[dict]:
    """``article_concepts`` rows: every concept matched, the terms that fired, topic or not,
    and every learned topic the article has (with its probability) even when no term fired."""
    rows = {m.concept: {"article_id": article_id, "concept": m.concept, "kind": m.kind, "hits": m.hits,
                        "terms": list(m.terms), "is_topic": m.concept in labels.topics,
                        "score": labels.scores.get(m.concept)} for m in labels.matches}
    for topic, score in labels.scores.items():
        if topic in labels.topics and topic not in rows:
            rows[topic] = {"article_id": article_id, "concept": topic, "kind": "topic", "hits": 0, "terms": [],
                           "is_topic": True, "score": score}
    return [rows[key] for key in sorted(rows)]


# --- near-duplicates ---------------------------------------------------------------------

def _near_duplicate(connection: Connection, article: NewArticle) -> tuple[int | None, bool]:
    """The group this article belongs to, if any (an article of it), and whether the
    article is a copy. The original is the earliest published: an article published
    before the group's root takes its place."""
    found = _summary_twin(connection, article) or _minhash_match(connection, article)
    if found is None:
        _index_bands(connection, article)
        return None, False
    root, reason, similarity = found
    root_time = connection.execute(select(Article.event_time).where(Article.id == root)).scalar()
    if root_time is not None and article.when < root_time:
        _become_root(connection, article, root, reason, similarity)
        return root, False
    values = {"duplicate_of": root, "duplicate_similarity": similarity, "duplicate_reason": reason}
    connection.execute(update(Article).where(Article.id == article.id).values(**values))
    return root, True


def _summary_twin(connection: Connection, article: NewArticle) -> tuple[int, str, float] | None:
    if article.summary_key is None:
        return None
    rows = connection.execute(select(Article.id, Article.duplicate_of).where(
        Article.summary_key == article.summary_key, Article.id != article.id)
        .order_by(Article.event_time, Article.id).limit(3)).all()
    roots = {row.duplicate_of or row.id for row in rows}
    if len(roots) != 1:  # none, or a summary the outlet gives several pieces: a template
        return None
    return roots.pop(), "the same summary in the same outlet's feed", 1.0


def _minhash_match(connection: Connection, article: NewArticle) -> tuple[int, str, float] | None:
    if article.signature is None:
        return None
    keys = band_keys(article.signature)
    sharing = connection.execute(
        select(MinhashBand.article_id).where(MinhashBand.key.in_(keys), MinhashBand.article_id != article.id)
        .group_by(MinhashBand.article_id)
        .order_by(func.count().desc(), MinhashBand.article_id).limit(NEAR_CANDIDATES)).scalars().all()
    connection.execute(update(Article).where(Article.id == article.id).values(
        minhash=article.signature.to_bytes(), shingle_count=article.signature.shingles))
    if not sharing:
        return None
    rows = connection.execute(select(Article.id, Article.minhash, Article.shingle_count, Article.duplicate_of)
                              .where(Article.id.in_(sharing))).all()
    candidates = {row.id: Signature.from_bytes(row.minhash, row.shingle_count) for row in rows if row.minhash}
    match: NearMatch | None = best_near_match(article.signature, candidates)
    if match is None:
        return None
    root = next(row.duplicate_of or row.id for row in rows if row.id == match.article_id)
    reason = match.reason + (f" (itself a copy of {root})" if root != match.article_id else "")
    return root, reason, match.containment


def _become_root(connection: Connection, article: NewArticle, root: int, reason: str, similarity: float) -> None:
    """``article`` was published before the group's root: it becomes the original."""
    connection.execute(update(Article).where(Article.duplicate_of == root).values(duplicate_of=article.id))
    connection.execute(update(Article).where(Article.id == root).values(
        duplicate_of=article.id, duplicate_similarity=similarity,
        duplicate_reason=f"{reason} (published later than its original, which arrived after it)"))
    _index_bands(connection, article)


def _index_bands(connection: Connection, article: NewArticle) -> None:
    # Only originals are indexed: a later copy of a copy still meets the original's bands.
    if article.signature is not None:
        connection.execute(insert(MinhashBand), [{"key": key, "article_id": article.id}
                                                 for key in sorted(set(band_keys(article.signature)))])


def article_time(published: datetime | None, first_seen: datetime) -> datetime:
    """When an article appeared: its publication time, unless missing or in the future."""
    return min(published, first_seen) if published is not None else first_seen
