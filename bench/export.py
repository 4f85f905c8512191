"""Export throughput and peak memory: `newswatch export` over 10,000 and 100,000 articles.

Fills a fresh database with synthetic articles (about 2,500 characters of text each, two
topics each), then runs `newswatch export --format jsonl|csv|parquet --output FILE` as a
child process per format and size, and reports rows/s, the file size and the child's peak
resident memory. Bounded memory shows as a peak that does not grow with the row count.
SQLite always; PostgreSQL too when the test server is reachable.

    .venv/bin/python bench/export.py [--sizes 10000,100000]
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import fresh_postgres  # noqa: E402
from pipeline.storage.engine import create_database_engine, migrate  # noqa: E402
from pipeline.storage.schema import Article, ArticleConcept  # noqa: E402

T0 = datetime(2025, 8, 1, tzinfo=timezone.utc)
WORDS = ("summit ceasefire delegation minister border talks guarantee sanctions envoy treaty frontline "
         "drone energy grid parliament coalition security reporter statement capital agreement region "
         "monday tuesday evening officials negotiators proposal withdrawal exchange prisoners").split()


def fill(url: str, count: int) -> None:
    engine = create_database_engine(url)
    migrate(engine)
    rng = random.Random(7)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM article_concepts"))
        connection.execute(text("DELETE FROM articles"))
    for chunk in range(0, count, 2000):
        articles, concepts = [], []
        for n in range(chunk, min(count, chunk + 2000)):
            when = T0 + timedelta(minutes=n)
            body = " ".join(rng.choice(WORDS) for _ in range(330))
            articles.append({
                "id": n + 1, "outlet": "bench", "url": f"https://bench.test/{n}", "canonical_url": f"https://bench.test/{n}",
                "title": f"Bench article {n}", "published_at": when, "first_seen_at": when, "language": "en",
                "language_confidence": 0.99, "language_source": "text", "word_count": 330, "text": body,
                "text_sha256": f"{n:064x}", "text_source": "page", "is_baseline": False, "version": 1, "checks": 0,
                "baseline_similarity": round(rng.random(), 4), "baseline_adds": ["summit venues"]})
            concepts += [{"article_id": n + 1, "concept": c, "kind": "topic", "is_topic": True, "hits": 2,
                          "terms": [c]} for c in ("summit", "ukraine-war")]
        with engine.begin() as connection:
            connection.execute(insert(Article), articles)
            connection.execute(insert(ArticleConcept), concepts)
    engine.dispose()


def export(url: str, fmt: str, out: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one `newswatch export` child process."""
    started = time.perf_counter()
    child = subprocess.Popen([str(ROOT / ".venv/bin/newswatch"), "export", "--format", fmt, "--output", str(out),
                              "--database-url", url], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"export {fmt} failed: {child.stderr.read().decode()[-500:]}")
    return wall, usage.ru_maxrss * 1024


def main() -> int:
    sizes = [10_000, 100_000]
    if "--sizes" in sys.argv:
        sizes = [int(s) for s in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    work = Path(tempfile.mkdtemp(prefix="newswatch-bench-export-"))
    databases = [("SQLite", f"sqlite:///{work / 'bench.db'}")]
    if (pg := fresh_postgres("newswatch_bench_export")) is not None:
        databases.append(("PostgreSQL", pg))
    print("| database | rows | format | seconds | rows/s | file MB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for name, url in databases:
        for size in sizes:
            fill(url, size)
            for fmt in ("parquet", "jsonl", "csv"):
                out = work / f"export.{fmt}"
                wall, peak = export(url, fmt, out)
                print(f"| {name} | {size:,} | {fmt} | {wall:.1f} | {size / wall:,.0f} | "
                      f"{out.stat().st_size / 1e6:.1f} | {peak / 1e6:.0f} |", flush=True)
                out.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
