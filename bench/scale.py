"""Load and soak: N synthetic feeds on loopback hosts, polled by `newswatch run`.

A synthetic world of ``--feeds`` feeds of ``--entries`` entries each, spread over
``--hosts`` loopback addresses (127.0.1.1, 127.0.1.2, …; each a server of its own, with
robots.txt, ETags and 304s). Every article page is a real page of the AEB benchmark
(``../shared/data/extraction/aeb``, read, never copied), so extraction costs what it costs
on real news, made an article of its own: a third of its words swapped, at random, for
other words of the same page, its canonical link dropped, and a paragraph of its own
added. Two variants of one page then share about a quarter of their 4-word shingles, far
below what near-duplicate detection calls a copy, so every entry is a new article (the
pages are made before the clock starts: the server's work is not the subject's).
For each size it runs `newswatch init`, a first cycle (everything new) and an unchanged
cycle (every feed answers 304), each as a fresh process, and reports wall seconds, CPU
seconds, entries read and new articles per second, feeds per second, peak RSS (of the
largest process: with NEWSWATCH_WORKERS > 1 there are that many), and requests per feed.

    .venv/bin/python bench/scale.py [--feeds 100,1000] [--entries 20] [--hosts 20] \\
        [--database sqlite|postgresql] [--host-delay 0] [--workers N] [--modes run,local,celery1,celery2]

``--modes`` other than ``run`` poll through the DAG instead (bench/scale_dag.py): ``local``
under `./dev up` (LocalExecutor), ``celery1``/``celery2`` under `./dev celery` with one or
two workers (PostgreSQL for articles; ``NEWSWATCH_CELERY_CONCURRENCY`` tasks per worker).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile import words  # noqa: E402

AEB = ROOT.parent / "shared" / "data" / "extraction" / "aeb"
SWAPPED = 1 / 3
_TEXT = re.compile(rb">([^<]+)<")
_CANONICAL = re.compile(rb"""(rel\s*=\s*["']?)canonical\b|(property\s*=\s*["']?)og:url\b""", re.I)
# Words: Latin letters, runs of digits, and runs of non-ASCII bytes (a whole UTF-8, CP1251 or
# EUC-KR word each: swapping whole runs keeps the page in its encoding).
_WORD = re.compile(rb"[A-Za-z]{3,}|[0-9]{2,}|[\x80-\xff]{4,}")


class World:
    """The synthetic feeds and pages, served by one server per loopback host."""

    def __init__(self, feeds: int, entries: int, hosts: int, pages: list[bytes]) -> None:
        self.feeds, self.entries, self.hosts = feeds, entries, hosts
        keys = [(feed, n) for feed in range(feeds) for n in range(entries)]
        global _SOURCE
        _SOURCE = (pages, entries)
        with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:  # both cores, before the clock
            self._made = dict(zip(keys, pool.starmap(_make_page, keys, chunksize=64)))
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self.port = 0

    def host(self, feed: int) -> str:
        return f"127.0.1.{1 + feed % self.hosts}"

    def feed_url(self, feed: int) -> str:
        return f"http://{self.host(feed)}:{self.port}/feeds/{feed}.xml"

    def __enter__(self) -> "World":
        handler = _handler(self)
        first = ThreadingHTTPServer((self.host(0), 0), handler)
        self.port = first.server_address[1]
        self._servers = [first] + [ThreadingHTTPServer((f"127.0.1.{1 + h}", self.port), handler)
                                   for h in range(1, self.hosts)]
        for server in self._servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def feed_body(self, feed: int) -> bytes:
        base = f"http://{self.host(feed)}:{self.port}"
        items = "".join(
            f"<item><title>Report {feed}-{n}: {words(f'title{feed}-{n}', 6)}</title>"
            f"<link>{base}/articles/{feed}-{n}.html</link><guid>{feed}-{n}</guid>"
            f"<description>{words(f'teaser{feed}-{n}', 25)}.</description>"
            f"<pubDate>{formatdate(1755338400 + feed * 60 + n, usegmt=True)}</pubDate></item>"
            for n in range(self.entries))
        return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Feed {feed}</title>"
                f"{items}</channel></rss>").encode("utf-8")

    def page_body(self, feed: int, n: int) -> bytes:
        return self._made[(feed, n)]


_SOURCE: tuple[list[bytes], int] = ([], 1)  # the AEB pages and entries per feed, for the pool


def _make_page(feed: int, n: int) -> bytes:
    pages, entries = _SOURCE
    page = pages[(feed * entries + n) % len(pages)]
    vocabulary = sorted({w for text in _TEXT.findall(page) for w in _WORD.findall(text)})
    pick = random.Random(f"{feed}-{n}")

    def swap(word: re.Match[bytes]) -> bytes:
        return pick.choice(vocabulary) if pick.random() < SWAPPED else word[0]

    page = _TEXT.sub(lambda text: b">" + _WORD.sub(swap, text[1]) + b"<", page)
    page = _CANONICAL.sub(lambda m: (m[1] or m[2]) + b"x-none", page)  # each variant: an article at its own URL
    own = f"<p>{words(f'page{feed}-{n}', 60)}.</p>".encode("utf-8")
    return page.replace(b"</body>", own + b"</body>", 1)


def _handler(world: World) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            with world._lock:
                world.requests[self.path.split("/")[1] if "/" in self.path else self.path] += 1
            if self.path == "/robots.txt":
                return self.send(b"User-agent: *\nAllow: /\n", "text/plain")
            name = self.path.rsplit("/", 1)[-1]
            if self.path.startswith("/feeds/"):
                body = world.feed_body(int(name.split(".")[0]))
                etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                return self.send(body, "application/rss+xml; charset=utf-8", {"ETag": etag})
            feed, n = (int(x) for x in name.split(".")[0].split("-"))
            return self.send(world.page_body(feed, n), "text/html; charset=utf-8")

        def send(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def run_step(args: list[str], env: dict[str, str]) -> dict:
    """One `newswatch` command as a process of its own: wall and CPU seconds, peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "newswatch"), *args], env=env,
                          capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"newswatch {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return {"wall": time.monotonic() - started,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "rss_mib": after.ru_maxrss / 1024}


def database(kind: str, folder: Path):
    """A fresh database: its URL, and how to drop it afterwards."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'scale.db'}", lambda: None
    from bench.databases import scratch_postgres

    return scratch_postgres("newswatch_scale")


def stored_counts(url: str) -> tuple[int, int]:
    """Articles, and feed entries (each entry read: a new article or a duplicate of one)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        articles = connection.execute(text("select count(*) from articles where not is_baseline")).scalar_one()
        entries = connection.execute(text("select count(*) from entries")).scalar_one()
    engine.dispose()
    return articles, entries


def measure(size: int, args: argparse.Namespace, pages: list[bytes], mode: str = "run") -> list[tuple]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, World(size, args.entries, args.hosts, pages) as world:
        folder = Path(tmp)
        url, drop = database("postgresql" if mode.startswith("celery") else args.database, folder)
        feeds = folder / "feeds.toml"
        feeds.write_text("".join(f'[[feed]]\nname = "feed-{i}"\nurl = "{world.feed_url(i)}"\n'
                                 f'outlet = "Outlet {i % 50}"\n\n'
                                 for i in range(size)), encoding="utf-8")
        env = {**os.environ, "NEWSWATCH_DATABASE_URL": url, "NEWSWATCH_DATA_DIR": str(folder / "data"),
               "NEWSWATCH_FEEDS": str(feeds), "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.0/8",
               "NEWSWATCH_HOST_DELAY": str(args.host_delay), "NEWSWATCH_MAX_ENTRIES": str(args.entries)}
        if args.workers:
            env["NEWSWATCH_WORKERS"] = str(args.workers)
        try:
            if mode != "run":
                from bench.scale_dag import measure_dag
                return measure_dag(mode, size, folder, env, url, world, lambda u: stored_counts(u)[0])
            run_step(["init"], env)
            for label in ("first cycle", "unchanged cycle"):
                world.requests.clear()
                before = stored_counts(url)
                step = run_step(["run", "--force", "--no-alerts"], env)
                after = stored_counts(url)
                new, entries = after[0] - before[0], after[1] - before[1]
                requests = sum(world.requests.values())
                rows.append((size, label, step["wall"], step["cpu"], entries / step["wall"], new / step["wall"],
                             size / step["wall"], step["rss_mib"], requests / size, entries, new))
        finally:
            drop()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", default="100,1000")
    parser.add_argument("--entries", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--host-delay", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=0, help="NEWSWATCH_WORKERS (0: the default)")
    parser.add_argument("--modes", default="run", help="run (newswatch run), local, celery1, celery2 (the DAG)")
    args = parser.parse_args()
    if not (AEB / "ground-truth.json").is_file():
        print(f"AEB pages not found at {AEB}: nothing to measure")
        return 0
    truth = json.loads((AEB / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [gzip.decompress((AEB / "html" / f"{key}.html.gz").read_bytes()) for key in sorted(truth)]
    print(f"{args.entries} entries a feed, {args.hosts} hosts, {args.database} (celery modes: postgresql), "
          f"host delay {args.host_delay:g} s, "
          f"workers {args.workers or 'default'}\n")
    modes = args.modes.split(",")
    if "run" in modes:
        # An entry read is a page fetched, extracted, labelled and stored as an article or, when
        # its text nearly repeats one stored (the AEB pages recur across feeds), as its duplicate.
        print("| feeds | cycle | wall s | CPU s | entries read/s | new articles/s | feeds/s | peak RSS MiB "
              "| requests/feed | entries read | new articles |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for size in (int(s) for s in args.feeds.split(",")):
            for row in measure(size, args, pages):
                print("| %d | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.2f | %d | %d |" % row, flush=True)
    if set(modes) - {"run"}:
        print("\n| feeds | DAG mode | cycle | wall s | new articles/s | feeds/s | peak RSS MiB per worker "
              "| requests/feed | new articles |")
        print("|---|---|---|---|---|---|---|---|---|")
        for size in (int(s) for s in args.feeds.split(",")):
            for mode in (m for m in modes if m != "run"):
                for row in measure(size, args, pages, mode):
                    print("| %d | %s | %s | %.1f | %.1f | %.2f | %s | %.2f | %d |" % row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
