"""Frozen values that flow between the stages of a cycle.

Stages take these and return these; none of them holds a connection, a session or a
client, so every stage can be tested with plain values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pipeline.errors import PermanentFeedError, TransientFeedError

if TYPE_CHECKING:  # values of later stages, carried along; no import cycle at run time
    from pipeline.dedup import Signature
    from pipeline.labels import ArticleLabels


@dataclass(frozen=True)
class FeedConfig:
    """One ``[[feed]]`` of the feed list."""

    name: str
    url: str
    outlet: str
    language: str | None = None
    enabled: bool = True
    interval: float = 900.0


@dataclass(frozen=True)
class FetchResult:
    """A response with a usable body, or a 304 (``not_modified``, empty body)."""

    url: str
    final_url: str
    status: int
    body: bytes = b""
    content_type: str = ""
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    elapsed: float = 0.0
    redirects: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, as the feed describes it (nothing fetched yet)."""

    guid: str
    link: str
    url: str  # the link cleaned of tracking parameters: the key used before fetching
    title: str = ""
    author: str = ""
    published_at: datetime | None = None
    summary: str = ""
    updated: str = ""  # the feed's own mark of a change (atom:updated, dc:modified), as written

    @property
    def signature(self) -> str:
        """What the feed says about the entry, in one hash: when it changes for a known
        entry, the feed is telling us the article changed."""
        said = "\x1f".join((self.title, self.summary, self.updated))
        return hashlib.sha256(said.encode("utf-8", "replace")).hexdigest()[:32]


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    language: str | None
    entries: tuple[FeedEntry, ...]
    warning: str | None = None  # feedparser's bozo reason when it still gave entries
    skipped: int = 0  # entries without a usable link, or past the memory cap (the oldest)


@dataclass(frozen=True)
class ExtractedArticle:
    """What the article stage made of one page (or of the feed entry, as a fallback)."""

    text: str
    source: str  # "page", or "feed" when the page gave too little text
    title: str = ""
    author: str = ""
    published_at: datetime | None = None
    site_name: str = ""
    canonical_url: str | None = None
    declared_language: str | None = None
    note: str | None = None  # why the fallback was taken, or why the page failed
    page_title: str = ""  # the page's own headline, compared between re-checks


@dataclass(frozen=True)
class LanguageGuess:
    code: str  # ISO 639-1, or "und"
    confidence: float
    source: str  # "text", "declared" (page/feed said so and the text agrees), "prior", "none"


@dataclass(frozen=True)
class Fingerprint:
    text_sha256: str
    word_count: int
    dedup_key: str | None  # the hash, when the text is long enough to identify an article


@dataclass(frozen=True)
class ArticleDraft:
    """An article ready to store: the entry, what extraction made of it, its labels."""

    entry: FeedEntry
    url: str
    canonical_url: str
    extracted: ExtractedArticle
    language: LanguageGuess
    fingerprint: Fingerprint
    fetch_error: str | None = None
    signature: Signature | None = None
    labels: ArticleLabels | None = None
    etag: str | None = None  # the page's validators, for re-checks
    last_modified: str | None = None
    # (fingerprint, start) of each distinct paragraph of the page's text before boilerplate
    # was removed: what the outlet's memory counts for this article (pipeline.boilerplate)
    paragraphs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FeedReport:
    """What one feed's poll did: the row of the cycle's summary table."""

    feed: str
    status: str  # ok | not_modified | error | skipped
    http_status: int | None = None
    entries: int = 0
    new: int = 0
    duplicates: int = 0
    known: int = 0
    errors: int = 0
    error: str | None = None
    duration: float = 0.0
    article_errors: tuple[str, ...] = field(default=())
    transient: bool = False  # for a failed poll: worth retrying soon
    versions: int = 0  # new versions found by re-checks
    deferred: int = 0  # new entries left for the next poll (per-poll cap or time budget)

    def raise_for_failure(self) -> None:
        """Raise TransientFeedError or PermanentFeedError when the poll failed."""
        if self.status == "error":
            raise (TransientFeedError if self.transient else PermanentFeedError)(self.feed, self.error or "")
