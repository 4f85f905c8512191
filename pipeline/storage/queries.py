"""Read-only queries for people: feed health and article records for export.

Records carry DESIGN.md's export fields. They are streamed in batches, so an export of
any size runs in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any, TypedDict, cast

from sqlalchemy import Connection, Engine, Select, exists, func, select
from sqlalchemy.orm import Session

from pipeline.storage.engine import storage_errors
from pipeline.storage.schema import Article, ArticleConcept, ArticleVersion, Entry, Feed, Story
from pipeline.storage.upkeep import assess_feeds

MIN_STORY_ARTICLES = 2  # what story listings show by default: one article is a report, not yet a story
EXPORT_FIELDS = (
    "id", "url", "canonical_url", "outlet", "feed", "title", "author", "published_at",
    "first_seen_at", "language", "language_confidence", "word_count", "text", "text_sha256",
    "duplicate_of", "story_id", "topics", "baseline_similarity", "is_baseline", "version",
    "text_source", "fetch_error", "baseline_adds",
)


class FeedHealthRow(TypedDict):
    """One feed's polling state and how many articles it brought (``feed_health``)."""

    feed: str
    outlet: str
    enabled: bool
    status: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    failures: int
    next_poll_at: datetime | None
    articles: int
    error: str | None
    health: str | None
    health_note: str | None


class ExportRecord(TypedDict):
    """One article as ``newswatch export`` writes it: DESIGN.md's fields, then ours."""

    id: int
    url: str
    canonical_url: str
    outlet: str
    feed: str | None
    title: str
    author: str | None
    published_at: datetime | None
    first_seen_at: datetime
    language: str
    language_confidence: float
    word_count: int
    text: str
    text_sha256: str
    duplicate_of: int | None
    story_id: int | None
    topics: list[str]
    baseline_similarity: float | None
    is_baseline: bool
    version: int
    text_source: str
    fetch_error: str | None
    baseline_adds: list[Any]


class StoryArticle(TypedDict):
    """An article as a story lists it (``list_stories``)."""

    id: int
    title: str
    outlet: str
    language: str
    published_at: datetime | None
    duplicate_of: int | None
    baseline_similarity: float | None
    is_baseline: bool
    version: int


class StoryFields(TypedDict):
    """What every story row carries: the listing's and the timeline's."""

    id: int
    title: str
    first_seen_at: datetime
    last_seen_at: datetime
    article_count: int
    outlets: list[str]
    languages: list[str]


class StoryRow(StoryFields):
    """A story with its articles (``list_stories``)."""

    articles: list[StoryArticle]


class ArticleBrief(TypedDict):
    id: int
    outlet: str
    title: str


class CopyRow(ArticleBrief):
    duplicate_similarity: float | None
    duplicate_reason: str | None


class ConceptRow(TypedDict):
    concept: str
    kind: str
    hits: int
    terms: list[str]
    is_topic: bool
    score: float | None


class VersionRow(TypedDict):
    version: int
    title: str
    replaced_at: datetime
    changes: dict[str, Any]  # pipeline.versions.Change, as stored


class StoryBrief(TypedDict):
    id: int
    title: str
    article_count: int
    outlets: list[str]
    languages: list[str]


class ArticleDetails(TypedDict):
    """One article with everything known of it (``article_details``)."""

    article: ExportRecord
    duplicate_reason: str | None
    original: ArticleBrief | None
    concepts: list[ConceptRow]
    copies: list[CopyRow]
    versions: list[VersionRow]
    story: StoryBrief | None


@dataclass(frozen=True)
class ArticleFilter:
    language: str | None = None
    outlet: str | None = None
    feed: str | None = None
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None


def feed_health(engine: Engine, now: datetime | None = None) -> list[FeedHealthRow]:
    """One row per feed: its polling state, its health as of ``now`` (assessed as it is
    read, so it agrees with the last poll), and how many articles it brought."""
    verdicts = assess_feeds(engine, now or datetime.now(timezone.utc))
    articles = (select(Entry.feed_id, func.count(func.distinct(Entry.article_id)).label("n"))
                .group_by(Entry.feed_id).subquery())
    statement = (select(Feed, func.coalesce(articles.c.n, 0))
                 .outerjoin(articles, articles.c.feed_id == Feed.id).order_by(Feed.name))
    with storage_errors(partial(Session, engine)) as session:
        rows = session.execute(statement).all()
    return [{
        "feed": row.Feed.name, "outlet": row.Feed.outlet, "enabled": row.Feed.enabled,
        "status": row.Feed.last_status, "last_polled_at": row.Feed.last_polled_at,
        "last_success_at": row.Feed.last_success_at,
        "failures": row.Feed.consecutive_failures, "next_poll_at": row.Feed.next_poll_at,
        "articles": row[1], "error": row.Feed.last_error, "health": verdicts[row.Feed.name].status,
        "health_note": verdicts[row.Feed.name].note or None,
    } for row in rows]


def published_or_seen() -> Any:
    """When an article counts as published: its own date, else when it was first seen."""
    return func.coalesce(Article.published_at, Article.first_seen_at)


def article_conditions(*, language: str | None = None, outlet: str | None = None, topic: str | None = None,
                       since: datetime | None = None, until: datetime | None = None) -> list[Any]:
    """The WHERE conditions of the filters every article listing offers (unset ones left out)."""
    conditions = [
        Article.language == language if language else None,
        Article.outlet == outlet if outlet else None,
        exists().where(ArticleConcept.article_id == Article.id, ArticleConcept.concept == topic,
                       ArticleConcept.is_topic) if topic else None,
        published_or_seen() >= since if since else None,
        published_or_seen() < until if until else None,
    ]
    return [c for c in conditions if c is not None]


def topics_of(session: Session | Connection, article_ids: list[int]) -> dict[int, list[str]]:
    """The topics of these articles, sorted, by article id."""
    topics: dict[int, list[str]] = {}
    for article_id, concept in session.execute(
            select(ArticleConcept.article_id, ArticleConcept.concept)
            .where(ArticleConcept.article_id.in_(article_ids), ArticleConcept.is_topic)
            .order_by(ArticleConcept.article_id, ArticleConcept.concept)):
        topics.setdefault(article_id, []).append(concept)
    return topics


def _filtered(statement: Select, where: ArticleFilter) -> Select:
    statement = statement.where(*article_conditions(language=where.language, outlet=where.outlet,
                                                    topic=where.topic, since=where.since, until=where.until))
    if where.feed:
        statement = statement.where(Feed.name == where.feed)
    return statement.limit(where.limit) if where.limit else statement


def iter_export_records(engine: Engine, where: ArticleFilter = ArticleFilter(),
                        batch: int = 1000) -> Iterator[ExportRecord]:
    """Every matching article as an export record, oldest first."""
    statement = _filtered(select(Article, Feed.name.label("feed_name"))
                          .outerjoin(Feed, Feed.id == Article.feed_id)
                          .order_by(Article.id), where)
    with storage_errors(partial(Session, engine)) as session:
        pending: list[Any] = []
        for row in session.execute(statement.execution_options(yield_per=batch)):
            pending.append(row)
            if len(pending) == batch:
                yield from _records(session, pending)
                pending = []
        yield from _records(session, pending)


def _records(session: Session, rows: list[Any]) -> Iterator[ExportRecord]:
    """Export records of a batch of rows, with their topics fetched in one query."""
    if not rows:
        return
    topics = topics_of(session, [r.Article.id for r in rows])
    for row in rows:
        yield _record(row.Article, row.feed_name, topics.get(row.Article.id, []))
        session.expunge(row.Article)  # keep the identity map from growing with the export


def _record(article: Article, feed_name: str | None, topics: list[str]) -> ExportRecord:
    return {
        "id": article.id, "url": article.url, "canonical_url": article.canonical_url,
        "outlet": article.outlet, "feed": feed_name, "title": article.title,
        "author": article.author, "published_at": article.published_at,
        "first_seen_at": article.first_seen_at, "language": article.language,
        "language_confidence": article.language_confidence, "word_count": article.word_count,
        "text": article.text, "text_sha256": article.text_sha256,
        "duplicate_of": article.duplicate_of, "story_id": article.story_id, "topics": topics,
        "baseline_similarity": article.baseline_similarity, "is_baseline": article.is_baseline,
        "version": article.version, "text_source": article.text_source,
        "fetch_error": article.fetch_error, "baseline_adds": article.baseline_adds or [],
    }


def list_stories(engine: Engine, *, limit: int = 50, min_articles: int = 1,
                 topic: str | None = None) -> list[StoryRow]:
    """The most recent stories with their articles (originals first, then their copies)."""
    statement = (select(Story).where(Story.article_count >= min_articles, *_stories_on(topic))
                 .order_by(Story.last_seen_at.desc(), Story.id.desc()).limit(limit))
    with storage_errors(partial(Session, engine)) as session:
        stories = session.execute(statement).scalars().all()
        members: dict[int | None, list[StoryArticle]] = {}
        for article in session.execute(
                select(Article).where(Article.story_id.in_([s.id for s in stories]))
                .order_by(Article.published_at, Article.id)).scalars():
            members.setdefault(article.story_id, []).append({
                "id": article.id, "title": article.title, "outlet": article.outlet,
                "language": article.language, "published_at": article.published_at,
                "duplicate_of": article.duplicate_of, "baseline_similarity": article.baseline_similarity,
                "is_baseline": article.is_baseline, "version": article.version})
        return [{"id": s.id, "title": s.title, "first_seen_at": s.first_seen_at,
                 "last_seen_at": s.last_seen_at, "article_count": s.article_count,
                 "outlets": s.outlets, "languages": s.languages, "articles": members.get(s.id, [])}
                for s in stories]


def count_smaller_stories(engine: Engine, min_articles: int, topic: str | None = None) -> int:
    """How many stories (on ``topic``) have fewer than ``min_articles`` articles."""
    with storage_errors(partial(Session, engine)) as session:
        return session.execute(select(func.count()).select_from(Story).where(
            Story.article_count < min_articles, *_stories_on(topic))).scalar_one()


def _stories_on(topic: str | None) -> list[Any]:
    """Conditions for the stories that are listed: not merged away, and on ``topic`` if given."""
    conditions = [Story.merged_into.is_(None)]
    if topic:
        conditions.append(Story.id.in_(
            select(Article.story_id).join(ArticleConcept, ArticleConcept.article_id == Article.id)
            .where(ArticleConcept.concept == topic, ArticleConcept.is_topic)))
    return conditions


def article_details(engine: Engine, article_id: int) -> ArticleDetails | None:
    """One article with everything known of it: concepts, the article it copies and its
    copies, versions, its story."""
    with storage_errors(partial(Session, engine)) as session:
        article = session.get(Article, article_id)
        if article is None:
            return None
        concepts = session.execute(select(ArticleConcept).where(ArticleConcept.article_id == article_id)
                                   .order_by(ArticleConcept.is_topic.desc(), ArticleConcept.hits.desc(),
                                             ArticleConcept.concept)).scalars().all()
        copies = session.execute(select(Article.id, Article.outlet, Article.title, Article.duplicate_similarity,
                                        Article.duplicate_reason)
                                 .where(Article.duplicate_of == article_id).order_by(Article.id)).all()
        original = session.execute(select(Article.id, Article.outlet, Article.title)
                                   .where(Article.id == article.duplicate_of)).first()
        versions = session.execute(select(ArticleVersion).where(ArticleVersion.article_id == article_id)
                                   .order_by(ArticleVersion.version)).scalars().all()
        story = session.get(Story, article.story_id) if article.story_id else None
        feed = session.get(Feed, article.feed_id) if article.feed_id else None
        return {
            "article": _record(article, feed.name if feed else None, [c.concept for c in concepts if c.is_topic]),
            "duplicate_reason": article.duplicate_reason,
            "original": cast(ArticleBrief, dict(original._mapping)) if original else None,
            "concepts": [{"concept": c.concept, "kind": c.kind, "hits": c.hits, "terms": c.terms,
                          "is_topic": c.is_topic, "score": c.score} for c in concepts],
            "copies": [cast(CopyRow, dict(row._mapping)) for row in copies],
            "versions": [{"version": v.version, "title": v.title, "replaced_at": v.replaced_at,
                          "changes": v.changes} for v in versions],
            "story": None if story is None else {
                "id": story.id, "title": story.title, "article_count": story.article_count,
                "outlets": story.outlets, "languages": story.languages},
        }
