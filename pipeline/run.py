"""One cycle: every due feed polled, its new entries fetched, read, labelled and stored.

``run_feed`` is one feed's poll from request to commit; ``run_cycle`` runs it for every
due feed, several hosts at once (``pipeline.concurrency``). A feed's failure — network,
HTTP, a malformed body, or anything nobody foresaw (a bug, an input no stage expected) —
is recorded against the feed (audit row, failure count, backoff) and the cycle moves on;
a page's failure is recorded against its article, which is still stored from the feed's
summary. Only a cycle that cannot start (bad configuration, no database) raises.

A poll is bounded: it takes at most ``NEWSWATCH_MAX_ENTRIES`` new entries, newest first,
and starts no page fetch after ``NEWSWATCH_POLL_BUDGET`` seconds; what it leaves is
counted on the poll (``deferred``) and taken by the next poll, which fetches the feed
unconditionally for it. Entries another poll is fetching at the same time (a second
run, another worker) are left for the next poll too (``pipeline.claim``). If the poll's
transaction is refused, its articles are stored one by one, so one that the database
will not take does not hold the others hostage.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pipeline.boilerplate import OutletMemory
from pipeline.claim import claim_entries, poll_owner
from pipeline.concurrency import LANES, Group, group_by_host, poll_lanes, poll_shares, process_count, share_out
from pipeline.drafts import PageReading, count_poll, draft_from_reading, read_page
from pipeline.errors import (
    BudgetSpentError,
    FeedParseError,
    FetchError,
    HTTPStatusError,
    SettingsError,
    StorageError,
    is_transient,
)
from pipeline.feeds import parse_feed
from pipeline.fetch import Budget, Fetcher
from pipeline.labels import Labeller
from pipeline.models import ArticleDraft, FeedConfig, FeedEntry, FeedReport, FetchResult
from pipeline.schedule import capped_retry_after, is_due, next_poll_at
from pipeline.rechecks import RecheckCounts, recheck_articles
from pipeline.seeds import load_baseline, load_feeds
from pipeline.settings import Settings
from pipeline.storage.boilerplate import recall_memory
from pipeline.storage.engine import open_database
from pipeline.storage.hostgate import DatabaseHostGate
from pipeline.storage.repository import FeedState, KnownEntries, PollRecord, Repository, StoredCounts
from pipeline.versions import next_check_at

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
Recall = Callable[[Sequence[str]], OutletMemory]  # an outlet's stored memory of these fingerprints
RETURN_WITHIN = 900.0  # seconds: a poll that left entries for later is followed this soon at the latest


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
    labeller = Labeller(settings.topics_path, baseline, cache=settings.data_dir / "cache")
    with open_database(settings.database_url, connections=LANES) as engine:
        with Fetcher(settings, gate=DatabaseHostGate(engine)) as fetcher:
            yield Cycle(settings, fetcher, Repository(engine), labeller, clock)


def run_cycle(settings: Settings, *, feeds: Sequence[FeedConfig] | None = None, force: bool = False,
              on_feed: Callable[[FeedReport], None] | None = None, clock: Clock = utcnow) -> CycleReport:
    """Poll every due feed once — hosts side by side, in up to ``NEWSWATCH_WORKERS``
    processes (``pipeline.concurrency``); raises only when the cycle cannot run. The
    report lists the feeds in the feed list's order, whatever order they finished in."""
    started = time.perf_counter()
    feeds = tuple(feeds) if feeds is not None else load_feeds(settings.feeds_path)
    states, due = due_feeds(settings, feeds, force=force, clock=clock)
    groups = group_by_host(feeds)
    shares = share_out(groups, process_count(settings.workers, len(due), len(group_by_host(due))))
    reports: dict[str, FeedReport] = {}

    def report(result: FeedReport) -> None:
        reports[result.feed] = result
        if on_feed is not None:
            on_feed(result)

    requests = poll_shares(shares, poll_share, (settings, states, force, clock), report)
    return CycleReport(tuple(reports[f.name] for f in feeds), requests, time.perf_counter() - started)


def poll_share(groups: Sequence[Group], report: Callable[[FeedReport], None], settings: Settings,
               states: dict[str, FeedState], force: bool, clock: Clock) -> int:
    """One process's share of a cycle: its hosts polled ``LANES`` at a time, each host's
    feeds in turn. The requests it made."""
    with open_cycle(settings, clock) as cycle:
        poll_lanes(groups, lambda feed: _run_or_skip(feed, states[feed.name], cycle, force), report)
        return cycle.fetcher.requests


def plan_cycle(settings: Settings, *, force: bool = False, clock: Clock = utcnow) -> list[str]:
    """Names of the feeds due now (their interval, stretched by backoff after failures)."""
    return [f.name for f in due_feeds(settings, load_feeds(settings.feeds_path), force=force, clock=clock)[1]]


def due_feeds(settings: Settings, feeds: Sequence[FeedConfig], *, force: bool = False,
              clock: Clock = utcnow) -> tuple[dict[str, FeedState], list[FeedConfig]]:
    """The feeds' states (the list synced to the database first) and which enabled feeds are
    due now (``force``: all of them)."""
    with open_database(settings.database_url) as engine:
        states = Repository(engine).sync_feeds(feeds, clock())
    now = clock()
    return states, [f for f in feeds if f.enabled and (force or is_due(states[f.name].next_poll_at, now))]


def poll_one(settings: Settings, name: str, *, run_started: datetime | None = None,
             clock: Clock = utcnow) -> FeedReport:
    """One feed's poll on its own, as a scheduler's task runs it (e.g. an Airflow mapped task).
    ``run_started``: when the scheduler's run began; a retry within the run does not count
    the feed's failure again."""
    feed = next((f for f in load_feeds(settings.feeds_path, [name]) if f.name == name), None)
    if feed is None:
        raise SettingsError(f"{settings.feeds_path}: no feed named {name!r}")
    with open_cycle(settings, clock) as cycle:
        states = cycle.repository.sync_feeds([feed], clock())
        return run_polls([feed], states, cycle, run_started=run_started)[0]


def run_polls(feeds: Sequence[FeedConfig], states: dict[str, FeedState], cycle: Cycle, *,
              run_started: datetime | None = None) -> list[FeedReport]:
    """Poll these feeds now, due or not, one after the other; one's failure is its own."""
    return [_run_or_skip(feed, states[feed.name], cycle, True, run_started=run_started) for feed in feeds]


def _run_or_skip(feed: FeedConfig, state: FeedState, cycle: Cycle, force: bool, *,
                 run_started: datetime | None = None) -> FeedReport:
    if not feed.enabled:
        return FeedReport(feed.name, "skipped", error="disabled")
    if not (force or is_due(state.next_poll_at, cycle.clock())):
        return FeedReport(feed.name, "skipped", error=f"not due before {state.next_poll_at:%Y-%m-%d %H:%M}Z")
    poll = _Poll(feed, state, cycle.settings, cycle.clock, run_started=run_started)
    try:
        return run_feed(feed, state, cycle, poll)
    except StorageError as error:
        log.error("feed=%s storage error: %s", feed.name, error)
        return _record_failure(poll, cycle, str(error), transient=True)
    except Exception as error:  # noqa: BLE001 — whatever one feed brings costs only that feed
        log.exception("feed=%s failed unexpectedly", feed.name)
        return _record_failure(poll, cycle, f"internal error: {type(error).__name__}: {error}", transient=False)


def _record_failure(poll: _Poll, cycle: Cycle, reason: str, *, transient: bool) -> FeedReport:
    """Record a failed poll in a transaction of its own (unless the poll was already
    recorded), so the feed shows the failure and backs off; the cycle goes on."""
    if not poll.recorded:
        try:
            cycle.repository.store_poll(poll.record("error", error=reason[:2000]))
        except StorageError as error:
            log.error("feed=%s failure not recorded: %s", poll.feed.name, error)
    return poll.report("error", error=reason, transient=transient)


def run_feed(feed: FeedConfig, state: FeedState, cycle: Cycle, poll: _Poll | None = None) -> FeedReport:
    """Poll one feed and store what it brought in one transaction; then re-check due articles."""
    settings, repository = cycle.settings, cycle.repository
    poll = poll or _Poll(feed, state, settings, cycle.clock)
    budget = Budget.of(settings.poll_budget)
    try:
        result = cycle.fetcher.fetch_feed(feed.url, etag=state.etag, last_modified=state.last_modified)
        if result.not_modified:
            poll.store(repository, poll.record("not_modified", http_status=304))
            log.info("feed=%s not modified (304)", feed.name)
            rechecked = _recheck(feed, state, SplitEntries([], [], [], 0), cycle, budget)
            return poll.report("not_modified", http_status=304, versions=rechecked.changed)
        parsed = parse_feed(result.body, feed=feed.name, url=result.final_url, content_type=result.content_type)
    except FeedParseError as error:  # the body came, with its status, but is no usable feed
        return _record_fetch_failure(poll, repository, error, http_status=result.status)
    except FetchError as error:
        return _record_fetch_failure(poll, repository, error)

    split = split_entries(parsed.entries, repository.known_entries(state.id, parsed.entries))
    claim = claim_entries(split.fresh, repository, state.id, settings.max_entries, cycle.clock(),
                          owner=poll_owner(feed.name, poll.run_started))
    try:
        recall = functools.partial(recall_memory, repository.engine, feed.outlet, now=cycle.clock(),
                                   min_articles=settings.boilerplate_articles)
        drafts, unfetched = build_drafts(claim.taken, feed, cycle.fetcher, cycle.labeller, budget, recall)
        deferred = len(claim.waiting) + len(claim.held) + len(unfetched)
        failed = tuple(d.fetch_error for d in drafts if d.fetch_error)
        now = cycle.clock()
        record = poll.record(
            "ok", http_status=result.status, entries=len(parsed.entries), known=split.known + claim.known,
            errors=len(failed),
            # Entries left for later are only seen again if the next poll gets the whole feed.
            etag=None if deferred else result.etag, last_modified=None if deferred else result.last_modified,
            error=_poll_note(parsed.warning, len(claim.waiting), len(unfetched), settings, held=len(claim.held)),
            deferred=deferred, soon=bool(deferred))
        counts, refused = _store(poll, repository, record, drafts, split.links + claim.links, outlet=feed.outlet,
                                 next_check=next_check_at(now, 0, now, first=settings.recheck_first,
                                                          until=settings.recheck_until),
                                 rules=cycle.labeller.rules, digest_window=settings.digest_window,
                                 boilerplate_articles=settings.boilerplate_articles)
    finally:
        claim.release(repository.engine)
    rechecked = _recheck(feed, state, split, cycle, budget)
    log.info("feed=%s entries=%d new=%d duplicates=%d known=%d errors=%d deferred=%d versions=%d", feed.name,
             len(parsed.entries), counts.new, counts.duplicates, record.known, len(failed), deferred,
             rechecked.changed)
    return poll.report("ok", http_status=result.status, entries=len(parsed.entries), new=counts.new,
                       duplicates=counts.duplicates, known=record.known, errors=len(failed) + len(refused),
                       error=record.error, article_errors=failed + refused, versions=rechecked.changed,
                       deferred=deferred)


def _record_fetch_failure(poll: _Poll, repository: Repository, error: FetchError | FeedParseError,
                          http_status: int | None = None) -> FeedReport:
    http = error if isinstance(error, HTTPStatusError) else None
    http_status = http_status or (http.status if http else None)
    reason = str(error)
    if http is not None and http.retry_after is not None:
        cap = max(poll.settings.max_feed_backoff, poll.feed.interval)
        if capped_retry_after(http.retry_after, cap) < http.retry_after:
            reason += f"; Retry-After capped to {cap:g} s (NEWSWATCH_MAX_FEED_BACKOFF)"
    log.warning("feed=%s failed: %s", poll.feed.name, reason)
    poll.store(repository, poll.record("error", http_status=http_status, error=reason,
                                       retry_after=http.retry_after if http else None))
    return poll.report("error", http_status=http_status, error=reason, transient=is_transient(error))


def _poll_note(warning: str | None, waiting: int, unfetched: int, settings: Settings, *,
               held: int = 0) -> str | None:
    notes = [f"warning: {warning}"] if warning else []
    if held:
        notes.append(f"{held} new entries being fetched by another poll: left for the next poll")
    if waiting:
        notes.append(f"{waiting} new entries past NEWSWATCH_MAX_ENTRIES={settings.max_entries} "
                     "left for the next poll")
    if unfetched:
        notes.append(f"{unfetched} new entries left for the next poll: "
                     f"NEWSWATCH_POLL_BUDGET={settings.poll_budget:g}s spent")
    return "; ".join(notes) or None


def _store(poll: _Poll, repository: Repository, record: PollRecord, drafts: Sequence[ArticleDraft],
           links: Sequence[tuple[FeedEntry, int]], **options) -> tuple[StoredCounts, tuple[str, ...]]:
    """Store the poll in one transaction; if the database refuses it, each article on its
    own and then the poll, naming the articles it would not take."""
    try:
        return poll.store(repository, record, drafts, links, **options), ()
    except StorageError as error:
        if not drafts:
            raise
        log.warning("feed=%s poll refused (%s); storing its articles one by one", poll.feed.name, error)
    stored = StoredCounts(0, 0, ())
    refused: list[str] = []
    for group in _by_article(drafts):
        try:
            counts = repository.store_poll(record, group, (), record_poll=False, **options)
        except StorageError as error:
            log.error("feed=%s url=%s not storable: %s", poll.feed.name, group[0].url, error)
            refused.append(f"not stored: {error} ({group[0].url})")
            continue
        stored = stored.plus(counts)
    note = "; ".join(x for x in (record.error, f"{len(refused)} entries refused by the database" if refused
                                 else None) if x)
    record = dataclasses.replace(record, errors=record.errors + len(refused), error=note or None,
                                 etag=None if refused else record.etag,
                                 last_modified=None if refused else record.last_modified)
    return stored.plus(poll.store(repository, record, (), links, counted=stored, **options)), tuple(refused)


def _by_article(drafts: Sequence[ArticleDraft]) -> list[list[ArticleDraft]]:
    groups: dict[str, list[ArticleDraft]] = {}
    for draft in drafts:
        groups.setdefault(draft.canonical_url, []).append(draft)
    return list(groups.values())


def _recheck(feed: FeedConfig, state: FeedState, split: SplitEntries, cycle: Cycle, budget: Budget) -> RecheckCounts:
    return recheck_articles(feed, state.id, split.moved, settings=cycle.settings, fetcher=cycle.fetcher,
                            engine=cycle.repository.engine, labeller=cycle.labeller, now=cycle.clock(),
                            budget=budget, signalled=split.changed, unsigned=split.unsigned)


class _Poll:
    """One poll of one feed under way: its timing, and the feed's state after it."""

    def __init__(self, feed: FeedConfig, state: FeedState, settings: Settings, clock: Clock, *,
                 run_started: datetime | None = None) -> None:
        self.feed, self.state, self.settings, self.clock = feed, state, settings, clock
        self.run_started = run_started
        self.started = clock()
        self.timer = time.perf_counter()
        self.recorded = False

    def record(self, status: str, *, retry_after: float | None = None, soon: bool = False,
               **fields) -> PollRecord:
        failures = self.failures_after(status)
        finished = self.clock()
        interval = min(self.feed.interval, RETURN_WITHIN) if soon else self.feed.interval
        upcoming = next_poll_at(finished, interval, failures, retry_after=retry_after,
                                max_backoff=self.settings.max_feed_backoff)
        return PollRecord(feed_id=self.state.id, started_at=self.started, finished_at=finished,
                          status=status, failures=failures, next_poll_at=upcoming, **fields)

    def failures_after(self, status: str) -> int:
        """Failures in a row after this poll: one more per failed poll run, so a scheduler's
        retry of a poll that already failed in the same run does not stretch the backoff again."""
        if status != "error":
            return 0
        state = self.state
        if (self.run_started is not None and state.last_status == "error" and state.last_polled_at is not None
                and state.last_polled_at >= self.run_started):
            return max(state.consecutive_failures, 1)
        return state.consecutive_failures + 1

    def store(self, repository: Repository, record: PollRecord, *args, **options) -> StoredCounts:
        counts = repository.store_poll(record, *args, **options)
        self.recorded = True
        return counts

    def report(self, status: str, **fields) -> FeedReport:
        return FeedReport(self.feed.name, status, duration=time.perf_counter() - self.timer, **fields)


@dataclass(frozen=True)
class SplitEntries:
    fresh: list[FeedEntry]  # to fetch
    links: list[tuple[FeedEntry, int]]  # articles we already have, under another feed or URL
    moved: list[tuple[FeedEntry, int]]  # this feed's known entries, now at another address
    known: int  # entries this feed listed before (at the same address)
    changed: list[tuple[FeedEntry, int]] = field(default_factory=list)  # known, but the feed says otherwise now
    unsigned: list[FeedEntry] = field(default_factory=list)  # known, stored before signatures were kept


def split_entries(entries: Sequence[FeedEntry], known: KnownEntries) -> SplitEntries:
    """What to do with each entry of a poll."""
    split = SplitEntries([], [], [], 0)
    for entry in entries:
        if entry.guid in known.by_guid:
            article_id, url = known.by_guid[entry.guid]
            if url != entry.url:
                split.moved.append((entry, article_id))
                continue
            split = dataclasses.replace(split, known=split.known + 1)
            said = known.signatures.get(entry.guid)
            if said is None:
                split.unsigned.append(entry)
            elif said != entry.signature:
                split.changed.append((entry, article_id))
        elif entry.url in known.article_by_url:
            split.links.append((entry, known.article_by_url[entry.url]))
        else:
            split.fresh.append(entry)
    return split


def build_drafts(entries: Sequence[FeedEntry], feed: FeedConfig, fetcher: Fetcher, labeller: Labeller,
                 budget: Budget | None = None, recall: Recall | None = None,
                 ) -> tuple[list[ArticleDraft], list[FeedEntry]]:
    """Fetch and read each entry's page once, even when several entries share a URL, until
    the budget is spent; then draft them, without the paragraphs that the outlet's memory
    (``recall``: the stored counts of the poll's fingerprints) and the poll's own pages
    together show to be boilerplate. The drafts, and the entries left for the next poll."""
    readings, unread = read_pages(entries, feed, fetcher, budget)
    stored = recall(sorted(set().union(*(r.fingerprints for r in readings)))) if recall else OutletMemory()
    memory = stored.plus(count_poll(readings))
    by_url: dict[str, ArticleDraft] = {}
    drafts: list[ArticleDraft] = []
    for reading in readings:
        if reading.entry.url not in by_url:
            by_url[reading.entry.url] = read_draft(reading, feed, labeller, memory)
        drafts.append(dataclasses.replace(by_url[reading.entry.url], entry=reading.entry))
    return drafts, unread


def read_pages(entries: Sequence[FeedEntry], feed: FeedConfig, fetcher: Fetcher,
               budget: Budget | None = None) -> tuple[list[PageReading], list[FeedEntry]]:
    """Each entry's page, fetched and extracted once per URL until the budget is spent;
    and the entries left for the next poll."""
    by_url: dict[str, PageReading] = {}
    readings: list[PageReading] = []
    for index, entry in enumerate(entries):
        if entry.url in by_url:
            readings.append(dataclasses.replace(by_url[entry.url], entry=entry))
            continue
        if budget is not None and budget.is_spent():
            return readings, list(entries[index:])
        page, error = None, None
        try:
            page = fetcher.fetch_page(entry.link, budget=budget)
        except BudgetSpentError as spent:
            log.info("feed=%s %s: the rest waits for the next poll", feed.name, spent)
            return readings, list(entries[index:])
        except FetchError as failure:
            log.warning("feed=%s url=%s article failed: %s", feed.name, entry.link, failure)
            error = failure
        by_url[entry.url] = _read_page(entry, page, error, feed)
        readings.append(by_url[entry.url])
    return readings, []


def read_draft(reading: PageReading, feed: FeedConfig, labeller: Labeller, memory: OutletMemory) -> ArticleDraft:
    """The entry's draft; if reading its page fails in a way no stage foresaw, the entry is
    still stored from the feed, with the reason."""
    try:
        return draft_from_reading(reading, memory=memory, language_hint=feed.language, labeller=labeller)
    except Exception as failure:  # noqa: BLE001 — one page must not cost its feed the poll
        if not reading.fetched:
            raise
        return draft_from_reading(_unreadable(reading.entry, feed, failure), memory=memory,
                                  language_hint=feed.language, labeller=labeller)


def _read_page(entry: FeedEntry, page: FetchResult | None, error: Exception | None,
               feed: FeedConfig) -> PageReading:
    """The entry's page read; as in ``read_draft``, from the feed if that fails unforeseen."""
    try:
        return read_page(entry, page, error)
    except Exception as failure:  # noqa: BLE001 — one page must not cost its feed the poll
        if page is None:
            raise
        return _unreadable(entry, feed, failure)


def _unreadable(entry: FeedEntry, feed: FeedConfig, failure: Exception) -> PageReading:
    """The entry from its feed, saying why its page could not be read (called while handling ``failure``)."""
    log.exception("feed=%s url=%s page could not be read", feed.name, entry.link)
    reason = f"page could not be read: internal error: {type(failure).__name__}: {failure}"
    return read_page(entry, None, RuntimeError(reason))
