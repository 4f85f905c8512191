"""The JSON API under ``/api``: the pages' data for programs (described at /openapi.json)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import Engine

from pipeline.errors import SearchQueryError
from pipeline.storage.queries import MIN_STORY_ARTICLES
from pipeline.web import schemas, views
from pipeline.web.params import AlertState, ArticleId, Day, MinArticles, SearchParams, StoryId


def database(request: Request) -> Engine:
    """The app's read-only engine."""
    return request.app.state.engine


Database = Annotated[Engine, Depends(database)]
router = APIRouter(tags=["newswatch"])


@router.get("/search", response_model=schemas.SearchPage, name="api_search")
def search(engine: Database, asked: SearchParams) -> schemas.SearchPage:
    """Full-text search with filters; an empty query lists every article, newest first."""
    try:
        return views.search_page(engine, asked)
    except SearchQueryError as error:
        raise HTTPException(400, str(error)) from None


@router.get("/articles/{article_id}", response_model=schemas.ArticleDetail, name="api_article")
def article(engine: Database, article_id: ArticleId) -> schemas.ArticleDetail:
    """One article: text, metadata, copies, versions with their diffs, story, topics."""
    return views.article_page(engine, article_id)


@router.get("/stories", response_model=list[schemas.StorySummary], name="api_stories")
def stories(engine: Database, limit: Annotated[int, Query(ge=1, le=500)] = 50,
            topic: Annotated[str | None, Query(max_length=80)] = None,
            min_articles: MinArticles = MIN_STORY_ARTICLES) -> list[schemas.StorySummary]:
    """The most recent stories of at least ``min_articles`` articles (``min_articles=1``: all)."""
    return views.story_list(engine, limit, topic or None, min_articles)


@router.get("/stories/{story_id}", response_model=schemas.StoryDetail, name="api_story")
def story(engine: Database, story_id: StoryId) -> schemas.StoryDetail:
    """A story's timeline: its articles in time order, copies under their originals."""
    return views.story_page(engine, story_id)


@router.get("/coverage", response_model=schemas.CoverageReport, name="api_coverage")
def coverage(engine: Database, since: Day = None, until: Day = None) -> schemas.CoverageReport:
    """Articles per day by language, by outlet, and on the summit topic."""
    return views.coverage_report(engine, since, until)


@router.get("/feeds", response_model=list[schemas.FeedStatus], name="api_feeds")
def feeds(engine: Database, polls: Annotated[int, Query(ge=0, le=100)] = 10) -> list[schemas.FeedStatus]:
    """Every feed's health and its most recent polls."""
    return views.feed_statuses(engine, polls)


@router.get("/alerts", response_model=list[schemas.AlertRecord], name="api_alerts")
def alerts(engine: Database, state: Annotated[AlertState | None, Query()] = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[schemas.AlertRecord]:
    """The newest alerts with their delivery attempts."""
    return views.alert_records(engine, state, limit)
