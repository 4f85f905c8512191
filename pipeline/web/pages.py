"""The HTML pages: each renders the model its ``/api`` twin returns (see ``views``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context

from pipeline.errors import SearchQueryError
from pipeline.fulltext import Passage
from pipeline.storage.analysis import filter_choices
from pipeline.storage.queries import MIN_STORY_ARTICLES, count_smaller_stories
from pipeline.web import charts, views
from pipeline.web.api import Database
from pipeline.web.auth import route_path
from pipeline.web.params import AlertState, ArticleId, Day, MinArticles, SearchParams, StoryId

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)


def is_web_url(url: str | None) -> bool:
    """Only http(s) URLs become links; anything else (``javascript:``, ``data:``) stays text."""
    return url is not None and urlsplit(url.strip()).scheme.lower() in ("http", "https")


@pass_context
def path_for(context: dict[str, Any], name: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
    """The path of route ``name`` as the browser sees it (under any mount prefix), with a query."""
    path = route_path(context["request"], name, **{k: str(v) for k, v in params.items()})
    pairs = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    return f"{path}?{urlencode(pairs)}" if pairs else path


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def marked(text: str, marks: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` in pieces, each saying whether the query matched it (the template wraps
    those in ``<mark>``; every piece is escaped as any text is)."""
    return Passage(text, tuple(marks)).pieces()


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("pipeline.web", "templates"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.globals.update(path_for=path_for)
    environment.filters.update(when=when, marked=marked)
    environment.tests.update(web_url=is_web_url)
    return environment


templates = Jinja2Templates(env=_environment())


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("show_logout", getattr(request.app.state, "show_logout", False))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def render_login(request: Request, *, error: str | None, next: str, status_code: int = 200) -> HTMLResponse:
    return render(request, "login.html", status_code, error=error, next=next, show_logout=False)


@router.get("/", name="search")
@router.get("/search", name="search_page")
def search(request: Request, engine: Database, asked: SearchParams) -> HTMLResponse:
    error, results = None, None
    try:
        results = views.search_page(engine, asked)
    except SearchQueryError as problem:
        error = str(problem)
    return render(request, "search.html", 400 if error else 200, asked=asked, results=results,
                  error=error, choices=filter_choices(engine), query=_search_query(asked))


def _search_query(asked: views.SearchRequest) -> dict[str, Any]:
    """The search's parameters, for links to its other pages."""
    return {"q": asked.q, "lang": asked.lang, "outlet": asked.outlet, "topic": asked.topic,
            "story": asked.story, "since": asked.since, "until": asked.until,
            "min_similarity": asked.min_similarity, "order": asked.order}


@router.get("/articles/{article_id}", name="article")
def article(request: Request, engine: Database, article_id: ArticleId) -> HTMLResponse:
    return render(request, "article.html", details=views.article_page(engine, article_id))


@router.get("/stories", name="stories")
def stories(request: Request, engine: Database, limit: Annotated[int, Query(ge=1, le=500)] = 50,
            topic: Annotated[str | None, Query(max_length=80)] = None,
            min_articles: MinArticles = MIN_STORY_ARTICLES) -> HTMLResponse:
    return render(request, "stories.html", stories=views.story_list(engine, limit, topic or None, min_articles),
                  topic=topic or "", min_articles=min_articles,
                  smaller=count_smaller_stories(engine, min_articles, topic or None))


@router.get("/stories/{story_id}", name="story")
def story(request: Request, engine: Database, story_id: StoryId) -> HTMLResponse:
    return render(request, "story.html", story=views.story_page(engine, story_id))


@router.get("/coverage", name="coverage")
def coverage(request: Request, engine: Database, since: Day = None, until: Day = None) -> HTMLResponse:
    report = views.coverage_report(engine, since, until)
    series = {"language": {s.name: s.counts for s in report.by_language},
              "outlet": {s.name: s.counts for s in report.by_outlet}}
    drawn = [charts.stacked_bars("Articles per day by language", report.days, series["language"]),
             charts.stacked_bars("Articles per day by outlet", report.days, series["outlet"]),
             charts.line_chart(f"Articles per day on the topic “{report.topic}”", report.days,
                               {report.topic: report.on_topic})]
    return render(request, "coverage.html", report=report, charts=drawn, since=since, until=until)


@router.get("/feeds", name="feeds")
def feeds(request: Request, engine: Database) -> HTMLResponse:
    return render(request, "feeds.html", feeds=views.feed_statuses(engine))


@router.get("/alerts", name="alerts")
def alerts(request: Request, engine: Database, state: Annotated[AlertState | None, Query()] = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 50) -> HTMLResponse:
    return render(request, "alerts.html", alerts=views.alert_records(engine, state, limit), state=state or "")
