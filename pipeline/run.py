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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline.drafts import draft_from_page
from pipeline.errors import (
    FeedParseError,
    FetchError,
    HTTPStatusError,
    SettingsError,
    StorageError,
    is_transient,
)
from pipeline.feeds import parse_feed
from pipeline.fetch import Fetcher
from pipeline.labels import Labeller
from pipeline.models import ArticleDraft, FeedConfig, FeedEntry, FeedReport
from pipeline.schedule import is_due, next_poll_at
from pipeline.rechecks import RecheckCounts, recheck_articles
from pipeline.seeds import load_baseline, load_feeds
from pipeline.settings import Settings
from pipeline.storage.engine import open_database
from pipeline.storage.hostgate import DatabaseHostGate
from pipeline.storage.repository import FeedState, KnownEntries, PollRecord, Repository
from pipeline.versions import next_check_at

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


@dataclass(frozen=True)
class Cycle:
    """What a cycle works with: settings, one HTTP client, the database, the labeller, a clock."""

    settings: Settings
    fetcher: Fetcher
    repository: Repository
    labeller: Labeller
    clock: Clock


@contextmanager
def open_cycle(settings: Settings, clock: Clock = utcnow) -> Iterator[Cycle]:
    """The database (checked), a fetcher spacing hosts through it, and the labeller."""
    baseline = load_baseline(settings.baseline_dir)
    labeller = Labeller(settings.topics_path, baseline)
    with open_database(settings.database_url) as engine:
        with Fetcher(settings, gate=DatabaseHostGate(engine)) as fetcher:
            yield Cycle(settings, fetcher, Repository(engine), labeller, clock)


def run_cycle(settings: Settings, *, feeds: Sequence[FeedConfig] | None = None, force: bool = False,
              on_feed: Callable[[FeedReport], None] | None = None, clock: Clock = utcnow) -> CycleReport:
    """Poll every due feed once, one after the other; raises only when the cycle cannot run."""
    started = time.perf_counter()
    feeds = tuple(feeds) if feeds is not None else load_feeds(settings.feeds_path)
    with open_cycle(settings, clock) as cycle:
        states = cycle.repository.sync_feeds(feeds, clock())
        reports = []
        for feed in feeds:
            report = _run_or_skip(feed, states[feed.name], cycle, force)
            reports.append(report)
            if on_feed is not None:
                on_feed(report)
    return CycleReport(tuple(reports), cycle.fetcher.requests, time.perf_counter() - started)


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
    with open_cycle(settings, clock) as cycle:
        state = cycle.repository.sync_feeds([feed], clock())[name]
        return _run_or_skip(feed, state, cycle, True)


def _run_or_skip(feed: FeedConfig, state: FeedState, cycle: Cycle, force: bool) -> FeedReport:
    if not feed.enabled:
        return FeedReport(feed.name, "skipped", error="disabled")
    if not (force or is_due(state.next_poll_at, cycle.clock())):
        return FeedReport(feed.name, "skipped", error=f"not due before {state.next_poll_at:%Y-%m-%d %H:%M}Z")
    try:
        return run_feed(feed, state, cycle)
    except StorageError as error:
        log.error("feed=%s storage error: %s", feed.name, error)
        return FeedReport(feed.name, "error", error=str(error), transient=True)


def run_feed(feed: FeedConfig, state: FeedState, cycle: Cycle) -> FeedReport:
    """Poll one feed and store what it brought in one transaction; then re-check due articles."""
    settings, repository = cycle.settings, cycle.repository
    poll = _Poll(feed, state, settings, cycle.clock)
    try:
        result = cycle.fetcher.fetch_feed(feed.url, etag=state.etag, last_modified=state.last_modified)
        if result.not_modified:
            repository.store_poll(poll.record("not_modified", http_status=304))
            log.info("feed=%s not modified (304)", feed.name)
            rechecked = _recheck(feed, state, (), cycle)
            return poll.report("not_modified", http_status=304, versions=rechecked.changed)
        parsed = parse_feed(result.body, feed=feed.name, url=result.final_url,
                            content_type=result.content_type, max_entries=settings.max_entries)
    except (FetchError, FeedParseError) as error:
        http = error if isinstance(error, HTTPStatusError) else None
        log.warning("feed=%s failed: %s", feed.name, error)
        repository.store_poll(poll.record("error", http_status=http and http.status, error=str(error),
                                          retry_after=http and http.retry_after))
        return poll.report("error", http_status=http and http.status, error=str(error),
                           transient=is_transient(error))

    split = split_entries(parsed.entries, repository.known_entries(state.id, parsed.entries))
    drafts = build_drafts(split.fresh, feed, cycle.fetcher, cycle.labeller)
    failed = tuple(d.fetch_error for d in drafts if d.fetch_error)
    warning = f"warning: {parsed.warning}" if parsed.warning else None
    now = cycle.clock()
    counts = repository.store_poll(
        poll.record("ok", http_status=result.status, entries=len(parsed.entries), known=split.known,
                    errors=len(failed), etag=result.etag, last_modified=result.last_modified,
                    error=warning),
        drafts, split.links, outlet=feed.outlet,
        next_check=next_check_at(now, 0, now, first=settings.recheck_first, until=settings.recheck_until),
        rules=cycle.labeller.rules, digest_window=settings.digest_window)
    rechecked = _recheck(feed, state, split.moved, cycle)
    log.info("feed=%s entries=%d new=%d duplicates=%d known=%d errors=%d versions=%d", feed.name,
             len(parsed.entries), counts.new, counts.duplicates, split.known, len(failed), rechecked.changed)
    return poll.report("ok", http_status=result.status, entries=len(parsed.entries), new=counts.new,
                       duplicates=counts.duplicates, known=split.known, errors=len(failed),
                       error=warning, article_errors=failed, versions=rechecked.changed)


def _recheck(feed: FeedConfig, state: FeedState, moved: Sequence[tuple[FeedEntry, int]],
             cycle: Cycle) -> RecheckCounts:
    return recheck_articles(feed, state.id, moved, settings=cycle.settings, fetcher=cycle.fetcher,
                            engine=cycle.repository.engine, labeller=cycle.labeller, now=cycle.clock())


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


@dataclass(frozen=True)
class SplitEntries:
    fresh: list[FeedEntry]  # to fetch
    links: list[tuple[FeedEntry, int]]  # articles we already have, under another feed or URL
    moved: list[tuple[FeedEntry, int]]  # this feed's known entries, now at another address
    known: int  # entries this feed listed before, unchanged


def split_entries(entries: Sequence[FeedEntry], known: KnownEntries) -> SplitEntries:
    """What to do with each entry of a poll."""
    split = SplitEntries([], [], [], 0)
    for entry in entries:
        if entry.guid in known.by_guid:
            article_id, url = known.by_guid[entry.guid]
            if url == entry.url:
                split = dataclasses.replace(split, known=split.known + 1)
            else:
                split.moved.append((entry, article_id))
        elif entry.url in known.article_by_url:
            split.links.append((entry, known.article_by_url[entry.url]))
        else:
            split.fresh.append(entry)
    return split


def build_drafts(entries: Sequence[FeedEntry], feed: FeedConfig, fetcher: Fetcher,
                 labeller: Labeller) -> list[ArticleDraft]:
    """Fetch and read each entry's page once, even when several entries share a URL."""
    by_url: dict[str, ArticleDraft] = {}
    drafts = []
    for entry in entries:
        if entry.url in by_url:
            drafts.append(dataclasses.replace(by_url[entry.url], entry=entry))
            continue
        page, error = None, None
        try:
            page = fetcher.fetch_page(entry.link)
        except FetchError as failure:
            log.warning("feed=%s url=%s article failed: %s", feed.name, entry.link, failure)
            error = failure
        draft = draft_from_page(entry, page, error, language_hint=feed.language, labeller=labeller)
        by_url[entry.url] = draft
        drafts.append(draft)
    return drafts
