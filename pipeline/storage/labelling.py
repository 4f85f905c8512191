"""Writing what the labelling stages decided: near-duplicate links, concepts, stories.

Runs inside the poll's transaction, article by article in publication order, so a copy
arriving in the same poll as its original still finds it. Lookups are bounded: the
near-duplicate candidates are the articles sharing an LSH band key (an index lookup,
at most ``NEAR_CANDIDATES`` of them verified), the story candidates are the stories
active within the story window (at most ``STORY_CANDIDATES``). On PostgreSQL, story
assignment holds a transaction-level advisory lock so two workers never start two
stories for one event at the same moment; SQLite's write lock already serialises them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, text, update

from pipeline.dedup import NearMatch, Signature, band_keys, best_near_match
from pipeline.labels import ArticleLabels
from pipeline.stories import WINDOW, StoryState, add_to_centroid, choose_story, merge_partner
from pipeline.storage.outbox import Labelled, repoint_alerts
from pipeline.storage.schema import Article, ArticleConcept, MinhashBand, Story

NEAR_CANDIDATES = 20
STORY_CANDIDATES = 200
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


def label_articles(connection: Connection, articles: list[NewArticle]) -> list[Labelled]:
    """Link near-duplicates, record concepts and assign stories, oldest article first.

    Returns the originals among them (near-duplicates stay silent), in that order, with
    their stories as they stand once stories that proved to be one are merged.
    """
    if not articles:
        return []
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK})
    touched: set[int] = set()
    originals: list[NewArticle] = []
    for article in sorted(articles, key=lambda a: (a.when, a.id)):
        near = _near_duplicate(connection, article)
        if near is None:
            originals.append(article)
        if article.labels is not None:
            _record_concepts(connection, article)
        story_id = _assign_story(connection, article, near)
        touched.add(story_id)
        values = {"story_id": story_id}
        if near is not None:
            root, match = near
            reason = match.reason + (f" (itself a copy of {root})" if root != match.article_id else "")
            values.update(duplicate_of=root, duplicate_similarity=match.containment, duplicate_reason=reason)
        if article.labels is not None:
            values.update(baseline_similarity=article.labels.baseline_similarity,
                          baseline_adds=list(article.labels.adds), concept_vector=article.labels.vector)
        connection.execute(update(Article).where(Article.id == article.id).values(**values))
    _consolidate(connection, touched)
    stories = dict(connection.execute(select(Article.id, Article.story_id)
                                      .where(Article.id.in_([a.id for a in originals]))).all())
    return [Labelled(a.id, stories[a.id], a.language, a.outlet, a.labels.topics if a.labels else (),
                     a.labels.matches if a.labels else (), a.labels.baseline_similarity if a.labels else None)
            for a in originals]


def _near_duplicate(connection: Connection, article: NewArticle) -> tuple[int, NearMatch] | None:
    """The original this article copies (its root) and the closest match, if any."""
    if article.signature is None:
        return None
    keys = band_keys(article.signature)
    sharing = connection.execute(
        select(MinhashBand.article_id).where(MinhashBand.key.in_(keys), MinhashBand.article_id != article.id)
        .group_by(MinhashBand.article_id)
        .order_by(func.count().desc(), MinhashBand.article_id).limit(NEAR_CANDIDATES)).scalars().all()
    match = None
    roots: dict[int, int] = {}
    if sharing:
        rows = connection.execute(select(Article.id, Article.minhash, Article.shingle_count, Article.duplicate_of)
                                  .where(Article.id.in_(sharing))).all()
        candidates = {row.id: Signature.from_bytes(row.minhash, row.shingle_count) for row in rows if row.minhash}
        roots = {row.id: row.duplicate_of or row.id for row in rows}
        match = best_near_match(article.signature, candidates)
    connection.execute(update(Article).where(Article.id == article.id).values(
        minhash=article.signature.to_bytes(), shingle_count=article.signature.shingles))
    if match is not None:
        return roots[match.article_id], match
    # Only originals are indexed: a later copy of a copy still meets the original's bands.
    connection.execute(insert(MinhashBand), [{"key": key, "article_id": article.id} for key in sorted(set(keys))])
    return None


def _record_concepts(connection: Connection, article: NewArticle) -> None:
    rows = concept_rows(article.id, article.labels)
    if rows:
        connection.execute(insert(ArticleConcept), rows)


def concept_rows(article_id: int, labels: ArticleLabels) -> list[dict]:
    """``article_concepts`` rows: every concept matched, the terms that fired, topic or not."""
    return [{"article_id": article_id, "concept": m.concept, "kind": m.kind, "hits": m.hits,
             "terms": list(m.terms), "is_topic": m.concept in labels.topics} for m in labels.matches]


def _assign_story(connection: Connection, article: NewArticle, near: tuple[int, NearMatch] | None) -> int:
    if near is not None:
        story_id = connection.execute(select(Article.story_id).where(Article.id == near[0])).scalar()
        if story_id is not None:
            _join_story(connection, story_id, article, vector=None)
            return story_id
    vector = article.labels.story_vector if article.labels is not None else {}
    anchors = article.labels.anchors if article.labels is not None else frozenset()
    chosen = choose_story(vector, anchors, article.when, _active_stories(connection, article.when, article.when))
    if chosen is not None:
        _join_story(connection, chosen[0], article, vector=vector)
        return chosen[0]
    return connection.execute(insert(Story).values(
        title=article.title, first_seen_at=article.when, last_seen_at=article.when, article_count=1,
        outlets=[article.outlet], languages=[article.language], centroid=vector,
        anchors=sorted(anchors)).returning(Story.id)).scalar_one()


def _active_stories(connection: Connection, start: datetime, end: datetime) -> list[StoryState]:
    """Unmerged stories whose latest article lies within the window around [start, end].

    One indexed range on ``last_seen_at``: the cost depends on how many stories a few
    days hold, never on how many the store holds (at most STORY_CANDIDATES are read).
    """
    return _story_states(connection, select(*STATE_COLUMNS)
                         .where(Story.last_seen_at.between(start - WINDOW, end + WINDOW), Story.merged_into.is_(None))
                         .order_by(Story.last_seen_at.desc(), Story.id).limit(STORY_CANDIDATES))


STATE_COLUMNS = (Story.id, Story.first_seen_at, Story.last_seen_at, Story.centroid, Story.anchors)


def _story_states(connection: Connection, statement) -> list[StoryState]:
    return [StoryState(r.id, r.first_seen_at, r.last_seen_at, r.centroid, frozenset(r.anchors))
            for r in connection.execute(statement)]


def _consolidate(connection: Connection, story_ids: set[int]) -> None:
    """Merge each touched story with any active story it turned out to be one with."""
    touched = _story_states(connection, select(*STATE_COLUMNS)
                            .where(Story.id.in_(story_ids), Story.merged_into.is_(None)))
    if not touched:
        return
    pool = {s.id: s for s in _active_stories(connection, min(s.first_seen_at for s in touched),
                                             max(s.last_seen_at for s in touched))}
    pool.update((s.id, s) for s in touched)
    pending = sorted(s.id for s in touched)
    while pending:
        story = pool.get(pending.pop(0))
        if story is None:
            continue
        partner = merge_partner(story, [s for s in pool.values() if s.id != story.id])
        if partner is not None:
            keep, gone = sorted((story, partner), key=lambda s: s.id)
            _merge(connection, keep.id, gone.id)
            pool[keep.id] = StoryState(keep.id, min(keep.first_seen_at, gone.first_seen_at),
                                       max(keep.last_seen_at, gone.last_seen_at),
                                       add_to_centroid(keep.centroid, gone.centroid), keep.anchors | gone.anchors)
            del pool[gone.id]
            pending.insert(0, keep.id)  # the merged story may now meet another


def _merge(connection: Connection, keep: int, gone: int) -> None:
    """The younger story ``gone`` becomes part of the older ``keep``; it remains as a pointer."""
    kept, merged = (connection.execute(select(Story).where(Story.id == i)).one() for i in (keep, gone))
    connection.execute(update(Article).where(Article.story_id == gone).values(story_id=keep))
    repoint_alerts(connection, keep, gone)
    connection.execute(update(Story).where(Story.id == keep).values(
        first_seen_at=min(kept.first_seen_at, merged.first_seen_at),
        last_seen_at=max(kept.last_seen_at, merged.last_seen_at),
        article_count=kept.article_count + merged.article_count,
        outlets=sorted(set(kept.outlets) | set(merged.outlets)),
        languages=sorted(set(kept.languages) | set(merged.languages)),
        anchors=sorted(set(kept.anchors) | set(merged.anchors)),
        centroid=add_to_centroid(kept.centroid, merged.centroid)))
    connection.execute(update(Story).where(Story.id == gone).values(merged_into=keep, article_count=0))


def _join_story(connection: Connection, story_id: int, article: NewArticle, vector: dict | None) -> None:
    """Add an article to a story; a near-duplicate (no vector) adds its outlet, not a count."""
    story = connection.execute(select(Story).where(Story.id == story_id)).one()
    values = {
        "outlets": sorted(set(story.outlets) | {article.outlet}),
        "languages": sorted(set(story.languages) | {article.language}),
        "first_seen_at": min(story.first_seen_at, article.when),
        "last_seen_at": max(story.last_seen_at, article.when),
    }
    if vector is not None:
        values.update(article_count=story.article_count + 1, centroid=add_to_centroid(story.centroid, vector),
                      anchors=sorted(set(story.anchors) | (article.labels.anchors if article.labels else set())))
    connection.execute(update(Story).where(Story.id == story_id).values(**values))


def article_time(published: datetime | None, first_seen: datetime) -> datetime:
    """When an article appeared: its publication time, unless missing or in the future."""
    return min(published, first_seen) if published is not None else first_seen
