"""Events on real news: stories, summit topics and alerts on the realworld dev set, in any order.

Reads ``../shared/data/realworld-dev`` (real feed entries of 27 Feb – 12 Mar 2025, hand
labelled by event; never copied into this repository) and replays it through the real
pipeline in process — drafts (extraction, language, labels, event vectors) made once,
then stored feed by feed, one round per day, into a fresh SQLite database per run; after
each round the due alerts are delivered (as `newswatch run` does after its cycle). Two
modes: ``feed`` (pages 404: the feed's text only) and ``stub`` (a page with the headline
and the summary). Each mode runs in the feeds' own order and in ``--orders`` random
orders of the feeds within every round, and reports:

- story clustering, pairwise over summit articles: precision, recall, F1;
- events: summit events alerted once, missed, alerted more than once; false alerts
  (on an article that is not summit coverage) and borderline ones; digest items that
  belong to another event than their alert's;
- the ``summit`` and ``ukraine-war`` topics' precision and recall; language accuracy;
- whether every order gave the same stories (partitions of the articles) and the same
  alerts (the stories alerted and the article each names).

``--until DAY`` replays days before DAY only (the held-out last days stay unseen).

    .venv/bin/python bench/events.py [--data DIR] [--orders 50] [--until 2025-03-09] [--modes feed,stub]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from pipeline.alerts import load_rules  # noqa: E402
from pipeline.drafts import draft_from_page  # noqa: E402
from pipeline.errors import HTTPStatusError  # noqa: E402
from pipeline.labels import Labeller  # noqa: E402
from pipeline.models import FeedConfig, FeedEntry, FetchResult  # noqa: E402
from pipeline.seeds import load_baseline  # noqa: E402
from pipeline.storage.engine import create_database_engine, migrate  # noqa: E402
from pipeline.storage.outbox import due_alerts, message_data, record_attempt  # noqa: E402
from pipeline.storage.repository import PollRecord, Repository  # noqa: E402
from pipeline.storage.schema import Article, ArticleConcept  # noqa: E402
from pipeline.urls import clean_url  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "realworld-dev" / "data"
TOPICS = ROOT / "seeds" / "topics.toml"


@dataclass(frozen=True)
class Item:
    key: str  # the entry id; one per article (same-article groups keep their first entry)
    entry_ids: tuple[str, ...]
    feed: str
    day: str
    draft: object


def load(data: Path, until: str | None) -> tuple[list[dict], dict, dict]:
    entries = json.loads((data / "entries.json").read_text(encoding="utf-8"))
    truth = json.loads((data / "truth.json").read_text(encoding="utf-8"))
    kept = [e for e in entries["entries"] if until is None or e["day"] < until]
    return kept, truth, {f["name"] if isinstance(f, dict) else f: f for f in entries.get("feeds", [])}


def make_drafts(entries: list[dict], mode: str, labeller: Labeller) -> tuple[list[Item], float]:
    """Every entry's draft, made once (the costly part); the CPU seconds it took."""
    started = time.process_time()
    items = []
    for e in entries:
        published = datetime.fromisoformat(e["published"]) if e.get("published") else None
        link = e["link"]
        entry = FeedEntry(guid=e.get("guid") or link, link=link, url=clean_url(link), title=e["title"],
                          author="", published_at=published, summary=e.get("description") or "")
        if mode == "stub":
            body = (f"<html lang='{e['language']}'><head><title>{e['title']}</title></head><body><article>"
                    f"<h1>{e['title']}</h1><p>{e.get('description') or ''}</p></article></body></html>")
            page = FetchResult(link, link, 200, body.encode("utf-8"), content_type="text/html; charset=utf-8")
            draft = draft_from_page(entry, page, None, language_hint=e["language"], labeller=labeller)
        else:
            draft = draft_from_page(entry, None, HTTPStatusError(link, 404), language_hint=e["language"],
                                    labeller=labeller)
        items.append(Item(e["id"], (e["id"],), e["feed"], e["day"], draft))
    return items, time.process_time() - started


def replay(items: list[Item], feeds: list[str], outlets: dict[str, str], order_seed: int | None,
           rules, window: float) -> dict:
    """Store every round's items feed by feed (in the given order), delivering after each round."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_database_engine(f"sqlite:///{folder}/bench.db")
        migrate(engine)
        repository = Repository(engine)
        configs = [FeedConfig(name, f"http://feeds.test/{name}", outlets[name]) for name in feeds]
        states = repository.sync_feeds(configs, datetime(2025, 2, 1, tzinfo=timezone.utc))
        alerts: list[dict] = []
        rng = random.Random(order_seed)
        for day in sorted({i.day for i in items}):
            order = list(feeds) if order_seed is None else rng.sample(feeds, len(feeds))
            now = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(hours=23)
            for position, feed in enumerate(order):
                drafts = [i.draft for i in items if i.day == day and i.feed == feed]
                if not drafts:
                    continue
                at = now + timedelta(seconds=position)
                poll = PollRecord(feed_id=states[feed].id, started_at=at, finished_at=at, status="ok",
                                  next_poll_at=at + timedelta(hours=1), failures=0, entries=len(drafts))
                repository.store_poll(poll, drafts, outlet=outlets[feed], rules=rules, digest_window=window)
            alerts += deliver(engine, now + timedelta(minutes=30), {r.id: r for r in rules}, window)
        return outcome(engine, alerts)


def deliver(engine, now: datetime, rules: dict, window: float) -> list[dict]:
    sent = []
    for alert in due_alerts(engine, now):
        data = message_data(engine, alert, window, rules[alert["rule"]])
        record_attempt(engine, alert["id"], now, ok=True, error=None, state="sent")
        urls = [data["article"]["url"]] if alert["sequence"] == 0 else [a["url"] for a in data["articles"]]
        sent.append({"sequence": alert["sequence"], "story": alert["story_id"], "urls": urls})
    return sent


def outcome(engine, alerts: list[dict]) -> dict:
    with engine.connect() as connection:
        rows = connection.execute(select(Article.id, Article.url, Article.story_id, Article.language,
                                         Article.duplicate_of).where(Article.is_baseline.is_(False))).all()
        topics = defaultdict(set)
        for article_id, concept in connection.execute(select(ArticleConcept.article_id, ArticleConcept.concept)
                                                      .where(ArticleConcept.is_topic.is_(True))):
            topics[article_id].add(concept)
    records = {row.url: {"story": row.story_id, "language": row.language, "copy": row.duplicate_of,
                         "topics": topics[row.id], "id": row.id} for row in rows}
    return {"records": records, "alerts": alerts}


def score(result: dict, items: list[Item], truth: dict) -> dict:
    """The figures of one replay against the labels."""
    labels = truth["entries"]
    by_url = {i.draft.url: i for i in items}
    recs = {url: (r, labels[by_url[url].key]) for url, r in result["records"].items() if url in by_url}
    summit = [(url, r, t) for url, (r, t) in recs.items() if t["summit"] is True]
    pairs = Counter()
    for (_, r1, t1), (_, r2, t2) in itertools.combinations(summit, 2):
        same_truth, same_story = t1["story"] == t2["story"], r1["story"] == r2["story"]
        pairs["tp" if same_truth and same_story else "fp" if same_story else "fn" if same_truth else "tn"] += 1
    figures = {"stories": _prf(pairs["tp"], pairs["fp"], pairs["fn"])}
    for topic, label in (("summit", "summit"), ("ukraine-war", "ukraine_war")):
        counts = Counter()
        for r, t in recs.values():
            if label == "summit" and t["summit"] == "borderline":
                continue
            counts[(topic in r["topics"], bool(t[label]))] += 1
        figures[topic] = _prf(counts[(True, True)], counts[(True, False)], counts[(False, True)])
    figures["language"] = sum(r["language"] == t["language"] for r, t in recs.values()) / max(len(recs), 1)
    figures.update(_alert_figures(result["alerts"], recs, truth))
    return figures


def _alert_figures(alerts: list[dict], recs: dict, truth: dict) -> dict:
    events = sorted({t["story"] for _, t in recs.values() if t.get("story")})
    per_event, false, borderline, off_story = Counter(), 0, 0, 0
    story_event = {}
    for alert in (a for a in alerts if a["sequence"] == 0):
        label = recs.get(alert["urls"][0], (None, {"summit": False}))[1]
        if label["summit"] is True:
            per_event[label["story"]] += 1
            story_event[alert["story"]] = label["story"]
        elif label["summit"] == "borderline":
            borderline += 1
        else:
            false += 1
    for digest in (a for a in alerts if a["sequence"] > 0):
        event = story_event.get(digest["story"])
        off_story += sum(1 for url in digest["urls"] if recs.get(url, (None, {}))[1].get("story") != event)
    return {"per_event": {e: per_event[e] for e in events},
            "once": sum(per_event[e] == 1 for e in events), "missed": sum(per_event[e] == 0 for e in events),
            "twice": sum(per_event[e] > 1 for e in events), "events": len(events), "false": false,
            "borderline": borderline, "digest_off_story": off_story}


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    return p, r, (2 * p * r / (p + r) if p + r else float("nan"))


def signature(result: dict) -> tuple:
    """What must not depend on the order: the stories as sets of URLs, and the alerts."""
    stories = defaultdict(set)
    for url, r in result["records"].items():
        stories[r["story"]].add(url)
    partition = frozenset(frozenset(urls) for urls in stories.values())
    alerted = frozenset((frozenset(stories[a["story"]]), a["urls"][0]) for a in result["alerts"] if a["sequence"] == 0)
    return partition, alerted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--until", default="2025-03-09", help="replay days before this one only ('' for all)")
    parser.add_argument("--modes", default="feed,stub")
    parser.add_argument("--digest-window", type=float, default=3600.0)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"realworld dev data not found at {args.data}: nothing to measure")
        return 0
    entries, truth, _ = load(args.data, args.until or None)
    feeds = sorted({e["feed"] for e in entries})
    outlets = {e["feed"]: e["outlet"] for e in entries}
    labeller = Labeller(TOPICS, load_baseline(ROOT / "seeds" / "baseline"))
    rules = load_rules(TOPICS)
    print(f"{len(entries)} entries, {len(feeds)} feeds, days {entries and min(e['day'] for e in entries)} "
          f"to {entries and max(e['day'] for e in entries)}; {args.orders} random orders per mode\n")
    for mode in args.modes.split(","):
        items, cpu = make_drafts(entries, mode, labeller)
        runs = [("feeds' own order", replay(items, feeds, outlets, None, rules, args.digest_window))]
        runs += [(f"order {seed}", replay(items, feeds, outlets, seed, rules, args.digest_window))
                 for seed in range(args.orders)]
        report(mode, runs, items, truth, cpu / max(len(entries), 1))
    return 0


def report(mode: str, runs: list[tuple[str, dict]], items: list[Item], truth: dict, cpu: float) -> None:
    scored = [score(result, items, truth) for _, result in runs]
    first = scored[0]
    identical = len({signature(result) for _, result in runs})
    print(f"mode {mode}: drafts {cpu * 1000:.1f} ms CPU per entry (extraction, language, labels, event vector)")
    print(f"| figure | feeds' order | min–max over {len(runs) - 1} random orders |")
    print("|---|---|---|")
    rows = [("story pairwise P / R / F1 (summit)", lambda s: "%.2f / %.2f / %.2f" % s["stories"]),
            ("summit topic P / R", lambda s: "%.2f / %.2f" % s["summit"][:2]),
            ("ukraine-war topic P / R", lambda s: "%.2f / %.2f" % s["ukraine-war"][:2]),
            ("events alerted once / missed / twice (of N)",
             lambda s: f"{s['once']} / {s['missed']} / {s['twice']} (of {s['events']})"),
            ("false alerts / borderline alerts", lambda s: f"{s['false']} / {s['borderline']}"),
            ("digest items on another event", lambda s: str(s["digest_off_story"])),
            ("language accuracy", lambda s: "%.3f" % s["language"])]
    for name, show in rows:
        values = sorted({show(s) for s in scored[1:]})
        spread = "—" if not values else values[0] if len(values) == 1 else f"{values[0]} … {values[-1]}"
        print(f"| {name} | {show(first)} | {spread} |")
    print(f"| distinct outcomes (stories + alerts) over all {len(runs)} runs | {identical} | |")
    print(f"alerts per event in the feeds' order: {first['per_event']}\n")


if __name__ == "__main__":
    sys.exit(main())
