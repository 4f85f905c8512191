"""One cycle: every due feed polled, its new entries fetched, read, labelled and stored.

``run_feed`` is one feed's poll from request to commit; ``run_cycle`` runs it for every
due feed. A feed's failure — network, HTTP, a malformed body — is recorded against the
feed (audit row, failure count, backoff) and the cycle moves on; a page's failure is
recorded against its article, which is still stored from the feed's summary. Only a
cycle that cannot start (bad configuration, no database) raises.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline.dedup import fingerprint_text
from pipeline.errors import (
    ExtractionError,
    FeedParseError,
    FetchError,
    HTTPStatusError,
    SettingsError,
    StorageError,
    is_transient,
)
from pipeline.extract import extract_article, summary_article
from pipeline.feeds import parse_feed
from pipeline.fetch import Fetcher
from pipeline.language import detect_language
from pipeline.models import ArticleDraft, FeedConfig, FeedEntry, FeedReport
from pipeline.schedule import is_due, next_poll_at
from pipeline.seeds import load_feeds
from pipeline.settings import Settings
from pipeline.storage.engine import open_database
from pipeline.storage.hostgate import DatabaseHostGate
from pipeline.storage.repository import FeedState, KnownEntries, PollRecord, Repository
from pipeline.urls import choose_canonical, clean_url

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class CycleReport:
    feeds: tuple[FeedReport, ...]
    requests: int
    duration: float

    @property
    def new(self) -> int:
        return sum(report.new for report in self.feeds)


def run_cycle(settings: Settings, *, feeds: Sequence[FeedConfig] | None = None, force: bool = False,
              on_feed: Callable[[FeedReport], None] | None = None, clock: Clock = utcnow) -> CycleReport:
    """Poll every due feed once, one after the other; raises only when the cycle cannot run."""
    started = time.perf_counter()
    feeds = tuple(feeds) if feeds is not None else load_feeds(settings.feeds_path)
    with open_database(settings.database_url) as engine:
        repository = Repository(engine)
        states = repository.sync_feeds(feeds, clock())
        reports = []
        with Fetcher(settings, gate=DatabaseHostGate(engine)) as fetcher:
            for feed in feeds:
                report = _run_or_skip(feed, states[feed.name], settings, fetcher, repository,
                                      force, clock)
                reports.append(report)
                if on_feed is not None:
                    on_feed(report)
    return CycleReport(tuple(reports), fetcher.requests, time.perf_counter() - started)


def plan_cycle(settings: Settings, *, force: bool = False, clock: Clock = utcnow) -> list[str]:
    """Names of the feeds due now (their interval, stretched by backoff after failures)."""
    feeds = load_feeds(settings.feeds_path)
    with open_database(settings.database_url) as engine:
        states = Repository(engine).sync_feeds(feeds, clock())
    now = clock()
    return [f.name for f in feeds if f.enabled and (force or is_due(states[f.name].next_poll_at, now))]


def poll_one(settings: Settings, name: str, *, clock: Clock = utcnow) -> FeedReport:
    """One feed's poll on its own, as a scheduler's task runs it (e.g. an Airflow mapped task)."""
    feed = next((f for f in load_feeds(settings.feeds_path) if f.name == name), None)
    if feed is None:
        raise SettingsError(f"{settings.feeds_path}: no feed named {name!r}")
    with open_database(settings.database_url) as engine:
        repository = Repository(engine)
        state = repository.sync_feeds([feed], clock())[name]
        with Fetcher(settings, gate=DatabaseHostGate(engine)) as fetcher:
            return _run_or_skip(feed, state, settings, fetcher, repository, True, clock)


def _run_or_skip(feed: FeedConfig, state: FeedState, settings: Settings, fetcher: Fetcher,
                 repository: Repository, force: bool, clock: Clock) -> FeedReport:
    if not feed.enabled:
        return FeedReport(feed.name, "skipped", error="disabled")
    if not (force or is_due(state.next_poll_at, clock())):
        return FeedReport(feed.name, "skipped", error=f"not due before {state.next_poll_at:%Y-%m-%d %H:%M}Z")
    try:
        return run_feed(feed, state, settings=settings, fetcher=fetcher, repository=repository,
                        clock=clock)
    except StorageError as error:
        log.error("feed=%s storage error: %s", feed.name, error)
        return FeedReport(feed.name, "error", error=str(error), transient=True)


def run_feed(feed: FeedConfig, state: FeedState, *, settings: Settings, fetcher: Fetcher,
             repository: Repository, clock: Clock = utcnow) -> FeedReport:
    """Poll one feed and store what it brought, in one transaction."""
    poll = _Poll(feed, state, settings, clock)
    try:
        result = fetcher.fetch_feed(feed.url, etag=state.etag, last_modified=state.last_modified)
        if result.not_modified:
            repository.store_poll(poll.record("not_modified", http_status=304))
            log.info("feed=%s not modified (304)", feed.name)
            return poll.report("not_modified", http_status=304)
        parsed = parse_feed(result.body, feed=feed.name, url=result.final_url,
                            content_type=result.content_type, max_entries=settings.max_entries)
    except (FetchError, FeedParseError) as error:
        http = error if isinstance(error, HTTPStatusError) else None
        log.warning("feed=%s failed: %s", feed.name, error)
        repository.store_poll(poll.record("error", http_status=http and http.status, error=str(error),
                                          retry_after=http and http.retry_after))
        return poll.report("error", http_status=http and http.status, error=str(error),
                           transient=is_transient(error))

    fresh, links, known = split_entries(parsed.entries, repository.known_entries(state.id, parsed.entries))
    drafts = build_drafts(fresh, feed, fetcher)
    failed = tuple(d.fetch_error for d in drafts if d.fetch_error)
    warning = f"warning: {parsed.warning}" if parsed.warning else None
    counts = repository.store_poll(
        poll.record("ok", http_status=result.status, entries=len(parsed.entries), known=known,
                    errors=len(failed), etag=result.etag, last_modified=result.last_modified,
                    error=warning),
        drafts, links, outlet=feed.outlet)
    log.info("feed=%s entries=%d new=%d duplicates=%d known=%d errors=%d", feed.name,
             len(parsed.entries), counts.new, counts.duplicates, known, len(failed))
    return poll.report("ok", http_status=result.status, entries=len(parsed.entries), new=counts.new,
                       duplicates=counts.duplicates, known=known, errors=len(failed),
                       error=warning, article_errors=failed)


class _Poll:
    """One poll of one feed under way: its timing, and the feed's state after it."""

    def __init__(self, feed: FeedConfig, state: FeedState, settings: Settings, clock: Clock) -> None:
        self.feed, self.state, self.settings, self.clock = feed, state, settings, clock
        self.started = clock()
        self.timer = time.perf_counter()

    def record(self, status: str, *, retry_after: float | None = None, **fields) -> PollRecord:
        failures = self.state.consecutive_failures + 1 if status == "error" else 0
        finished = self.clock()
        upcoming = next_poll_at(finished, self.feed.interval, failures, retry_after=retry_after,
                                max_backoff=self.settings.max_feed_backoff)
        return PollRecord(feed_id=self.state.id, started_at=self.started, finished_at=finished,
                          status=status, failures=failures, next_poll_at=upcoming, **fields)

    def report(self, status: str, **fields) -> FeedReport:
        return FeedReport(self.feed.name, status, duration=time.perf_counter() - self.timer, **fields)


def split_entries(entries: Sequence[FeedEntry], known: KnownEntries
                  ) -> tuple[list[FeedEntry], list[tuple[FeedEntry, int]], int]:
    """Entries to fetch; entries that are articles we already have; count seen in this feed."""
    fresh: list[FeedEntry] = []
    links: list[tuple[FeedEntry, int]] = []
    known_count = 0
    for entry in entries:
        if entry.guid in known.guids:
            known_count += 1
        elif entry.url in known.article_by_url:
            links.append((entry, known.article_by_url[entry.url]))
        else:
            fresh.append(entry)
    return fresh, links, known_count


def build_drafts(entries: Sequence[FeedEntry], feed: FeedConfig, fetcher: Fetcher) -> list[ArticleDraft]:
    """Fetch and read each entry's page once, even when several entries share a URL."""
    by_url: dict[str, ArticleDraft] = {}
    drafts = []
    for entry in entries:
        if entry.url in by_url:
            drafts.append(dataclasses.replace(by_url[entry.url], entry=entry))
            continue
        draft = build_draft(entry, feed, fetcher)
        by_url[entry.url] = draft
        drafts.append(draft)
    return drafts


def build_draft(entry: FeedEntry, feed: FeedConfig, fetcher: Fetcher) -> ArticleDraft:
    """The article behind one entry; a page that fails leaves the feed's summary, and why."""
    fetch_error = None
    page_url = entry.url
    try:
        page = fetcher.fetch_page(entry.link)
        page_url = clean_url(page.final_url)
        extracted = extract_article(page, entry)
    except (FetchError, ExtractionError, ValueError) as error:
        fetch_error = str(error)
        log.warning("feed=%s url=%s article failed: %s", feed.name, entry.link, error)
        extracted = summary_article(entry, note=fetch_error)
    language = detect_language(f"{extracted.title}\n{extracted.text}",
                               declared=extracted.declared_language, hint=feed.language)
    return ArticleDraft(
        entry=entry, url=page_url, canonical_url=choose_canonical(page_url, extracted.canonical_url),
        extracted=extracted, language=language,
        fingerprint=fingerprint_text(extracted.text, from_page=extracted.source == "page"),
        fetch_error=fetch_error)
