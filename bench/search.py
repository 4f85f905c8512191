"""Full-text search latency: ranked top-20 searches over 100,000 articles, SQLite and PostgreSQL.

The corpus is built from real sentences (the language test sets in ../shared/data/langid
for de, en, fr, ru, uk, and the AEB article bodies for more English): each article is 15
to 25 sentences of one language, with three names drawn from a Zipf distribution over
20,000 made-up names, so there are rare words as well as common ones. Articles go in
through the storage layer's own indexing (``index_articles``). Queries, 40 per class:

- rare:   a name found in 3 to 30 articles
- common: a word found in 5 % to 30 % of the articles
- phrase: two consecutive words of a sentence, quoted
- boolean: ``common OR common -rare``
- common, filtered: the common words, in English articles published after the first month
  (the matches meet the articles table and its filters)

Each query is timed as the web page and the CLI call it (``search_articles``: the total
count and the 20 best by rank, with snippets), after one untimed round.

    .venv/bin/python bench/search.py [--articles 100000] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.fulltext import analyze  # noqa: E402
from bench.databases import fresh_postgres  # noqa: E402
from pipeline.storage.engine import create_database_engine, migrate  # noqa: E402
from pipeline.storage.schema import Article  # noqa: E402
from pipeline.storage.search import SearchFilter, index_articles, search_articles  # noqa: E402

LANGUAGES = {"en": 0.4, "de": 0.2, "fr": 0.15, "uk": 0.15, "ru": 0.1}
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
SYLLABLES = "ka lo mi ren sto va dul pek ny zor bri tam gol vek sha ri on el ast mur".split()


def sentence_pools(data: Path) -> dict[str, list[str]]:
    pools = {lang: (data / "langid/sentences" / f"{lang}.txt").read_text(encoding="utf-8").splitlines()
             for lang in LANGUAGES}
    truth = data / "extraction/aeb/ground-truth.json"
    if truth.is_file():
        for page in json.loads(truth.read_text(encoding="utf-8")).values():
            pools["en"] += [s for s in re.split(r"(?<=[.!?])\s+", page["articleBody"]) if len(s.split()) > 5]
    return pools


def made_up_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        names.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(3, 4))).capitalize())
    return sorted(names)


def build_corpus(count: int, pools: dict[str, list[str]], seed: int = 11) -> tuple[list[dict], Counter]:
    """The articles, and in how many articles each made-up name occurs."""
    rng = random.Random(seed)
    names = made_up_names(rng, 20_000)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(names))]
    languages, shares = list(LANGUAGES), list(LANGUAGES.values())
    articles, name_df = [], Counter()
    for n in range(count):
        language = rng.choices(languages, shares)[0]
        sentences = rng.sample(pools[language], rng.randint(15, 25))
        chosen = rng.choices(names, weights, k=3)
        name_df.update(set(chosen))
        for name in chosen:
            at = rng.randrange(len(sentences))
            sentences[at] = f"{sentences[at]} {name}."
        when = T0 + timedelta(minutes=5 * n)
        text_ = " ".join(sentences)
        articles.append({
            "id": n + 1, "outlet": f"outlet {n % 12}", "url": f"https://bench.test/{n}",
            "canonical_url": f"https://bench.test/{n}", "title": sentences[0][:120], "published_at": when,
            "first_seen_at": when, "language": language, "language_confidence": 0.99,
            "language_source": "text", "word_count": len(text_.split()), "text": text_,
            "text_sha256": f"{n:064x}", "text_source": "page", "is_baseline": False, "version": 1,
            "checks": 0, "baseline_similarity": round(rng.random(), 4)})
    return articles, name_df


def fill(url: str, articles: list[dict]) -> float:
    """Store the corpus and index it through the storage layer; returns the seconds taken."""
    engine = create_database_engine(url)
    migrate(engine)
    started = time.perf_counter()
    for start in range(0, len(articles), 2000):
        chunk = articles[start:start + 2000]
        with engine.begin() as connection:
            connection.execute(insert(Article), chunk)
            index_articles(connection, [a["id"] for a in chunk])
    seconds = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(text("ANALYZE" if engine.dialect.name == "postgresql" else "PRAGMA optimize"))
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after a load: the visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return seconds


def pick_queries(articles: list[dict], name_df: Counter, per_class: int, seed: int = 5) -> dict[str, list[str]]:
    rng = random.Random(seed)
    document_frequency: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for article in articles[::10]:  # a 10 % sample is enough to rank the words
        for word in sorted(set(re.findall(r"[^\W\d_]{4,}", article["text"]))):  # sorted: no hash order
            term = analyze(word, article["language"])[0]
            document_frequency[term] += 10
            surface.setdefault(term, word)
    total = len(articles)
    rare = sorted(n for n, df in name_df.items() if 3 <= df <= 30)
    common = [surface[t] for t, df in document_frequency.items() if 0.05 * total <= df <= 0.30 * total]
    phrases = []
    for article in rng.sample(articles, per_class * 3):
        words = re.findall(r"[^\W\d_]{3,}", article["text"])
        if len(words) > 10:
            at = rng.randrange(len(words) - 1)
            phrases.append(f'"{words[at]} {words[at + 1]}"')
    rng.shuffle(rare), rng.shuffle(common)
    booleans = [f"{a} OR {b} -{c}" for a, b, c in zip(common[::2], common[1::2], rare)]
    return {"rare": rare[:per_class], "common": common[:per_class], "phrase": phrases[:per_class],
            "boolean": booleans[:per_class], "common, filtered": common[:per_class]}


FILTERED = SearchFilter(language="en", since=T0 + timedelta(days=30))  # the "common, filtered" class


def measure(url: str, queries: dict[str, list[str]]) -> dict[str, tuple[float, float, float]]:
    """Per class: p50 and p95 in ms, and the median number of matching articles."""
    engine = create_database_engine(url, read_only=True)
    results = {}
    for kind, batch in queries.items():
        where = FILTERED if kind == "common, filtered" else SearchFilter()
        for query in batch:  # one untimed round: caches, query plans
            search_articles(engine, query, where)
        times, totals = [], []
        for query in batch:
            started = time.perf_counter()
            found = search_articles(engine, query, where)
            times.append((time.perf_counter() - started) * 1000)
            totals.append(found.total)
        times.sort()
        results[kind] = (statistics.median(times), times[int(0.95 * (len(times) - 1))], statistics.median(totals))
    engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data")
    args = parser.parse_args()
    if not (args.data / "langid/sentences/en.txt").is_file():
        print(f"the language test sets are not at {args.data / 'langid'}; nothing to build a corpus from")
        return 0
    articles, name_df = build_corpus(args.articles, sentence_pools(args.data))
    queries = pick_queries(articles, name_df, args.per_class)
    work = Path(tempfile.mkdtemp(prefix="newswatch-bench-search-"))
    databases = [("SQLite", f"sqlite:///{work / 'bench.db'}")]
    if (pg := fresh_postgres("newswatch_bench_search")) is not None:
        databases.append(("PostgreSQL", pg))
    print(f"{args.articles:,} articles ({', '.join(f'{l} {s:.0%}' for l, s in LANGUAGES.items())}), "
          f"top 20 by rank with the total count; {args.per_class} queries per class")
    print("| database | indexing articles/s | query class | median matches | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    for name, url in databases:
        rate = args.articles / fill(url, articles)
        for kind, (p50, p95, matches) in measure(url, queries).items():
            print(f"| {name} | {rate:,.0f} | {kind} | {matches:,.0f} | {p50:.1f} | {p95:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
