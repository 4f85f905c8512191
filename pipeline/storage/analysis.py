"""Read-only queries for the analyst web app: coverage over time, story timelines, polls,
alert history, earlier versions' texts and the values the search filters offer.

Everything here only reads, and aggregates in the database (one grouped query per
chart, one windowed query for the polls), so a page costs the same at 1,000 or 100,000
articles. It never writes; the web app runs it on a read-only engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import partial
from typing import Any, TypedDict, cast

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pipeline.storage.engine import storage_errors
from pipeline.storage.outbox import AlertFields, list_alerts
from pipeline.storage.queries import StoryFields, published_or_seen
from pipeline.storage.schema import (
    AlertAttempt,
    Article,
    ArticleConcept,
    ArticleVersion,
    Feed,
    Poll,
    Story,
)

DEFAULT_COVERAGE_DAYS = 30
SUMMIT_TOPIC = "summit"


@dataclass(frozen=True)
class Coverage:
    """Articles per day (baseline excluded), from ``days[0]`` to ``days[-1]`` inclusive."""

    days: list[date]
    by_language: dict[str, list[int]]
    by_outlet: dict[str, list[int]]
    topic: str
    on_topic: list[int]  # articles labelled with ``topic``

    @property
    def totals(self) -> list[int]:
        return [sum(counts) for counts in zip(*self.by_language.values())] or [0] * len(self.days)


class TimelineEntry(TypedDict):
    """An article in a story's timeline, with the articles that copy it."""

    id: int
    title: str
    url: str
    outlet: str
    feed: str | None
    language: str
    published_at: datetime | None
    first_seen_at: datetime
    duplicate_of: int | None
    duplicate_reason: str | None
    baseline_similarity: float | None
    is_baseline: bool
    version: int
    copies: list[TimelineEntry]


class StoryTimeline(StoryFields):
    """A story and its timeline (``story_timeline``)."""

    merged_into: int | None
    articles: list[TimelineEntry]


class PollRow(TypedDict):
    """One poll of a feed (``recent_polls``)."""

    started_at: datetime
    duration_ms: int
    status: str
    http_status: int | None
    entries: int
    new: int
    duplicates: int
    known: int
    errors: int
    error: str | None


class AttemptRow(TypedDict):
    attempted_at: datetime
    ok: bool
    error: str | None


class AlertHistoryRow(AlertFields):
    """An alert with every delivery attempt (``alert_history``)."""

    terms: dict[str, list[str]]
    delivered_to: list[str]
    attempts: list[AttemptRow]


class VersionText(TypedDict):
    """An earlier version of an article (``version_texts``)."""

    version: int
    title: str
    text: str
    replaced_at: datetime


def _day(engine: Engine, column):
    """The UTC calendar day of a timestamp column, on either database."""
    if engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _as_date(value: Any) -> date:
    """A day as either database returns it: a date, a datetime, or (SQLite) ISO text."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def coverage_by_day(engine: Engine, since: date | None = None, until: date | None = None,
                    topic: str = SUMMIT_TOPIC) -> Coverage:
    """Articles per day by language, by outlet and on ``topic``, from ``since`` to ``until``
    (inclusive). By default: up to the last day with articles, over at most 30 days."""
    with storage_errors(engine.connect) as connection:
        if since is None or until is None:
            first, last = connection.execute(select(func.min(published_or_seen()), func.max(published_or_seen()))
                                             .where(~Article.is_baseline)).one()
            today = datetime.now(timezone.utc).date()
            until = until or (_as_date(last) if last is not None else today)
            since = since or max(_as_date(first) if first is not None else today,
                                 until - timedelta(days=DEFAULT_COVERAGE_DAYS - 1))
        days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
        day = _day(engine, published_or_seen()).label("day")
        counts = (select(day, func.count().label("n"))
                  .where(~Article.is_baseline, published_or_seen() >= _midnight(since),
                         published_or_seen() < _midnight(until + timedelta(days=1))).group_by(day))
        by_language = connection.execute(counts.add_columns(Article.language.label("key"))
                                         .group_by(Article.language)).all()
        by_outlet = connection.execute(counts.add_columns(Article.outlet.label("key"))
                                       .group_by(Article.outlet)).all()
        on_topic = connection.execute(counts.add_columns(func.min(topic).label("key")).join(
            ArticleConcept, (ArticleConcept.article_id == Article.id) & (ArticleConcept.concept == topic)
            & ArticleConcept.is_topic)).all()
    return Coverage(days=days, by_language=_series(days, by_language), by_outlet=_series(days, by_outlet),
                    topic=topic, on_topic=_series(days, on_topic).get(topic, [0] * len(days)))


def _series(days: list[date], rows: Sequence[Any]) -> dict[str, list[int]]:
    """(day, n, key) rows as one list of daily counts per key, keys sorted."""
    index = {day: n for n, day in enumerate(days)}
    series: dict[str, list[int]] = {}
    for row in rows:
        series.setdefault(row.key, [0] * len(days))[index[_as_date(row.day)]] += row.n
    return dict(sorted(series.items()))


def _timeline_entry(article: Article, feed: str | None) -> TimelineEntry:
    return {"id": article.id, "title": article.title, "url": article.url, "outlet": article.outlet,
            "feed": feed, "language": article.language, "published_at": article.published_at,
            "first_seen_at": article.first_seen_at, "duplicate_of": article.duplicate_of,
            "duplicate_reason": article.duplicate_reason,
            "baseline_similarity": article.baseline_similarity, "is_baseline": article.is_baseline,
            "version": article.version, "copies": []}


def story_timeline(engine: Engine, story_id: int) -> StoryTimeline | None:
    """A story and its articles in time order, each copy under the article it copies;
    None when there is no such story."""
    with storage_errors(partial(Session, engine)) as session:
        story = session.get(Story, story_id)
        if story is None:
            return None
        rows = session.execute(select(Article, Feed.name).outerjoin(Feed, Feed.id == Article.feed_id)
                               .where(Article.story_id == story_id)
                               .order_by(published_or_seen(), Article.id)).all()
        entries = {article.id: _timeline_entry(article, feed) for article, feed in rows}
    timeline: list[TimelineEntry] = []
    for entry in entries.values():
        original = entries.get(entry["duplicate_of"]) if entry["duplicate_of"] else None
        (original["copies"] if original else timeline).append(entry)
    return {"id": story.id, "title": story.title, "first_seen_at": story.first_seen_at,
            "last_seen_at": story.last_seen_at, "article_count": story.article_count,
            "outlets": story.outlets, "languages": story.languages, "merged_into": story.merged_into,
            "articles": timeline}


def recent_polls(engine: Engine, per_feed: int = 10) -> dict[str, list[PollRow]]:
    """The last ``per_feed`` polls of every feed, newest first, by feed name."""
    ranked = select(Poll, func.row_number().over(partition_by=Poll.feed_id,
                                                 order_by=(Poll.started_at.desc(), Poll.id.desc()))
                    .label("n")).subquery()
    statement = (select(Feed.name, ranked).join(ranked, ranked.c.feed_id == Feed.id)
                 .where(ranked.c.n <= per_feed).order_by(Feed.name, ranked.c.n))
    polls: dict[str, list[PollRow]] = {}
    with storage_errors(engine.connect) as connection:
        for row in connection.execute(statement):
            polls.setdefault(row.name, []).append({
                "started_at": row.started_at, "duration_ms": row.duration_ms, "status": row.status,
                "http_status": row.http_status, "entries": row.entries, "new": row.new,
                "duplicates": row.duplicates, "known": row.known, "errors": row.errors,
                "error": row.error})
    return polls


def alert_history(engine: Engine, *, state: str | None = None, limit: int = 50) -> list[AlertHistoryRow]:
    """The newest alerts (``list_alerts``) with every delivery attempt, oldest first."""
    alerts = list_alerts(engine, state=state, limit=limit)
    statement = (select(AlertAttempt).where(AlertAttempt.alert_id.in_([a["id"] for a in alerts]))
                 .order_by(AlertAttempt.attempted_at, AlertAttempt.id))
    attempts: dict[int, list[AttemptRow]] = {}
    with storage_errors(engine.connect) as connection:
        for attempt in connection.execute(statement):
            attempts.setdefault(attempt.alert_id, []).append(
                {"attempted_at": attempt.attempted_at, "ok": attempt.ok, "error": attempt.error})
    return [{**alert, "terms": alert["terms"] or {}, "delivered_to": alert["delivered_to"] or [],
             "attempts": attempts.get(alert["id"], [])} for alert in alerts]


def version_texts(engine: Engine, article_id: int) -> list[VersionText]:
    """The texts of an article's earlier versions, oldest first."""
    statement = (select(ArticleVersion.version, ArticleVersion.title, ArticleVersion.text,
                        ArticleVersion.replaced_at)
                 .where(ArticleVersion.article_id == article_id).order_by(ArticleVersion.version))
    with storage_errors(engine.connect) as connection:
        return [cast(VersionText, dict(row._mapping)) for row in connection.execute(statement)]


def filter_choices(engine: Engine) -> dict[str, list[str]]:
    """The languages, outlets and topics stored, for the search form's choices."""
    with storage_errors(engine.connect) as connection:
        languages = connection.execute(select(Article.language).distinct().order_by(Article.language))
        outlets = connection.execute(select(Article.outlet).distinct().order_by(Article.outlet))
        topics = connection.execute(select(ArticleConcept.concept).where(ArticleConcept.is_topic)
                                    .distinct().order_by(ArticleConcept.concept))
        return {"languages": list(languages.scalars()), "outlets": list(outlets.scalars()),
                "topics": list(topics.scalars())}
