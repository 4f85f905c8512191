"""The JSON API's response models: what ``/api/...`` returns and ``/openapi.json`` describes.

The HTML pages render the very same objects, so a page and its API twin never disagree.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class ArticleRef(BaseModel):
    id: int
    outlet: str
    title: str


class SearchHit(BaseModel):
    id: int
    title: str
    url: str
    outlet: str
    language: str
    published_at: datetime | None
    first_seen_at: datetime
    story_id: int | None
    duplicate_of: int | None
    baseline_similarity: float | None
    topics: list[str]
    snippet: str = Field(description="plain text, not HTML")
    rank: float
    marks: list[tuple[int, int]] = Field(default=[], description="character ranges [start, end) of the "
                                         "snippet whose words matched the query")


class SearchFilters(BaseModel):
    lang: str | None = None
    outlet: str | None = None
    topic: str | None = None
    story: int | None = None
    since: date | None = None
    until: date | None = None
    min_similarity: float | None = None


class SearchPage(BaseModel):
    query: str
    filters: SearchFilters
    order: str
    total: int
    page: int
    pages: int
    per_page: int
    hits: list[SearchHit]


class ArticleRecord(BaseModel):
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
    baseline_adds: list[str]


class Concept(BaseModel):
    concept: str
    kind: str
    hits: int
    terms: list[str]
    is_topic: bool
    score: float | None = None  # a learned topic's probability


class Copy(BaseModel):
    id: int
    outlet: str
    title: str
    duplicate_similarity: float | None
    duplicate_reason: str | None


class DiffSegment(BaseModel):
    kind: str = Field(description="same, ins or del")
    text: str


class DiffParagraph(BaseModel):
    kind: str = Field(description="same, changed, ins or del")
    segments: list[DiffSegment]


class Version(BaseModel):
    version: int
    title: str
    replaced_at: datetime
    changes: dict
    next_title: str = Field(description="the title of the version that replaced it")
    diff: list[DiffParagraph] = Field(description="this version's text against the next one's")


class StoryRef(BaseModel):
    id: int
    title: str
    article_count: int
    outlets: list[str]
    languages: list[str]


class ArticleDetail(BaseModel):
    article: ArticleRecord
    duplicate_reason: str | None
    original: ArticleRef | None
    copies: list[Copy]
    concepts: list[Concept]
    versions: list[Version]
    story: StoryRef | None


class TimelineEntry(BaseModel):
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
    copies: list[TimelineEntry] = []


class StorySummary(BaseModel):
    id: int
    title: str
    first_seen_at: datetime
    last_seen_at: datetime
    article_count: int
    outlets: list[str]
    languages: list[str]


class StoryDetail(StorySummary):
    merged_into: int | None
    articles: list[TimelineEntry]


class Series(BaseModel):
    name: str
    counts: list[int]


class CoverageReport(BaseModel):
    days: list[date]
    totals: list[int]
    by_language: list[Series]
    by_outlet: list[Series]
    topic: str
    on_topic: list[int]


class Poll(BaseModel):
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


class FeedStatus(BaseModel):
    feed: str
    outlet: str
    enabled: bool
    status: str | None
    health: str | None
    health_note: str | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    failures: int
    next_poll_at: datetime | None
    articles: int
    error: str | None
    polls: list[Poll]


class Attempt(BaseModel):
    attempted_at: datetime
    ok: bool
    error: str | None


class AlertRecord(BaseModel):
    id: int
    rule: str
    story_id: int
    story_title: str
    sequence: int = Field(description="0 for the alert, n for its n-th digest")
    article_id: int | None
    terms: dict[str, list[str]]
    state: str
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None
    delivered_to: list[str]
    attempts: list[Attempt]
