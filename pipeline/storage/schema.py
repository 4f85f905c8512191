"""The article database's tables (SQLAlchemy 2 typed models).

The same schema on SQLite and PostgreSQL; Alembic migrations in ``migrations/`` create
it, and the README documents it for analysts. Times are stored in UTC.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite too (which has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: newswatch stores aware times only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


MAX_ID = 2**31 - 1  # the largest id both databases store (PostgreSQL keeps ids as integer)
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # the days asked about: far from the calendar's ends
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(value: str, length: int | None = None) -> str:
    """``value`` as both databases store it alike: without NUL (PostgreSQL refuses it in
    text), with lone surrogates (not encodable as UTF-8) replaced by U+FFFD, and cut to
    the column's length (PostgreSQL refuses a longer value; SQLite would keep it whole)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub("\ufffd", value)
    return value[:length] if length is not None and len(value) > length else value


class StorableText(TypeDecorator[str]):
    """Text columns: whatever a feed or a page sent, stored the same on both databases."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable_text(value)


class StorableString(TypeDecorator[str]):
    """Bounded text columns (``StorableString(200)``): as ``StorableText``, cut to the length."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable_text(value, self.impl.length)  # type: ignore[misc]  # the String instance


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class Feed(Base):
    """A configured feed and its polling state."""

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(StorableString(200), unique=True)
    url: Mapped[str] = mapped_column(StorableText)
    outlet: Mapped[str] = mapped_column(StorableString(200))
    language: Mapped[str | None] = mapped_column(StorableString(8))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    etag: Mapped[str | None] = mapped_column(StorableText)
    last_modified: Mapped[str | None] = mapped_column(StorableString(100))
    last_polled_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(StorableString(20))
    last_error: Mapped[str | None] = mapped_column(StorableText)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_poll_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    health: Mapped[str | None] = mapped_column(StorableString(20))  # set by maintenance: ok, failing, silent, …
    health_note: Mapped[str | None] = mapped_column(StorableText)
    health_checked_at: Mapped[datetime | None]


class Poll(Base):
    """One poll of one feed: the audit trail operators read."""

    __tablename__ = "polls"
    __table_args__ = (Index(None, "feed_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(StorableString(20))  # ok | not_modified | error
    http_status: Mapped[int | None] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    known: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    deferred: Mapped[int] = mapped_column(Integer, default=0)  # new entries left for the next poll
    error: Mapped[str | None] = mapped_column(StorableText)


class Article(Base):
    """One article: its text, metadata and labels (the baseline is one too)."""

    __tablename__ = "articles"
    __table_args__ = (Index(None, "outlet", "first_seen_at"),)  # an outlet's recent articles (boilerplate)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"), index=True)
    outlet: Mapped[str] = mapped_column(StorableString(200), index=True)
    url: Mapped[str] = mapped_column(StorableText, index=True)
    canonical_url: Mapped[str] = mapped_column(StorableText, unique=True)
    guid: Mapped[str | None] = mapped_column(StorableText)
    title: Mapped[str] = mapped_column(StorableText, default="")
    page_title: Mapped[str | None] = mapped_column(StorableText)  # the page's own headline, for re-checks
    author: Mapped[str | None] = mapped_column(StorableText)
    site_name: Mapped[str | None] = mapped_column(StorableText)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    language: Mapped[str] = mapped_column(StorableString(8), index=True)
    language_confidence: Mapped[float] = mapped_column(Float)
    language_source: Mapped[str] = mapped_column(StorableString(16))
    declared_language: Mapped[str | None] = mapped_column(StorableString(35))
    word_count: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(StorableText)
    text_sha256: Mapped[str] = mapped_column(StorableString(64), index=True)
    dedup_key: Mapped[str | None] = mapped_column(StorableString(64), unique=True)
    text_source: Mapped[str] = mapped_column(StorableString(8))  # page | feed | seed
    extraction_note: Mapped[str | None] = mapped_column(StorableText)
    fetch_error: Mapped[str | None] = mapped_column(StorableText)
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    translated_from: Mapped[str | None] = mapped_column(StorableString(8))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # near-duplicates: the first copy this one repeats, how closely, and why
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    duplicate_similarity: Mapped[float | None] = mapped_column(Float)
    duplicate_reason: Mapped[str | None] = mapped_column(StorableText)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    shingle_count: Mapped[int | None] = mapped_column(Integer)
    # labels: story, closeness to the baseline and what the article adds to it
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), index=True)
    baseline_similarity: Mapped[float | None] = mapped_column(Float, index=True)
    baseline_adds: Mapped[list | None] = mapped_column(JSON)
    concept_vector: Mapped[dict | None] = mapped_column(JSON)
    # what it reports (pipeline.embedding: 512 float16) and when (published, else first seen)
    event_vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    event_time: Mapped[datetime | None] = mapped_column(index=True)
    summary_key: Mapped[str | None] = mapped_column(StorableString(64), index=True)  # outlet + feed summary
    # re-checks for new versions
    etag: Mapped[str | None] = mapped_column(StorableText)
    last_modified: Mapped[str | None] = mapped_column(StorableString(100))
    checks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)


class Story(Base):
    """Articles about one event, across outlets and languages."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(StorableText)  # the first article's title, in its language
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    article_count: Mapped[int] = mapped_column(Integer)  # originals; near-duplicates count once
    outlets: Mapped[list] = mapped_column(JSON)
    languages: Mapped[list] = mapped_column(JSON)
    # Not indexed: nearly every row is NULL, and an index tempts SQLite's planner to scan by it.
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))


class MinhashBand(Base):
    """One LSH band key of an article's MinHash signature: near-duplicate lookups by index."""

    __tablename__ = "minhash_bands"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)


class ArticleConcept(Base):
    """A concept an article speaks of, the terms that matched, and whether it is a topic label."""

    __tablename__ = "article_concepts"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    concept: Mapped[str] = mapped_column(StorableString(80), primary_key=True, index=True)
    kind: Mapped[str] = mapped_column(StorableString(10))
    hits: Mapped[int] = mapped_column(Integer)
    terms: Mapped[list] = mapped_column(JSON)
    is_topic: Mapped[bool] = mapped_column(Boolean, index=True)
    score: Mapped[float | None] = mapped_column(Float)  # a learned topic's probability


class ArticleSearch(Base):
    """An article's full-text index entry: the terms ``pipeline.fulltext`` gives its title
    and text. SQLite indexes them in the FTS5 table ``article_search_fts`` (kept in step
    by triggers); PostgreSQL in the column ``document`` (a tsvector with a GIN index),
    which migration 0005 adds there only."""

    __tablename__ = "article_search"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(StorableString(8))
    published_at: Mapped[datetime]  # the article's, else when it was first seen: searches filter here
    title_terms: Mapped[str] = mapped_column(StorableText)
    body_terms: Mapped[str] = mapped_column(StorableText)


class ArticleVersion(Base):
    """An earlier version of an article, and what changed when the next one replaced it."""

    __tablename__ = "article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(StorableText)
    text: Mapped[str] = mapped_column(StorableText)
    text_sha256: Mapped[str] = mapped_column(StorableString(64))
    replaced_at: Mapped[datetime]
    changes: Mapped[dict] = mapped_column(JSON)  # title before/after, paragraphs added/removed


class Entry(Base):
    """A feed's item, linked to the article it is (several entries may share one)."""

    __tablename__ = "entries"
    __table_args__ = (UniqueConstraint("feed_id", "guid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(StorableText)
    url: Mapped[str] = mapped_column(StorableText, index=True)
    link: Mapped[str] = mapped_column(StorableText)
    title: Mapped[str] = mapped_column(StorableText, default="")
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    first_seen_at: Mapped[datetime]
    # What the feed said of the entry (``FeedEntry.signature``): a change makes the article due a look.
    signature: Mapped[str | None] = mapped_column(StorableString(32))


class OutletParagraph(Base):
    """The per-outlet boilerplate memory: a paragraph's fingerprint (``pipeline.boilerplate``)
    and in how many of the outlet's articles it was seen, counted while it keeps appearing
    (a gap longer than ``RECENT`` starts the count again)."""

    __tablename__ = "outlet_paragraphs"

    outlet: Mapped[str] = mapped_column(StorableString(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(StorableString(16), primary_key=True)
    articles: Mapped[int] = mapped_column(Integer)  # distinct articles, each counted when first stored
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    example: Mapped[str] = mapped_column(StorableText)  # the start of the paragraph as first seen


class HostSlot(Base):
    """When a host may next be asked: per-host spacing shared by every worker."""

    __tablename__ = "host_slots"

    host: Mapped[str] = mapped_column(StorableString(300), primary_key=True)
    next_request_at: Mapped[datetime]


class FetchClaim(Base):
    """A page a poll is fetching now: another poll leaves it alone (``pipeline.storage.claims``)."""

    __tablename__ = "fetch_claims"

    url: Mapped[str] = mapped_column(StorableText, primary_key=True)
    owner: Mapped[str] = mapped_column(StorableString(40))
    claimed_at: Mapped[datetime] = mapped_column(index=True)


class MaintenanceRun(Base):
    """One run of the daily maintenance: feed health and housekeeping."""

    __tablename__ = "maintenance_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    feeds_checked: Mapped[int] = mapped_column(Integer)
    feeds_failing: Mapped[int] = mapped_column(Integer)
    feeds_silent: Mapped[int] = mapped_column(Integer)
    feeds_unpolled: Mapped[int] = mapped_column(Integer)
    polls_pruned: Mapped[int] = mapped_column(Integer)
    statistics_refreshed: Mapped[bool] = mapped_column(Boolean)


class Alert(Base):
    """The outbox: one alert per rule and story (sequence 0), then at most one digest per window."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("rule", "story_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(StorableString(80))
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)  # 0: the alert; n: the n-th digest window
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    terms: Mapped[dict | None] = mapped_column(JSON)  # topic -> the terms that matched
    idempotency_key: Mapped[str] = mapped_column(StorableString(120), unique=True)
    created_at: Mapped[datetime]
    not_before: Mapped[datetime]
    state: Mapped[str] = mapped_column(StorableString(10), index=True)  # pending|sending|sent|failed|held|merged
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(StorableText)
    delivered_to: Mapped[list | None] = mapped_column(JSON)  # targets that took it (no secrets)


class AlertAttempt(Base):
    """Every delivery attempt of an alert, and how it went."""

    __tablename__ = "alert_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime]
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(StorableText)
