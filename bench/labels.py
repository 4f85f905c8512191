"""Label quality on the labelled fixture world (tests/fixtures/world/world.toml).

Runs the real pipeline — fixture HTTP server, `newswatch run`, SQLite — over the world's
feeds, then compares what it stored with the manifest's truth:
- baseline similarity: AUC of summit coverage against everything else, and of other
  Ukraine-war coverage against unrelated news and traps (the ranking summit > other
  Ukraine > unrelated);
- stories: pairwise precision and recall (two articles in one story, by truth and by us);
- topics: per-article exact accuracy, and precision/recall per topic;
- near-duplicates: the syndicated pairs linked, nothing else linked.

    .venv/bin/python bench/labels.py
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOPICS = ("ukraine-war", "ceasefire", "peace-talks", "summit", "sanctions", "security-guarantees")


def auc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positive for n in negative]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def evaluate(rows: dict[str, dict], articles: list[dict]) -> dict[str, float]:
    """Every figure, from stored rows (by manifest key) and the manifest's articles."""
    by_key = {a["key"]: a for a in articles}
    similarity = {k: rows[k]["baseline_similarity"] or 0.0 for k in by_key}
    summit = [similarity[k] for k, a in by_key.items() if a["summit"]]
    ukraine = [similarity[k] for k, a in by_key.items() if a["ukraine"] and not a["summit"]]
    other = [similarity[k] for k, a in by_key.items() if not a["ukraine"]]
    same_truth = same_ours = both = 0
    for x, y in itertools.combinations(sorted(by_key), 2):
        truth = by_key[x]["story"] == by_key[y]["story"]
        ours = rows[x]["story_id"] == rows[y]["story_id"]
        same_truth += truth
        same_ours += ours
        both += truth and ours
    topics = sorted({t for a in articles for t in a["topics"]} | {t for r in rows.values() for t in r["topics"]})
    exact = sum(set(rows[k]["topics"]) == set(a["topics"]) for k, a in by_key.items()) / len(by_key)
    decisions = [(t in rows[k]["topics"]) == (t in a["topics"]) for k, a in by_key.items() for t in TOPICS]
    figures = {
        "auc_summit_vs_rest": auc(summit, ukraine + other), "auc_summit_vs_ukraine": auc(summit, ukraine),
        "auc_ukraine_vs_other": auc(ukraine, other), "story_precision": both / max(1, same_ours),
        "story_recall": both / max(1, same_truth), "topic_exact_accuracy": exact,
        "topic_decision_accuracy": sum(decisions) / len(decisions),
    }
    for topic in topics:
        predicted = {k for k in by_key if topic in rows[k]["topics"]}
        expected = {k for k, a in by_key.items() if topic in a["topics"]}
        figures[f"topic_{topic}_precision"] = len(predicted & expected) / max(1, len(predicted))
        figures[f"topic_{topic}_recall"] = len(predicted & expected) / max(1, len(expected))
    return figures


def run_world(workdir: Path) -> tuple[dict[str, dict], list[dict]]:
    """Stores the fixture world with the real pipeline; rows by manifest key."""
    from sqlalchemy import create_engine, text

    from pipeline.cli import main as newswatch
    from tests.fixtureserver import FixtureServer
    from tests.world import ARTICLES, write_feed_list

    url = f"sqlite:///{workdir / 'world.db'}"
    with FixtureServer() as server:
        feeds = write_feed_list(workdir / "feeds.toml", server)
        common = ["--database-url", url, "--baseline", str(ROOT / "seeds/baseline"),
                  "--topics", str(ROOT / "seeds/topics.toml")]
        newswatch(["init", *common])
        newswatch(["run", *common, "--feeds", str(feeds), "--allowed-private-hosts", "127.0.0.1",
                   "--host-delay", "0"])
        base = server.base
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = {r.canonical_url: dict(r._mapping) for r in connection.execute(text(
            "select id, canonical_url, story_id, baseline_similarity, duplicate_of from articles"))}
        topics: dict[int, list[str]] = {}
        for article_id, concept in connection.execute(text(
                "select article_id, concept from article_concepts where is_topic")):
            topics.setdefault(article_id, []).append(concept)
    engine.dispose()
    rows = {}
    for article in ARTICLES:
        row = stored[f"{base}/{article['canonical']}"]
        rows[article["key"]] = {**row, "topics": sorted(topics.get(row["id"], []))}
    return rows, ARTICLES


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    os.environ.setdefault("NEWSWATCH_LOG", "")
    with tempfile.TemporaryDirectory(prefix="newswatch-labels-") as workdir:
        rows, articles = run_world(Path(workdir))
    figures = evaluate(rows, articles)
    table = Table(title=f"labels on the fixture world ({len(articles)} labelled articles)", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, f"{value:.3f}")
    copies = [a for a in articles if a["kind"] == "syndicated"]
    linked = sum(1 for a in copies if rows[a["key"]]["duplicate_of"] is not None)
    others = sum(1 for a in articles if a["kind"] != "syndicated" and rows[a["key"]]["duplicate_of"])
    table.add_row("syndicated copies linked (of pairs)", f"{linked} of {len(copies) // 2}")
    table.add_row("other articles linked as copies", str(others))
    Console(width=120).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
