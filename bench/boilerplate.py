"""The per-outlet boilerplate memory, measured: extraction quality, residue, order, cost.

1. AEB (181 pages of 126 sites, bodies marked by hand): F1, precision and recall of the
   article stage without the memory and with it — each site an outlet, the memory
   settled (every page of the site counted) — at thresholds 2 to 5; and, as a stress
   test, the whole set as one outlet (paragraphs that unrelated sites share). No AEB site
   has more than two pages, so from a threshold of 3 on a site's memory cannot change
   its pages: the rows at 2 show what too low a threshold costs.
2. The fixture world through ``newswatch run`` on SQLite and PostgreSQL, memory off
   (``--boilerplate-articles 0``) and on: per outlet (page layout) the articles whose
   stored text holds boilerplate (the manifest's ``kept_boilerplate`` and each article's
   ``boilerplate_phrases``), the full-text hits of the kept phrases, and how much two of
   its articles about different stories overlap (shared word 4-shingles); the words of
   other text lost (must be 0); and the world polled one entry per feed and poll, feeds
   in reverse order: articles whose stored text differs from the one-poll run.
3. Cost: CPU ms per article of the stage (split, fingerprint, clean) on the AEB pages
   against the article stage's extraction; wall ms per article of the world's cycle.

    .venv/bin/python bench/boilerplate.py [--data ../shared/data/extraction/aeb]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import itertools
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import fresh_postgres  # noqa: E402
from bench.extraction import our_stage, precision_recall  # noqa: E402
from pipeline.boilerplate import (  # noqa: E402
    MIN_ARTICLES,
    OutletMemory,
    count_articles,
    paragraph_examples,
    remove_boilerplate,
    split_paragraphs,
)
from pipeline.dedup import shingle_set  # noqa: E402
from pipeline.storage.search import SearchFilter, search_articles  # noqa: E402

THRESHOLDS = (2, 3, 4, 5)
CONSOLE = Console(width=140)


@dataclass(frozen=True)
class Page:
    outlet: str
    text: str  # as the article stage extracts it
    truth: str


def read_aeb(data: Path) -> tuple[list[Page], float]:
    """The AEB pages as our article stage extracts them, and its CPU ms per page."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages, spent = [], 0.0
    for key, item in truth.items():
        body = gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes())
        started = time.process_time()
        extracted = our_stage(body, item["url"])
        spent += time.process_time() - started
        pages.append(Page(urlsplit(item["url"]).hostname or "", extracted, item["articleBody"]))
    return pages, spent / len(pages) * 1000


def settled_texts(pages: list[Page], min_articles: int, *, one_outlet: bool = False) -> tuple[list[str], int]:
    """Each page cleaned with its outlet's settled memory; how many pages changed."""
    outlets: dict[str, list[int]] = defaultdict(list)
    for index, page in enumerate(pages):
        outlets["" if one_outlet else page.outlet].append(index)
    texts, changed = [page.text for page in pages], 0
    for indices in outlets.values():
        split = {i: split_paragraphs(pages[i].text) for i in indices}
        counts = count_articles([fp for fp, _ in paragraph_examples(p)] for p in split.values())
        memory = OutletMemory(counts, min_articles)
        for i, paragraphs in split.items():
            cleaned = remove_boilerplate(paragraphs, memory)
            texts[i], changed = cleaned.text, changed + cleaned.changed
    return texts, changed


def scores(texts: list[str], pages: list[Page]) -> tuple[float, float, float]:
    """F1, precision, recall: the benchmark's own metric (bench/extraction.py)."""
    pairs = [precision_recall(text, page.truth) for text, page in zip(texts, pages)]
    precision = sum(p for p, _ in pairs) / len(pairs)
    recall = sum(r for _, r in pairs) / len(pairs)
    return 2 * precision * recall / (precision + recall), precision, recall


def stage_ms(pages: list[Page], repeat: int = 3) -> float:
    """CPU ms per article of the stage: split and fingerprint, count, clean."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        settled_texts(pages, MIN_ARTICLES)
        best = min(best, time.process_time() - started)
    return best / len(pages) * 1000


def print_aeb(pages: list[Page], extraction_ms: float) -> None:
    table = Table(title=f"AEB: {len(pages)} pages, {len({p.outlet for p in pages})} sites "
                        f"(at most 2 pages each); default threshold {MIN_ARTICLES}", title_justify="left")
    for column in ("memory", "threshold", "F1", "precision", "recall", "pages changed"):
        table.add_column(column, justify="left" if column == "memory" else "right")
    f1, precision, recall = scores([p.text for p in pages], pages)
    table.add_row("off", "-", f"{f1:.4f}", f"{precision:.4f}", f"{recall:.4f}", "0")
    for label, one_outlet in (("each site an outlet", False), ("stress: all pages one outlet", True)):
        for threshold in THRESHOLDS:
            texts, changed = settled_texts(pages, threshold, one_outlet=one_outlet)
            f1, precision, recall = scores(texts, pages)
            table.add_row(label, str(threshold), f"{f1:.4f}", f"{precision:.4f}", f"{recall:.4f}", str(changed))
    CONSOLE.print(table)
    CONSOLE.print(f"cost: article stage (extraction) {extraction_ms:.1f} CPU ms/page; boilerplate stage "
                  f"(split, fingerprint, count, clean) {stage_ms(pages):.2f} CPU ms/page\n")


@dataclass(frozen=True)
class WorldRun:
    texts: dict[str, str]  # manifest key -> stored text
    residue: dict[str, int]  # outlet -> articles whose stored text holds boilerplate
    hits: dict[str, int]  # outlet -> articles a search for its kept boilerplate finds
    polls: int  # cycles it took to store the world
    seconds: float


def run_world(url: str, workdir: Path, *, min_articles: int, one_at_a_time: bool = False) -> WorldRun:
    """The fixture world stored through ``newswatch run``: in one cycle, or one entry per
    feed and poll, the feeds in reverse order, until every article is in."""
    from pipeline.cli import main as newswatch
    from tests.fixtureserver import FixtureServer
    from tests.world import ARTICLES, write_feed_list

    quiet = io.StringIO()
    with FixtureServer() as server, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        feeds = write_feed_list(workdir / f"feeds-{time.monotonic_ns()}.toml", server, reverse=one_at_a_time)
        common = ["--database-url", url, "--baseline", str(ROOT / "seeds/baseline"),
                  "--topics", str(ROOT / "seeds/topics.toml"), "--boilerplate-articles", str(min_articles)]
        newswatch(["init", *common])
        started, polls = time.perf_counter(), 0
        while polls < 30 and (polls == 0 or stored_articles(url) < len(ARTICLES)):
            newswatch(["run", *common, "--feeds", str(feeds), "--allowed-private-hosts", "127.0.0.1",
                       "--host-delay", "0", "--force", "--no-alerts",
                       *(["--max-entries", "1"] if one_at_a_time else [])])
            polls += 1
        seconds = time.perf_counter() - started
        base = server.base
    return measure_world(url, base, polls, seconds)


def stored_articles(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text("select count(*) from articles where not is_baseline")).scalar_one()
    engine.dispose()
    return count


def measure_world(url: str, base: str, polls: int, seconds: float) -> WorldRun:
    from tests.world import ARTICLES, KEPT_BOILERPLATE

    engine = create_engine(url)
    with engine.connect() as connection:
        stored = dict(connection.execute(text("select canonical_url, text from articles")).all())
    texts = {a["key"]: stored[f"{base}/{a['canonical']}"] for a in ARTICLES}
    residue: dict[str, int] = defaultdict(int)
    for article in ARTICLES:
        phrases = (*article["boilerplate_phrases"], *KEPT_BOILERPLATE.get(article["outlet"], ()))
        residue[article["outlet"]] += any(phrase in texts[article["key"]] for phrase in phrases)
    hits = {outlet: len({hit.id for phrase in phrases for hit in search_articles(
        engine, f'"{phrase}"', SearchFilter(outlet=outlet), limit=100).hits})
        for outlet, phrases in KEPT_BOILERPLATE.items()}
    engine.dispose()
    return WorldRun(texts, dict(residue), hits, polls, seconds)


def other_words(before: WorldRun, after: WorldRun) -> tuple[int, int]:
    """Words of the memory-off texts that are not kept boilerplate: in all, and missing after."""
    from tests.world import ARTICLES, KEPT_BOILERPLATE

    total = lost = 0
    for article in ARTICLES:
        kept = set(after.texts[article["key"]].split("\n"))
        phrases = KEPT_BOILERPLATE.get(article["outlet"], ())
        for line in before.texts[article["key"]].split("\n"):
            if not any(phrase in line for phrase in phrases):
                total += len(line.split())
                lost += len(line.split()) if line not in kept else 0
    return total, lost


def world_quality(before: WorldRun, after: WorldRun) -> dict[str, float]:
    """The shares the quality ratchet pins: articles free of boilerplate, other words kept."""
    total, lost = other_words(before, after)
    articles = len(after.texts)
    return {"clean_articles": 1 - sum(after.residue.values()) / articles, "other_words_kept": 1 - lost / total}


def unrelated_containment(run: WorldRun, outlet: str) -> float:
    """Mean share of word 4-shingles two articles of ``outlet`` about different stories have in
    common (of the shorter): what boilerplate adds to their similarity."""
    from tests.world import ARTICLES

    shingles = {a["key"]: (a["story"], shingle_set(run.texts[a["key"]])) for a in ARTICLES if a["outlet"] == outlet}
    shares = [len(x & y) / max(1, min(len(x), len(y)))
              for (s1, x), (s2, y) in itertools.combinations(shingles.values(), 2) if s1 != s2]
    return sum(shares) / len(shares) if shares else 0.0


def order_differences(one_poll: WorldRun, one_at_a_time: WorldRun) -> int:
    return sum(one_poll.texts[key] != one_at_a_time.texts[key] for key in one_poll.texts)


def world_runs(url_of, workdir: Path, repeat: int = 3) -> dict[str, WorldRun]:
    """off and on (the fastest of ``repeat`` runs each), and on one entry at a time;
    ``url_of(name)`` gives each run a fresh database."""
    runs = {}
    for name, min_articles in (("off", 0), ("on", MIN_ARTICLES)):
        runs[name] = min((run_world(url_of(f"{name}_{n}"), workdir, min_articles=min_articles)
                          for n in range(repeat)), key=lambda run: run.seconds)
    runs["one at a time"] = run_world(url_of("one"), workdir, min_articles=MIN_ARTICLES, one_at_a_time=True)
    return runs


def print_world(database: str, runs: dict[str, WorldRun]) -> None:
    from tests.world import ARTICLES

    off, on, slow = runs["off"], runs["on"], runs["one at a time"]
    table = Table(title=f"fixture world on {database}: articles holding boilerplate, per layout", title_justify="left")
    for column in ("outlet (layout)", "articles", "memory off", "memory on", "search hits off", "search hits on",
                   "unrelated overlap off", "overlap on"):
        table.add_column(column, justify="left" if column.startswith("outlet") else "right")
    for outlet in sorted({a["outlet"] for a in ARTICLES}):
        table.add_row(outlet, str(sum(a["outlet"] == outlet for a in ARTICLES)), str(off.residue[outlet]),
                      str(on.residue[outlet]), str(off.hits.get(outlet, "-")), str(on.hits.get(outlet, "-")),
                      f"{unrelated_containment(off, outlet):.3f}", f"{unrelated_containment(on, outlet):.3f}")
    CONSOLE.print(table)
    per_article = {name: run.seconds / len(ARTICLES) * 1000 for name, run in runs.items()}
    CONSOLE.print(f"other words lost: {other_words(off, on)[1]} of {other_words(off, on)[0]}; "
                  "one entry per poll, feeds reversed "
                  f"({slow.polls} cycles): {order_differences(on, slow)} articles' texts differ from one cycle's\n"
                  f"wall ms per article of a cycle (fetch over loopback to commit, fastest of 3): memory off "
                  f"{per_article['off']:.1f}, on {per_article['on']:.1f}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/extraction/aeb")
    args = parser.parse_args()
    os.environ.setdefault("NEWSWATCH_LOG", "")
    if (args.data / "ground-truth.json").is_file():
        print_aeb(*read_aeb(args.data))
    else:
        print(f"AEB data not found at {args.data}: its table is skipped", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="newswatch-bench-boilerplate-") as workdir:
        work = Path(workdir)
        print_world("SQLite", world_runs(lambda name: f"sqlite:///{work / name}.db", work))
        if (first := fresh_postgres("newswatch_bench_boilerplate_off_0")) is not None:
            urls = {"off_0": first}
            print_world("PostgreSQL", world_runs(
                lambda name: urls.get(name) or fresh_postgres(f"newswatch_bench_boilerplate_{name}"), work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
