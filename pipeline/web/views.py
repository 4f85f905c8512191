"""What each page shows, as the API's response models: storage reads in, models out.

Both faces call these: the JSON API returns the model, the HTML page renders it. No SQL
here (that lives in ``pipeline.storage``) and no markup (that lives in the templates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from fastapi import HTTPException
from sqlalchemy import Engine

from pipeline.storage.analysis import (
    alert_history,
    coverage_by_day,
    recent_polls,
    story_timeline,
    version_texts,
)
from pipeline.storage.queries import MIN_STORY_ARTICLES, article_details, feed_health, list_stories
from pipeline.storage.search import SearchFilter, search_articles
from pipeline.web import schemas
from pipeline.web.diffs import diff_texts

PER_PAGE = 20
MAX_COVERAGE_DAYS = 400


@dataclass(frozen=True)
class SearchRequest:
    """A search as the form or the API asked for it (dates are whole UTC days)."""

    q: str = ""
    lang: str | None = None
    outlet: str | None = None
    topic: str | None = None
    story: int | None = None
    since: date | None = None
    until: date | None = None
    min_similarity: float | None = None
    order: str = "relevance"
    page: int = 1

    def filters(self) -> schemas.SearchFilters:
        return schemas.SearchFilters.model_validate(self, from_attributes=True)


def _start_of(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=timezone.utc)


def search_page(engine: Engine, asked: SearchRequest) -> schemas.SearchPage:
    """One page of search results; raises SearchQueryError for a malformed query."""
    where = SearchFilter(language=asked.lang, outlet=asked.outlet, topic=asked.topic, story_id=asked.story,
                         since=_start_of(asked.since),
                         until=_start_of(asked.until + timedelta(days=1)) if asked.until else None,
                         min_similarity=asked.min_similarity)
    found = search_articles(engine, asked.q, where, order=asked.order, limit=PER_PAGE,
                            offset=(asked.page - 1) * PER_PAGE)
    hits = [schemas.SearchHit.model_validate(hit, from_attributes=True) for hit in found.hits]
    return schemas.SearchPage(query=found.query, filters=asked.filters(), order=asked.order,
                              total=found.total, page=asked.page, pages=max(1, math.ceil(found.total / PER_PAGE)),
                              per_page=PER_PAGE, hits=hits)


def article_page(engine: Engine, article_id: int) -> schemas.ArticleDetail:
    details = article_details(engine, article_id)
    if details is None:
        raise HTTPException(404, f"no article with id {article_id}")
    texts = version_texts(engine, article_id)
    following = [(v["title"], v["text"]) for v in texts[1:]]
    following.append((details["article"]["title"], details["article"]["text"]))
    changes = {v["version"]: v["changes"] for v in details["versions"]}
    versions = [schemas.Version(version=v["version"], title=v["title"], replaced_at=v["replaced_at"],
                                changes=changes.get(v["version"], {}), next_title=next_title,
                                diff=diff_texts(v["text"], next_text))
                for v, (next_title, next_text) in zip(texts, following)]
    return schemas.ArticleDetail.model_validate({**details, "versions": versions})


def story_list(engine: Engine, limit: int, topic: str | None = None,
               min_articles: int = MIN_STORY_ARTICLES) -> list[schemas.StorySummary]:
    return [schemas.StorySummary.model_validate(story)
            for story in list_stories(engine, limit=limit, topic=topic, min_articles=min_articles)]


def story_page(engine: Engine, story_id: int) -> schemas.StoryDetail:
    story = story_timeline(engine, story_id)
    if story is None:
        raise HTTPException(404, f"no story with id {story_id}")
    return schemas.StoryDetail.model_validate(story)


def coverage_report(engine: Engine, since: date | None, until: date | None) -> schemas.CoverageReport:
    if since and until and since > until:
        raise HTTPException(422, "since must not be after until")
    if since and until and (until - since).days >= MAX_COVERAGE_DAYS:
        raise HTTPException(422, f"at most {MAX_COVERAGE_DAYS} days at a time")
    if since and not until:
        until = min(since + timedelta(days=MAX_COVERAGE_DAYS - 1), datetime.now(timezone.utc).date())
    coverage = coverage_by_day(engine, since, until)
    return schemas.CoverageReport(
        days=coverage.days, totals=coverage.totals, topic=coverage.topic, on_topic=coverage.on_topic,
        by_language=[schemas.Series(name=k, counts=v) for k, v in coverage.by_language.items()],
        by_outlet=[schemas.Series(name=k, counts=v) for k, v in coverage.by_outlet.items()])


def feed_statuses(engine: Engine, polls_per_feed: int = 10) -> list[schemas.FeedStatus]:
    polls = recent_polls(engine, polls_per_feed)
    return [schemas.FeedStatus.model_validate({**row, "polls": polls.get(row["feed"], [])})
            for row in feed_health(engine)]


def alert_records(engine: Engine, state: str | None, limit: int) -> list[schemas.AlertRecord]:
    return [schemas.AlertRecord.model_validate(row) for row in alert_history(engine, state=state, limit=limit)]
