"""A poll run as a scheduler runs it (Airflow's ``newswatch_poll``): its plan, one task's
feeds, and what the run came to.

The plan is the due feeds in batches. While there are at most ``NEWSWATCH_POLL_TASKS``
due feeds each batch is one feed (one task per feed, named by it); beyond that the feeds
are grouped by host into that many batches, so a run never maps more tasks than the
scheduler can hold or than their overhead is worth, and one host's feeds share a task
(its per-host delay is spent in one place, not in several tasks waiting on each other).

A run is known by when it started (``run_started``): a feed polled since then was polled
in this run. So a retried task polls only those of its feeds that have not succeeded in
this run, and a feed's failures count once per run, however often Airflow retries it
(``pipeline.run``). Nothing here knows Airflow: the DAG passes names, times and counts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pipeline.errors import PermanentFeedError, TransientFeedError
from pipeline.models import FeedConfig, FeedReport
from pipeline.run import Clock, due_feeds, open_cycle, run_polls, utcnow
from pipeline.seeds import load_feeds
from pipeline.settings import Settings
from pipeline.storage.engine import open_database
from pipeline.storage.repository import FeedState, Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollPlan:
    batches: tuple[tuple[str, ...], ...]  # each one task's feeds
    enabled: int
    next_due: datetime | None  # the soonest next poll of an enabled feed that is not due

    @property
    def due(self) -> int:
        return sum(len(batch) for batch in self.batches)

    def describe(self) -> str:
        """One line for the run's log: how many feeds are due, in how many tasks, and when the next one is."""
        line = f"{self.due} of {self.enabled} enabled feeds due"
        if len(self.batches) < self.due:
            line += f", in {len(self.batches)} tasks of up to {max(map(len, self.batches))} feeds"
        if self.next_due is not None:
            line += f"; the next feed not yet due is due at {self.next_due:%Y-%m-%d %H:%M:%S}Z"
        return line


def plan_polls(settings: Settings, *, force: bool = False, clock: Clock = utcnow) -> PollPlan:
    """The feeds due now (their interval, stretched by backoff after failures), in batches."""
    feeds = load_feeds(settings.feeds_path)
    states, due = due_feeds(settings, feeds, force=force, clock=clock)
    enabled = [f for f in feeds if f.enabled]
    waiting = [states[f.name].next_poll_at for f in enabled if f not in due]
    plan = PollPlan(batch_feeds(due, settings.poll_tasks), len(enabled),
                    min((t for t in waiting if t is not None), default=None))
    log.info("plan: %s", plan.describe())
    return plan


def batch_feeds(feeds: Sequence[FeedConfig], tasks: int) -> tuple[tuple[str, ...], ...]:
    """One feed per batch while they fit in ``tasks``; else at most ``tasks`` batches of
    equal size, a host's feeds next to each other."""
    if len(feeds) <= tasks:
        return tuple((f.name,) for f in feeds)
    size = math.ceil(len(feeds) / tasks)
    ordered = sorted(feeds, key=lambda f: (urlsplit(f.url).hostname or "", f.name))
    return tuple(tuple(f.name for f in ordered[start:start + size]) for start in range(0, len(ordered), size))


def batch_label(names: Sequence[str]) -> str:
    """A batch's name in the grid: its first feed, and how many more (``cbc-world +7``)."""
    return names[0] + (f" +{len(names) - 1}" if len(names) > 1 else "")


def poll_batch(settings: Settings, names: Sequence[str], *, run_started: datetime | None = None,
               clock: Clock = utcnow) -> list[FeedReport]:
    """Poll each of ``names`` (one cycle: one client, one labeller), skipping those already
    polled successfully since ``run_started`` (a retried task redoes only its failed feeds).
    One feed's failure is its own: it is recorded, and the others are polled."""
    wanted = set(names)
    feeds = list(load_feeds(settings.feeds_path, wanted))
    missing = wanted - {f.name for f in feeds}
    reports = [FeedReport(name, "error", error=f"{settings.feeds_path}: no feed named {name!r}")
               for name in sorted(missing)]
    with open_cycle(settings, clock) as cycle:
        states = cycle.repository.sync_feeds(feeds, clock())
        todo = [f for f in feeds if not is_done_in_run(states[f.name], run_started)]
        for feed in feeds:
            if feed not in todo:
                log.info("feed=%s already polled in this run (%s); not polled again", feed.name,
                         states[feed.name].last_status)
        reports += run_polls(todo, states, cycle, run_started=run_started)
    for report in reports:
        log.info("feed=%s status=%s new=%d%s", report.feed, report.status, report.new,
                 f" error={report.error}" if report.status == "error" else "")
    return reports


def raise_for_failures(reports: Sequence[FeedReport]) -> None:
    """After a batch: raise ``TransientFeedError`` when a feed failed in a way worth retrying
    soon, else ``PermanentFeedError`` when one failed at all, naming every failed feed."""
    failed = [r for r in reports if r.status == "error"]
    if len(failed) == 1 and len(reports) == 1:
        failed[0].raise_for_failure()
    if failed:
        kind = TransientFeedError if any(r.transient for r in failed) else PermanentFeedError
        raise kind(", ".join(r.feed for r in failed),
                   f"{len(failed)} of {len(reports)} feeds of the batch: "
                   + "; ".join(f"{r.feed}: {r.error}" for r in failed[:10]))


def is_done_in_run(state: FeedState, run_started: datetime | None) -> bool:
    return (run_started is not None and state.last_status in ("ok", "not_modified")
            and state.last_polled_at is not None and state.last_polled_at >= run_started)


@dataclass(frozen=True)
class RunOutcome:
    """What a poll run came to, feed by feed, read from the feeds' stored state."""

    planned: int
    failed: tuple[tuple[str, str], ...]  # (feed, why)

    def is_failure(self, share: float) -> bool:
        """Every feed failed, or more than ``share`` of them."""
        return bool(self.planned) and (len(self.failed) == self.planned or len(self.failed) > share * self.planned)

    def note(self, limit: int = 20) -> str:
        """Markdown for the run's note: the failed feeds and why."""
        if not self.failed:
            return f"All {self.planned} feeds polled."
        lines = [f"**{len(self.failed)} of {self.planned} feeds failed** (`newswatch feeds` has each one's state):", ""]
        lines += [f"- `{name}`: {why[:200]}" for name, why in self.failed[:limit]]
        if len(self.failed) > limit:
            lines.append(f"- … and {len(self.failed) - limit} more")
        return "\n".join(lines)


def run_outcome(settings: Settings, names: Sequence[str], *, run_started: datetime) -> RunOutcome:
    """Which of a run's feeds failed: a feed whose last poll since ``run_started`` failed,
    or that was not polled at all in the run (its task never ran to the end)."""
    with open_database(settings.database_url) as engine:
        states = Repository(engine).feed_states(names)
    failed = []
    for name in names:
        state = states.get(name)
        if state is None or state.last_polled_at is None or state.last_polled_at < run_started:
            failed.append((name, "not polled in this run"))
        elif state.last_status == "error":
            failed.append((name, (state.last_error or "failed").removeprefix(f"feed {name!r}: ")))
    return RunOutcome(len(names), tuple(failed))
