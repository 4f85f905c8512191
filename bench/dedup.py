"""Near-duplicates: quality on the AEB extractor outputs, and lookup cost as the store grows.

Quality: the outputs of seven extractors whose F1 on the AEB benchmark is at least 0.9
(dragnet, go_domdistiller, news_please, newspaper, readability, readability_js,
trafilatura). Two outputs of one page are a positive pair, outputs of different pages a
negative; every output is looked up against all others through the LSH bands exactly as
the pipeline does, and judged by ``best_near_match``'s rule.

Cost: synthetic articles made of real sentences (so that same-topic texts share
phrases, as news does) are stored with their signatures, bands and stories; then the
near-duplicate and story lookups of new articles are timed — the production code, in a
transaction that is rolled back — at 1,000, 10,000 and 100,000 stored articles, on
SQLite and on PostgreSQL when it is reachable.

    .venv/bin/python bench/dedup.py [--sizes 1000,10000,100000] [--probes 200]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import embedding  # noqa: E402
from pipeline.dedup import band_keys, best_near_match, signature_of  # noqa: E402
from pipeline.labels import ArticleLabels  # noqa: E402
from pipeline.storage.engine import create_database_engine, migrate  # noqa: E402
from pipeline.storage.labelling import NewArticle, label_articles  # noqa: E402
from pipeline.storage.schema import Article, MinhashBand, Story  # noqa: E402

GOOD = ("dragnet", "go_domdistiller", "news_please", "newspaper", "readability", "readability_js",
        "trafilatura")
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CONCEPTS = ("ukraine-war", "summit", "ceasefire", "peace-talks", "sanctions", "alaska", "trump", "putin",
            "zelensky", "white-house", "european-leaders", "trilateral", "energy-strikes", "drones",
            "territory", "trade", "g7", "nato", "russia", "eu", "canada", "prisoners", "venues")
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def load_outputs(aeb: Path) -> dict[tuple[str, str], str]:
    docs = {}
    for system in GOOD:
        data = json.loads(gzip.decompress((aeb / "output" / f"{system}.json.gz").read_bytes()))
        data = data.get("output", data) if "version" in data else data
        for page, value in data.items():
            docs[(system, page)] = (value.get("articleBody") or "") if isinstance(value, dict) else ""
    return docs


def quality(aeb: Path) -> tuple[float, float, int, int]:
    """Precision and recall over page identity, with the pipeline's LSH lookup and rule."""
    docs = load_outputs(aeb)
    signatures = {key: signature_of(body) for key, body in docs.items()}
    buckets: dict[int, list] = defaultdict(list)
    for key, signature in signatures.items():
        if signature is not None:
            for band in set(band_keys(signature)):
                buckets[band].append(key)
    found = set()
    for key, signature in signatures.items():
        if signature is None:
            continue
        candidates = {other for band in set(band_keys(signature)) for other in buckets[band] if other != key}
        ids = {other: index for index, other in enumerate(sorted(candidates))}
        for other in candidates:
            match = best_near_match(signature, {ids[other]: signatures[other]})
            if match is not None:
                found.add(tuple(sorted((key, other))))
    positives = {tuple(sorted(pair)) for pair in itertools.combinations(sorted(docs), 2)
                 if pair[0][1] == pair[1][1]}
    true = len(found & positives)
    return true / max(1, len(found)), true / len(positives), len(found), len(positives)


def sentence_pool(aeb: Path) -> list[list[str]]:
    """Real sentences, grouped by article: the raw material of the synthetic store."""
    truth = json.loads((aeb / "ground-truth.json").read_text(encoding="utf-8"))
    pools = []
    for item in truth.values():
        sentences = [s.strip() for s in item["articleBody"].replace("\n", " ").split(". ") if len(s.split()) > 6]
        if len(sentences) >= 8:
            pools.append(sentences)
    return pools


def synthetic_article(rng: random.Random, pools: list[list[str]]) -> str:
    """Sentences from two articles of the pool: texts that overlap the way topical news does."""
    first, second = rng.sample(pools, 2)
    return ". ".join(rng.sample(first, min(10, len(first))) + rng.sample(second, min(5, len(second))))


def fill(engine, start: int, stop: int, rng: random.Random, pools: list[list[str]]) -> None:
    """Store articles start..stop-1 (1,000 a day), with bands and a story per five."""
    for chunk in range(start, stop, 1000):
        articles, bands, stories = [], [], []
        for n in range(chunk, min(stop, chunk + 1000)):
            when = T0 + timedelta(minutes=1.44 * n)
            signature = signature_of(synthetic_article(rng, pools))
            # five articles a story, each story its own event (an event vector of its own), as in the news
            vector = {c: round(rng.uniform(0.3, 2.0), 3) for c in rng.sample(CONCEPTS, 4)}
            if n % 5 == 0:
                stories.append({"id": n // 5 + 1, "title": f"story {n}", "first_seen_at": when,
                                "last_seen_at": when + timedelta(hours=12), "article_count": 5,
                                "outlets": ["bench"], "languages": ["en"]})
            articles.append({
                "id": n + 1, "outlet": "bench", "url": f"https://bench.test/{n}",
                "canonical_url": f"https://bench.test/{n}", "title": f"article {n}", "published_at": when,
                "first_seen_at": when, "language": "en", "language_confidence": 1.0, "language_source": "text",
                "word_count": 300, "text": "", "text_sha256": f"{n:064x}", "text_source": "page",
                "is_baseline": False, "version": 1, "checks": 0, "story_id": n // 5 + 1,
                "minhash": signature.to_bytes(), "shingle_count": signature.shingles, "concept_vector": vector,
                "event_time": when, "event_vector": embedding.to_bytes(event_vector(n // 5, rng))})
            bands += [{"key": key, "article_id": n + 1} for key in set(band_keys(signature))]
        with engine.begin() as connection:
            if stories:
                connection.execute(insert(Story), stories)
            connection.execute(insert(Article), articles)
            connection.execute(insert(MinhashBand), bands)
    if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
        with engine.begin() as connection:
            for table in ("articles", "stories"):
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                        f"(SELECT max(id) FROM {table}))"))


def event_vector(event: int, rng: random.Random) -> np.ndarray:
    """An article's event vector: its event's direction, and a little noise of its own."""
    direction = np.random.default_rng(event).normal(size=embedding.DIMENSIONS)
    noisy = direction / np.linalg.norm(direction) + np.random.default_rng(rng.randrange(2**32)).normal(
        scale=0.02, size=embedding.DIMENSIONS)
    return (noisy / np.linalg.norm(noisy)).astype(np.float32)


def time_lookups(engine, stored: int, probes: int, rng: random.Random, pools: list[list[str]]) -> float:
    """Milliseconds per article for the near-duplicate and story lookups, store unchanged."""
    elapsed = 0.0
    for n in range(probes):
        at = rng.randrange(stored)
        when = T0 + timedelta(minutes=1.44 * at)
        vector = {c: 1.0 for c in rng.sample(CONCEPTS, 4)}  # news of an event already in the store:
        labels = ArticleLabels((), (), vector, 0.5, (), event_vector=event_vector(at // 5, rng))
        article = NewArticle(id=stored + n + 1, title="probe", outlet="bench", language="en", when=when,
                             signature=signature_of(synthetic_article(rng, pools)), labels=labels)
        with engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(insert(Article).values(
                id=article.id, outlet="bench", url=f"probe:{n}", canonical_url=f"probe:{n}", title="probe",
                first_seen_at=when, language="en", language_confidence=1.0, language_source="text",
                word_count=0, text="", text_sha256="p", text_source="page", is_baseline=False,
                version=1, checks=0))
            started = time.perf_counter()
            label_articles(connection, [article])
            elapsed += time.perf_counter() - started
            transaction.rollback()
    return elapsed / probes * 1000


def scaling(url: str, sizes: list[int], probes: int, pools) -> list[tuple[int, float]]:
    engine = create_database_engine(url)
    migrate(engine)
    rng = random.Random(7)
    results, stored = [], 0
    for size in sizes:
        fill(engine, stored, size, rng, pools)
        stored = size
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        results.append((size, time_lookups(engine, stored, probes, random.Random(size), pools)))
    engine.dispose()
    return results


def postgres_database() -> str | None:
    try:
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        name = f"newswatch_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return POSTGRES.rsplit("/", 1)[0] + "/" + name
    except Exception as error:  # a benchmark without PostgreSQL still reports SQLite
        print(f"PostgreSQL not reachable ({type(error).__name__}); SQLite only", file=sys.stderr)
        return None


def drop_postgres(url: str) -> None:
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/extraction/aeb")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    if not (args.data / "output").is_dir():
        print(f"AEB data not found at {args.data}", file=sys.stderr)
        return 0
    console = Console(width=140)
    precision, recall, found, positives = quality(args.data)
    table = Table(title="near-duplicates on AEB outputs (7 extractors with F1 >= 0.9)", title_justify="left")
    for column in ("pairs found", "positive pairs", "precision", "recall"):
        table.add_column(column, justify="right")
    table.add_row(str(found), str(positives), f"{precision:.4f}", f"{recall:.4f}")
    console.print(table)

    sizes = [int(s) for s in args.sizes.split(",")]
    pools = sentence_pool(args.data)
    backends = [("SQLite", f"sqlite:///{tempfile.mkdtemp(prefix='newswatch-bench-')}/bench.db")]
    pg = postgres_database()
    if pg:
        backends.append(("PostgreSQL", pg))
    table = Table(title=f"near-duplicate + story lookup per new article ({args.probes} probes)",
                  title_justify="left")
    table.add_column("database")
    for size in sizes:
        table.add_column(f"{size:,} stored (ms)", justify="right")
    table.add_column(f"{sizes[-1]:,} / {sizes[0]:,}", justify="right")
    try:
        for name, url in backends:
            results = scaling(url, sizes, args.probes, pools)
            table.add_row(name, *(f"{ms:.2f}" for _, ms in results), f"{results[-1][1] / results[0][1]:.2f}x")
    finally:
        if pg:
            drop_postgres(pg)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
