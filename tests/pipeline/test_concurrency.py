"""Concurrency: hosts shared out over processes, polled in lanes; each host one thing at a time."""

from __future__ import annotations

import os
import threading
import time

import pytest
from sqlalchemy import text

import pipeline.concurrency
from pipeline.cli import main
from pipeline.concurrency import group_by_host, poll_lanes, poll_shares, process_count, share_out
from pipeline.models import FeedConfig, FeedReport
from pipeline.run import run_cycle
from pipeline.storage.engine import create_database_engine
from tests.conftest import make_settings
from tests.fixtureserver import FixtureServer
from tests.world import FEEDS


def feed(name: str, host: str) -> FeedConfig:
    return FeedConfig(name, f"http://{host}/{name}.xml", "Outlet")


@pytest.mark.parametrize(("sizes", "parts", "loads"), [
    ((5, 1, 1, 1), 2, [5, 3]),  # the big host alone, the small ones together
    ((2, 2, 2, 2), 2, [4, 4]),
    ((3,), 4, [3]),  # one host: one share, however many processes there could be
    ((1, 1, 1), 3, [1, 1, 1]),
])
def test_hosts_are_shared_out_whole_and_evenly(sizes, parts, loads):
    feeds = [feed(f"h{h}-{n}", f"h{h}.test") for h, size in enumerate(sizes) for n in range(size)]
    groups = group_by_host(feeds)
    assert [len(g) for g in groups] == list(sizes)
    shares = share_out(groups, parts)
    assert sorted((sum(len(g) for g in share) for share in shares), reverse=True) == loads
    hosts = [{f.url.split("/")[2] for g in share for f in g} for share in shares]
    assert sum(len(h) for h in hosts) == len(sizes)  # no host in two shares


def test_a_host_keeps_its_feeds_in_list_order():
    feeds = [feed("a1", "a.test"), feed("b1", "B.test"), feed("a2", "A.TEST"), feed("b2", "b.test")]
    assert [[f.name for f in g] for g in group_by_host(feeds)] == [["a1", "a2"], ["b1", "b2"]]


@pytest.mark.parametrize(("workers", "feeds", "hosts", "processes"), [
    (2, 1000, 20, 2),
    (2, 1000, 1, 1),  # one host: more processes could only queue behind its spacing
    (4, 60, 20, 1),  # too few feeds to pay for a second process's start-up
    (1, 1000, 20, 1),
    (8, 200, 20, 5),
])
def test_processes_are_taken_when_they_pay(workers, feeds, hosts, processes):
    assert process_count(workers, feeds, hosts) == processes


def test_lanes_poll_hosts_side_by_side_but_each_host_one_feed_at_a_time():
    feeds = [feed(f"{host}{n}", f"{host}.test") for host in "abc" for n in range(3)]
    together = threading.Barrier(3, timeout=10)  # broken unless three hosts are polled at once
    busy: dict[str, int] = {}
    overlapping: list[str] = []
    lock = threading.Lock()

    def poll(config: FeedConfig) -> FeedReport:
        host = config.url.split("/")[2]
        with lock:
            busy[host] = busy.get(host, 0) + 1
            if busy[host] > 1:
                overlapping.append(host)
        if config.name.endswith("0"):
            together.wait()
        time.sleep(0.01)
        with lock:
            busy[host] -= 1
        return FeedReport(config.name, "ok")

    reports: list[str] = []
    poll_lanes(group_by_host(feeds), poll, lambda report: reports.append(report.feed), lanes=3)
    assert sorted(reports) == sorted(f.name for f in feeds) and not overlapping
    # In each host's lane, its feeds come in the list's order.
    assert [r for r in reports if r.startswith("a")] == ["a0", "a1", "a2"]


def _work(share, report, exit_on: str) -> int:
    """A share's work in a test: one report per feed; the process ends abruptly at ``exit_on``."""
    for group in share:
        for config in group:
            if config.name == exit_on:
                os._exit(7)
            report(FeedReport(config.name, "ok"))
    return len(share)


def test_a_process_that_dies_costs_only_its_own_feeds():
    shares = share_out(group_by_host([feed(f"{h}{n}", f"{h}.test") for h in "abc" for n in range(2)]), 3)
    lost = [config.name for config in shares[2][0]]  # the third share's host
    reports: dict[str, FeedReport] = {}
    requests = poll_shares(shares, _work, (lost[0],), lambda report: reports.setdefault(report.feed, report))
    assert len(reports) == 6 and requests == 2  # the dead share's count never came
    failed = {name: r for name, r in reports.items() if r.status == "error"}
    assert sorted(failed) == lost and all("exit code 7" in r.error and r.transient for r in failed.values())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_cycle_in_two_processes_stores_what_one_process_stores(tmp_path, request, monkeypatch, backend):
    """The fixture world on two servers (two hosts) and the faulty feeds, polled by two
    processes: every feed reported in the list's order, every article once, as by one."""
    url = None if backend == "sqlite" else request.getfixturevalue("postgres_url")
    monkeypatch.setattr(pipeline.concurrency, "FEEDS_PER_PROCESS", 1)
    with FixtureServer() as first, FixtureServer() as second:
        names = [f["name"] for f in FEEDS]
        tables = [(f"{f['name']}-{n}", server.url(f["path"]), f["outlet"])
                  for n, server in enumerate((first, second)) for f in FEEDS]
        tables.append(("fault-500", first.url("fault/500"), "Faults"))
        (tmp_path / "feeds.toml").write_text("".join(
            f'[[feed]]\nname = "{name}"\nurl = "{address}"\noutlet = "{outlet}"\n\n'
            for name, address, outlet in tables), encoding="utf-8")
        settings = make_settings(tmp_path, url, workers=2, fetch_retries=0)
        assert main(["init", "--database-url", settings.database_url]) == 0
        seen: list[str] = []
        report = run_cycle(settings, on_feed=lambda r: seen.append(r.feed))
        assert [r.feed for r in report.feeds] == [name for name, _, _ in tables]
        assert sorted(seen) == sorted(name for name, _, _ in tables)
        failed = [r.feed for r in report.feeds if r.status == "error"]
        assert failed == ["fault-500"]
        assert report.requests == first.count() + second.count()
        # Both servers were asked: the second process did its share.
        assert first.count("/" + FEEDS[0]["path"]) == second.count("/" + FEEDS[0]["path"]) == 1
    engine = create_database_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("select count(*), count(distinct canonical_url) from articles "
                                       "where not is_baseline")).one()
    engine.dispose()
    assert rows[0] == rows[1] == report.new > 0
    assert len(names) == len(FEEDS)
