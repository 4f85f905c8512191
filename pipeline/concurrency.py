"""Concurrency: one cycle's feeds polled by several processes, each asking several hosts at once.

Feeds are grouped by host. One lane (a thread) polls a host's feeds one after the other,
so no process ever asks one host two things at once, and the per-host spacing
(``pipeline.storage.hostgate``, booked in the database) keeps processes apart too. Lanes
overlap what a poll waits for — the network, the host's next slot; processes use the
cores for what it computes — extraction, language, labels. ``NEWSWATCH_WORKERS`` is the
number of processes; each runs up to ``LANES`` hosts at once.

A process costs seconds of start-up (imports, the topics' lemmas, the event model, each
loaded per process, which also keeps them from being shared across threads of two
processes), so a cycle takes one more process only for every ``FEEDS_PER_PROCESS`` feeds.
The hosts are shared out before the cycle starts, the biggest first to the least loaded
process. The first share is polled here; the others in processes started fresh
(``spawn``: nothing of this process's connections or threads is inherited). Their
reports and log records come back through one queue; a process that dies without
reporting costs its own feeds only, each reported failed with the reason.

Nothing here knows what a poll does: it is given a function that polls one share.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import queue as queues
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from pipeline.models import FeedConfig, FeedReport

log = logging.getLogger(__name__)

LANES = 16  # hosts one process polls at once: threads mostly waiting on hosts' slots and the network
FEEDS_PER_PROCESS = 40  # fewer feeds than this per process and a process's start-up costs more than it saves

Group = tuple[FeedConfig, ...]  # one host's feeds, in the feed list's order
Report = Callable[[FeedReport], None]
Share = Callable[..., int]  # polls its groups, reporting each feed; returns the requests it made


def host_of(feed: FeedConfig) -> str:
    return urlsplit(feed.url).netloc.lower()


def group_by_host(feeds: Sequence[FeedConfig]) -> list[Group]:
    """The feeds by host, hosts in the order they first appear."""
    groups: dict[str, list[FeedConfig]] = {}
    for feed in feeds:
        groups.setdefault(host_of(feed), []).append(feed)
    return [tuple(group) for group in groups.values()]


def share_out(groups: Sequence[Group], parts: int) -> list[list[Group]]:
    """``groups`` in ``parts`` shares of about equal feed counts (the biggest host first)."""
    shares: list[list[Group]] = [[] for _ in range(max(1, parts))]
    loads = [0] * len(shares)
    for group in sorted(groups, key=len, reverse=True):
        lightest = loads.index(min(loads))
        shares[lightest].append(group)
        loads[lightest] += len(group)
    return [share for share in shares if share] or [[]]


def process_count(workers: int, feeds: int, hosts: int) -> int:
    """How many processes a cycle of ``feeds`` feeds on ``hosts`` hosts is worth."""
    return max(1, min(workers, hosts, feeds // FEEDS_PER_PROCESS))


def poll_lanes(groups: Sequence[Group], poll: Callable[[FeedConfig], FeedReport], report: Report,
               lanes: int = LANES) -> None:
    """Each group's feeds polled in turn, up to ``lanes`` groups at once; ``report`` is
    called for each feed, one call at a time. ``poll`` must not raise for one feed's failure."""
    reporting = threading.Lock()
    stopping = threading.Event()  # the cycle was interrupted: lanes take no further feed

    def poll_group(group: Group) -> None:
        for feed in group:
            if stopping.is_set():
                return
            result = poll(feed)
            with reporting:
                report(result)

    if lanes <= 1 or len(groups) <= 1:
        for group in groups:
            poll_group(group)
        return
    pool = ThreadPoolExecutor(max_workers=min(lanes, len(groups)), thread_name_prefix="lane")
    try:
        for future in [pool.submit(poll_group, group) for group in groups]:
            future.result()
    finally:
        stopping.set()  # (Ctrl-C): the polls under way finish, no other starts
        pool.shutdown(wait=True, cancel_futures=True)


def poll_shares(shares: Sequence[Sequence[Group]], work: Share, args: tuple[Any, ...],
                report: Report) -> int:
    """``work(share, report, *args)`` for every share: the first here, the others in
    processes of their own (``work`` and ``args`` must pickle). The requests made in all."""
    if len(shares) == 1:
        return work(shares[0], report, *args)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    reporting = threading.Lock()

    def report_once(result: FeedReport) -> None:
        with reporting:
            report(result)

    level = logging.getLogger().getEffectiveLevel()
    processes = [context.Process(target=_work_in_process, args=(work, share, args, queue, level),
                                 name=f"newswatch-share-{n}", daemon=True) for n, share in enumerate(shares[1:], 1)]
    for process in processes:
        process.start()
    collector = _Collector(queue, processes, report_once)
    collector.start()
    try:
        requests = work(shares[0], report_once, *args)
    finally:
        requests_elsewhere, reported = collector.finish()
    for process, share in zip(processes, shares[1:]):
        for feed in (f for group in share for f in group if f.name not in reported):
            report_once(FeedReport(feed.name, "error", transient=True,
                                   error=f"internal error: its worker process ended (exit code {process.exitcode}) "
                                         "without reporting its poll"))
    return requests + requests_elsewhere


class _Collector(threading.Thread):
    """Reads what the other processes send (reports, log records, their request counts)
    until each has said it is done or has died."""

    def __init__(self, queue: Any, processes: list[Any], report: Report) -> None:
        super().__init__(name="newswatch-collector", daemon=True)
        self.queue, self.processes, self.report = queue, processes, report
        self.requests = 0
        self.reported: set[str] = set()

    def run(self) -> None:
        done: set[str] = set()
        while len(done) < len(self.processes):
            try:
                kind, sender, payload = self.queue.get(timeout=1.0)
            except queues.Empty:  # a quiet moment: has a process died?
                done.update(p.name for p in self.processes if not p.is_alive() and p.exitcode != 0)
                continue
            if kind == "report":
                self.reported.add(payload.feed)
                self.report(payload)
            elif kind == "log":
                logging.getLogger(payload.name).handle(payload)
            elif kind == "done":
                self.requests += payload
                done.add(sender)

    def finish(self) -> tuple[int, set[str]]:
        self.join()
        for process in self.processes:
            process.join()
        return self.requests, self.reported


def _work_in_process(work: Share, share: Sequence[Group], args: tuple[Any, ...], queue: Any, level: int) -> None:
    """A share polled in a process of its own, sending everything back through ``queue``."""
    name = multiprocessing.current_process().name
    root = logging.getLogger()
    root.handlers[:] = [_Forwarder(queue, name)]
    root.setLevel(level)
    requests = work(share, lambda result: queue.put(("report", name, result)), *args)
    queue.put(("done", name, requests))


class _Forwarder(logging.handlers.QueueHandler):
    def __init__(self, queue: Any, sender: str) -> None:
        super().__init__(queue)
        self.sender = sender

    def enqueue(self, record: logging.LogRecord) -> None:
        self.queue.put(("log", self.sender, record))  # type: ignore[attr-defined]  # a multiprocessing queue
