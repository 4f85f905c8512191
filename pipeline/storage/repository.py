"""What the pipeline reads and writes: feeds' state, known entries, one poll's results.

Everything a poll produced is written in one transaction with multi-row upserts keyed
on unique constraints (an article's canonical URL and text hash, a feed's entry GUID),
so a retry, a second run or two workers storing the same article never duplicate it:
the database decides, not a check-then-insert in Python.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, or_, select, update

from pipeline.alerts import Rule
from pipeline.boilerplate import MIN_ARTICLES
from pipeline.dedup import summary_key
from pipeline.labels import ArticleLabels
from pipeline.models import ArticleDraft, FeedConfig, FeedEntry
from pipeline.seeds import Baseline
from pipeline.storage.boilerplate import remember_paragraphs
from pipeline.storage.engine import storage_errors, upsert_insert
from pipeline.storage.labelling import NewArticle, article_time, label_articles
from pipeline.storage.outbox import queue_alerts
from pipeline.storage.schema import Article, Entry, Feed, Poll
from pipeline.storage.search import index_articles
from pipeline.storage.upkeep import record_poll_health

BATCH = 200


@dataclass(frozen=True)
class FeedState:
    id: int
    name: str
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime | None
    consecutive_failures: int
    last_polled_at: datetime | None = None
    last_status: str | None = None  # ok, not_modified, error
    last_error: str | None = None


@dataclass(frozen=True)
class KnownEntries:
    """Entries seen before: this feed's GUIDs (with their article and URL), and article ids
    by cleaned URL (any feed)."""

    by_guid: dict[str, tuple[int, str]]
    article_by_url: dict[str, int]
    signatures: dict[str, str | None] = field(default_factory=dict)  # by GUID: what the feed said last

    @property
    def guids(self) -> frozenset[str]:
        return frozenset(self.by_guid)


@dataclass(frozen=True)
class PollRecord:
    """The outcome of one poll, as the audit row and the feed's new state."""

    feed_id: int
    started_at: datetime
    finished_at: datetime
    status: str  # ok | not_modified | error
    next_poll_at: datetime
    failures: int
    http_status: int | None = None
    error: str | None = None
    entries: int = 0
    known: int = 0
    errors: int = 0
    etag: str | None = None
    last_modified: str | None = None
    deferred: int = 0  # new entries left for the next poll


@dataclass(frozen=True)
class StoredCounts:
    new: int
    duplicates: int
    article_ids: tuple[int, ...]

    def plus(self, other: "StoredCounts") -> "StoredCounts":
        return StoredCounts(self.new + other.new, self.duplicates + other.duplicates,
                            tuple(sorted(self.article_ids + other.article_ids)))


class Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def sync_feeds(self, feeds: Sequence[FeedConfig], now: datetime) -> dict[str, FeedState]:
        """Insert new feeds, update changed ones; their polling state is kept."""
        rows = [{"name": f.name, "url": f.url, "outlet": f.outlet, "language": f.language,
                 "enabled": f.enabled, "interval_seconds": int(f.interval), "created_at": now,
                 "consecutive_failures": 0} for f in feeds]
        with self._begin() as connection:
            for chunk in _chunks(rows):
                statement = upsert_insert(connection, Feed.__table__).values(chunk)
                connection.execute(statement.on_conflict_do_update(
                    index_elements=["name"],
                    set_={key: statement.excluded[key]
                          for key in ("url", "outlet", "language", "enabled", "interval_seconds")}))
            return self._feed_states(connection, [f.name for f in feeds])

    def feed_states(self, names: Sequence[str]) -> dict[str, FeedState]:
        with self._connect() as connection:
            return self._feed_states(connection, names)

    def _feed_states(self, connection: Connection, names: Sequence[str]) -> dict[str, FeedState]:
        found = connection.execute(select(
            Feed.id, Feed.name, Feed.etag, Feed.last_modified, Feed.next_poll_at,
            Feed.consecutive_failures, Feed.last_polled_at, Feed.last_status, Feed.last_error,
        ).where(Feed.name.in_(names)))
        return {row.name: FeedState(*row) for row in found}

    def known_entries(self, feed_id: int, entries: Sequence[FeedEntry]) -> KnownEntries:
        seen: dict[str, tuple[int, str]] = {}
        signatures: dict[str, str | None] = {}
        by_url: dict[str, int] = {}
        with self._connect() as connection:
            for chunk in _chunks(entries):  # a huge feed: bounded statements
                guids = [e.guid for e in chunk]
                urls = sorted({e.url for e in chunk})
                for guid, article_id, url, signature in connection.execute(
                        select(Entry.guid, Entry.article_id, Entry.url, Entry.signature).where(
                            Entry.feed_id == feed_id, Entry.guid.in_(guids))):
                    seen[guid] = (article_id, url)
                    signatures[guid] = signature
                for url, article_id in connection.execute(
                        select(Entry.url, Entry.article_id).where(Entry.url.in_(urls))):
                    by_url.setdefault(url, article_id)
                for url, canonical, article_id in connection.execute(
                        select(Article.url, Article.canonical_url, Article.id).where(
                            or_(Article.canonical_url.in_(urls), Article.url.in_(urls)))):
                    by_url.setdefault(canonical, article_id)
                    by_url.setdefault(url, article_id)
        return KnownEntries(seen, by_url, signatures)

    def store_poll(self, poll: PollRecord, drafts: Sequence[ArticleDraft] = (),
                   links: Sequence[tuple[FeedEntry, int]] = (), outlet: str = "",
                   next_check: datetime | None = None, rules: Sequence[Rule] = (),
                   digest_window: float = 3600.0, record_poll: bool = True,
                   counted: StoredCounts | None = None, boilerplate_articles: int = MIN_ARTICLES) -> StoredCounts:
        """Write everything one poll produced, and the alerts it causes, in one transaction;
        count the new articles' paragraphs in the outlet's boilerplate memory.

        ``record_poll=False`` stores articles only (a poll stored piece by piece); the
        poll's own row then counts what those pieces ``counted`` besides its own."""
        with self._begin() as connection:
            article_ids, new_ids = self._insert_articles(connection, poll, drafts, outlet, next_check)
            created: dict[int, ArticleDraft] = {}  # each new article once, from its first draft
            for draft in drafts:
                if article_ids[draft.canonical_url] in new_ids:
                    created.setdefault(article_ids[draft.canonical_url], draft)
            summaries = summary_keys(outlet, created.values())
            originals = label_articles(connection, [
                NewArticle(id=article_id, title=d.extracted.title, outlet=outlet, language=d.language.code,
                           signature=d.signature, labels=d.labels,
                           when=article_time(d.extracted.published_at, poll.finished_at),
                           summary_key=summaries.get(d.canonical_url))
                for article_id, d in created.items()])
            index_articles(connection, created)
            queue_alerts(connection, originals, rules, poll.finished_at, digest_window)
            entry_links = [(d.entry, article_ids[d.canonical_url]) for d in drafts] + list(links)
            self._insert_entries(connection, poll.feed_id, entry_links, poll.finished_at)
            # Last: its rows are the ones other polls of the outlet wait for.
            remember_paragraphs(connection, outlet, created, poll.finished_at, boilerplate_articles)
            counts = StoredCounts(new=len(new_ids), duplicates=len(entry_links) - len(new_ids),
                                  article_ids=tuple(sorted(new_ids)))
            if record_poll:
                self._record_poll(connection, poll, counts.plus(counted) if counted else counts)
        return counts

    def _insert_articles(self, connection: Connection, poll: PollRecord, drafts: Sequence[ArticleDraft],
                         outlet: str, next_check: datetime | None) -> tuple[dict[str, int], set[int]]:
        # Sorted, so that two workers inserting overlapping batches lock rows in the same
        # order (PostgreSQL would otherwise deadlock them against each other).
        rows = sorted((_article_row(d, poll.feed_id, outlet, poll.finished_at, next_check) for d in drafts),
                      key=lambda row: row["canonical_url"])
        new_ids: set[int] = set()
        ids: dict[str, int] = {}
        # One statement for many rows (executemany): compiled once and cached, where a VALUES
        # list of its own would be compiled again for every poll; SQLAlchemy sends it in
        # batches within each database's limit on bound parameters.
        statement = (upsert_insert(connection, Article.__table__).on_conflict_do_nothing()
                     .returning(Article.__table__.c.id, Article.__table__.c.canonical_url))
        for article_id, canonical in (connection.execute(statement, rows) if rows else ()):
            ids[canonical] = article_id
            new_ids.add(article_id)
        missing = [d for d in drafts if d.canonical_url not in ids]
        if missing:
            # Either the canonical URL or the text hash is taken: the article exists.
            canonicals = [d.canonical_url for d in missing]
            keys = [d.fingerprint.dedup_key for d in missing if d.fingerprint.dedup_key]
            existing = connection.execute(select(Article.id, Article.canonical_url, Article.dedup_key)
                                          .where(or_(Article.canonical_url.in_(canonicals),
                                                     Article.dedup_key.in_(keys))))
            by_canonical: dict[str, int] = {}
            by_key: dict[str, int] = {}
            for article_id, canonical, key in existing:
                by_canonical[canonical] = article_id
                if key:
                    by_key[key] = article_id
            for draft in missing:
                ids[draft.canonical_url] = by_canonical.get(draft.canonical_url) or by_key[
                    draft.fingerprint.dedup_key]  # type: ignore[index]  # found by one or the other
        return ids, new_ids

    def _insert_entries(self, connection: Connection, feed_id: int,
                        links: Iterable[tuple[FeedEntry, int]], now: datetime) -> None:
        rows = [{"feed_id": feed_id, "guid": e.guid, "url": e.url, "link": e.link,
                 "title": e.title, "article_id": article_id, "first_seen_at": now, "signature": e.signature}
                for e, article_id in links]
        if rows:
            connection.execute(upsert_insert(connection, Entry.__table__).on_conflict_do_nothing(), rows)

    def _record_poll(self, connection: Connection, poll: PollRecord, counts: StoredCounts) -> None:
        connection.execute(upsert_insert(connection, Poll.__table__).values(
            feed_id=poll.feed_id, started_at=poll.started_at, finished_at=poll.finished_at,
            duration_ms=int((poll.finished_at - poll.started_at).total_seconds() * 1000),
            status=poll.status, http_status=poll.http_status, entries=poll.entries,
            new=counts.new, duplicates=counts.duplicates, known=poll.known, errors=poll.errors,
            deferred=poll.deferred, error=poll.error))
        state: dict[str, Any] = {"last_polled_at": poll.finished_at, "last_status": poll.status,
                                 "last_error": poll.error, "next_poll_at": poll.next_poll_at,
                                 "consecutive_failures": poll.failures}
        if poll.status != "error":
            state["last_success_at"] = poll.finished_at
        if poll.status == "ok":
            state.update(etag=poll.etag, last_modified=poll.last_modified)
        elif poll.status == "error" and poll.http_status is not None and 200 <= poll.http_status < 300:
            # A body came and could not be read: the validators describe an older body; without
            # them the next poll reads the feed whole instead of hiding behind a 304.
            state.update(etag=None, last_modified=None)
        connection.execute(update(Feed).where(Feed.id == poll.feed_id).values(**state))
        record_poll_health(connection, poll.feed_id, poll.finished_at)

    def load_baseline(self, baseline: Baseline, fingerprint_sha256: str, word_count: int,
                      now: datetime, labels: ArticleLabels | None = None) -> tuple[int, bool]:
        """Store the baseline article once (labelled, in its story); its id and whether it was new."""
        row = {"feed_id": None, "outlet": baseline.outlet, "url": baseline.url,
               "canonical_url": baseline.url, "guid": baseline.key, "title": baseline.title,
               "author": None, "site_name": None, "published_at": baseline.published_at,
               "first_seen_at": now, "language": baseline.language, "language_confidence": 1.0,
               "language_source": "seed", "declared_language": baseline.language,
               "word_count": word_count, "text": baseline.text, "text_sha256": fingerprint_sha256,
               "dedup_key": None, "text_source": "seed", "extraction_note": None,
               "fetch_error": None, "is_baseline": True, "translated_from": baseline.translated_from,
               "version": 1, "checks": 0}
        with self._begin() as connection:
            inserted = connection.execute(upsert_insert(connection, Article.__table__).values(row)
                                          .on_conflict_do_nothing()
                                          .returning(Article.__table__.c.id)).scalar()
            if inserted is not None:
                label_articles(connection, [NewArticle(
                    id=inserted, title=baseline.title, outlet=baseline.outlet, language=baseline.language,
                    when=baseline.published_at, signature=None, labels=labels, is_baseline=True)])
                index_articles(connection, [inserted])
                return inserted, True
            return connection.execute(select(Article.id).where(
                Article.canonical_url == baseline.url)).scalar_one(), False

    def _begin(self):
        return storage_errors(self.engine.begin)

    def _connect(self):
        return storage_errors(self.engine.connect)


def _article_row(draft: ArticleDraft, feed_id: int, outlet: str, now: datetime,
                 next_check: datetime | None) -> dict[str, Any]:
    extracted = draft.extracted
    return {
        "feed_id": feed_id, "outlet": outlet, "url": draft.url,
        "canonical_url": draft.canonical_url, "guid": draft.entry.guid,
        "title": extracted.title, "page_title": extracted.page_title or None,
        "author": extracted.author or None,
        "site_name": extracted.site_name or None, "published_at": extracted.published_at,
        "first_seen_at": now, "language": draft.language.code,
        "language_confidence": draft.language.confidence,
        "language_source": draft.language.source,
        "declared_language": extracted.declared_language,
        "word_count": draft.fingerprint.word_count, "text": extracted.text,
        "text_sha256": draft.fingerprint.text_sha256, "dedup_key": draft.fingerprint.dedup_key,
        "text_source": extracted.source, "extraction_note": extracted.note,
        "fetch_error": draft.fetch_error, "is_baseline": False, "translated_from": None,
        "version": 1, "etag": draft.etag, "last_modified": draft.last_modified, "checks": 0,
        "next_check_at": next_check,
    }


def summary_keys(outlet: str, drafts: Iterable[ArticleDraft]) -> dict[str, str]:
    """Same-piece keys of the drafts that have only their feed's text (with a page, its text
    decides), leaving out a summary the poll lists three times or more: a feed's template
    teaser ("Watch live coverage …"), not one piece under two URLs."""
    keys = {d.canonical_url: summary_key(outlet, d.entry.summary) for d in drafts if d.extracted.source == "feed"}
    counts = Counter(key for key in keys.values() if key)
    return {url: key for url, key in keys.items() if key and counts[key] < 3}


def _chunks(rows: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start:start + BATCH]
