"""Query parameters shared by the pages and the API.

HTML forms send empty fields as ``lang=&since=``; an empty value means "not given", so the
same URL works from a form and from a program. Ids and days have the ranges the databases
can hold: outside them a request is refused (422, naming the parameter) before any query,
where an id of 2**63 overflowed the driver and ``until=9999-12-31`` the day after it.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, Path, Query
from pydantic import BeforeValidator, Field

from pipeline.fulltext import MAX_QUERY_CHARS
from pipeline.storage.queries import MIN_STORY_ARTICLES
from pipeline.storage.schema import FIRST_DAY, LAST_DAY, MAX_ID
from pipeline.web.views import SearchRequest


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and value.strip() == "" else value


def _optional(kind: type, description: str, **limits):
    """An optional query parameter of ``kind``; its limits apply when it is given."""
    constrained = Annotated[kind, Field(**limits)] if limits else kind
    return Annotated[constrained | None, BeforeValidator(_blank_is_none), Query(description=description)]


if TYPE_CHECKING:  # what the handlers receive; FastAPI reads the parameter built below
    Day = date | None
else:
    Day = _optional(date, f"a UTC day, ISO 8601 (YYYY-MM-DD), {FIRST_DAY} to {LAST_DAY}", ge=FIRST_DAY, le=LAST_DAY)
ArticleId = Annotated[int, Path(ge=1, le=MAX_ID, description="article id")]
StoryId = Annotated[int, Path(ge=1, le=MAX_ID, description="story id")]
MinArticles = Annotated[int, Query(ge=1, le=MAX_ID, description=(
    f"only stories with at least this many articles (originals; default {MIN_STORY_ARTICLES}); 1 lists every story"))]
AlertState = Literal["pending", "sending", "sent", "failed", "held", "merged"]


def search_request(
        q: Annotated[str, Query(description='words (all must match), "exact phrase", OR, -word to exclude, '
                                            f"word* for a prefix; at most {MAX_QUERY_CHARS} characters")] = "",
        lang: _optional(str, "language, ISO 639-1 (or und)", max_length=8) = None,
        outlet: _optional(str, "outlet, exactly as stored", max_length=200) = None,
        topic: _optional(str, "topic id, e.g. summit", max_length=80) = None,
        story: _optional(int, "story id", ge=1, le=MAX_ID) = None,
        since: Day = None,
        until: Day = None,
        min_similarity: _optional(float, "lowest baseline similarity (0–1)", ge=0, le=1) = None,
        order: Annotated[Literal["relevance", "date"], Query()] = "relevance",
        page: Annotated[int, Query(ge=1, le=500)] = 1) -> SearchRequest:
    return SearchRequest(q=q.strip(), lang=lang, outlet=outlet, topic=topic, story=story, since=since,
                         until=until, min_similarity=min_similarity, order=order, page=page)


SearchParams = Annotated[SearchRequest, Depends(search_request)]
