"""Alert quality and speed on the labelled fixture world (tests/fixtures/world/world.toml).

Runs the real pipeline — fixture HTTP server, `newswatch run`, SQLite — with a real JSON
webhook receiver and a real SMTP server subscribed, and reports:
- summit alerts: precision and recall by story (an alert is right when its story is one
  of the world's summit stories; a story alerted twice is a duplicate), and what fired
  wrongly or was missed;
- latency: from the end of the poll that stored the triggering article to the alert's
  arrival at the webhook receiver (`newswatch run` delivers right after its cycle);
- digests: follow-ups an hour later, one per story;
- arrival order: the same world when some feeds arrive a poll later than the rest (every
  single feed, every pair of feeds), counting splits where a summit story alerted twice,
  not at all, or a non-summit story alerted (alerts delivered after each poll).

    .venv/bin/python bench/alerts.py [--no-orders]
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import os
import statistics
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def documents(receiver) -> list[tuple[dict, float]]:
    """Each post's alert document with the time it arrived."""
    from tests.receiver import alert_document

    return [(alert_document(p), p["received_at"]) for p in receiver.posts]


def environment(database_url: str, feeds: Path, data: Path, urls: str = "") -> None:
    os.environ.update({"NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_FEEDS": str(feeds),
                       "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                       "NEWSWATCH_DATA_DIR": str(data), "NEWSWATCH_ALERT_URLS": urls})


def quiet(*commands: list[str]) -> None:
    from pipeline.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for command in commands:
            assert main(command) == 0, command


def score(alerted: list[dict], summit_stories: set[str]) -> dict:
    per_story = collections.Counter(a["story"] for a in alerted)
    right = [a for a in alerted if a["summit"]]
    return {"alerts": len(alerted), "precision": len(right) / len(alerted) if alerted else float("nan"),
            "recall": len(set(per_story) & summit_stories) / len(summit_stories),
            "duplicates": sum(n - 1 for s, n in per_story.items() if n > 1),
            "wrong": sorted({a["story"] for a in alerted if not a["summit"]}),
            "missed": sorted(summit_stories - set(per_story))}


def world_run() -> None:
    from sqlalchemy import create_engine, text

    from pipeline.dispatch import deliver_alerts
    from pipeline.settings import Settings
    from tests.fixtureserver import FixtureServer
    from tests.mailbox import Mailbox
    from tests.receiver import WebhookReceiver
    from tests.world import ARTICLES, write_feed_list

    summit_stories = {a["story"] for a in ARTICLES if a["summit"]}
    tmp = Path(tempfile.mkdtemp(prefix="newswatch-bench-alerts-"))
    url = f"sqlite:///{tmp / 'newswatch.db'}"
    with FixtureServer() as server, WebhookReceiver() as receiver, Mailbox() as mailbox:
        by_url = {server.url(a["canonical"]): a for a in ARTICLES}
        environment(url, write_feed_list(tmp / "feeds.toml", server), tmp / "data", f"{receiver.url},{mailbox.url}")
        quiet(["init"], ["run"])
        first = documents(receiver)
        mails = len(mailbox.messages)
        engine = create_engine(url)
        with engine.connect() as connection:
            seen = dict(connection.execute(text("select id, first_seen_at from articles")).all())
        engine.dispose()
        alerted = [by_url[d["article"]["url"]] for d, _ in first]
        result = score(alerted, summit_stories)
        latencies = []
        for document, arrived in first:
            polled = seen[document["article"]["id"]]
            polled = datetime.fromisoformat(polled) if isinstance(polled, str) else polled
            polled = polled.replace(tzinfo=timezone.utc) if polled.tzinfo is None else polled
            latencies.append(arrived - polled.timestamp())
        quiet(["run"], ["run", "--force"])  # re-runs
        repeats = len(receiver.posts) - len(first)
        deliver_alerts(Settings.load(), clock=lambda: datetime.now(timezone.utc) + timedelta(hours=2))
        digests = [d for d, _ in documents(receiver)[len(first) + repeats:]]
        digest_stories = collections.Counter(d["story"]["id"] for d in digests)

    print("## Summit alerts on the fixture world (`newswatch run`, 10 feeds, 54 articles)\n")
    print("| alerts | precision | recall | duplicates | wrong | missed | e-mails | sent again by 2 re-runs |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {result['alerts']} | {result['precision']:.3f} | {result['recall']:.3f} | {result['duplicates']} | "
          f"{', '.join(result['wrong']) or '—'} | {', '.join(result['missed']) or '—'} | {mails} | "
          f"{repeats} |")
    print("\n| alerted story | trigger | language | outlet |")
    print("|---|---|---|---|")
    for document, _ in first:
        article = by_url[document["article"]["url"]]
        print(f"| {article['story']} | {article['key']}: {article['title'][:60]} | {article['language']} | "
              f"{document['article']['outlet']} |")
    print("\n## Latency: end of the triggering poll → arrival at the webhook receiver\n")
    print("| alerts | min s | median s | max s |")
    print("|---|---|---|---|")
    print(f"| {len(latencies)} | {min(latencies):.2f} | {statistics.median(latencies):.2f} | {max(latencies):.2f} |")
    print("\n(The first poll's alert waits for the rest of the cycle: `newswatch run` delivers after all feeds.)")
    print("\n## Digests two hours later\n")
    print(f"{len(digests)} digest(s) for {len(digest_stories)} story/stories; at most one per story and window: "
          f"{max(digest_stories.values(), default=0) <= 1}; "
          f"articles listed: {sum(len(d['articles']) for d in digests)}")


def arrival_orders() -> None:
    from tests.fixtureserver import FixtureServer
    from tests.receiver import WebhookReceiver
    from tests.world import ARTICLES, FEEDS, write_feed_list

    summit_stories = {a["story"] for a in ARTICLES if a["summit"]}
    names = [f["name"] for f in FEEDS]
    splits = [(n,) for n in names] + list(itertools.combinations(names, 2))
    outcomes = []
    with FixtureServer() as server, WebhookReceiver() as receiver:
        by_url = {server.url(a["canonical"]): a for a in ARTICLES}
        for late in splits:
            tmp = Path(tempfile.mkdtemp(prefix="newswatch-bench-order-"))
            url = f"sqlite:///{tmp / 'newswatch.db'}"
            feeds = write_feed_list(tmp / "feeds.toml", server)
            early = tmp / "early.toml"
            early.write_text("\n\n".join(block for block in feeds.read_text().split("\n\n")
                                         if block.strip() and not any(f'name = "{n}"' in block for n in late)))
            environment(url, early, tmp / "data", receiver.url)
            before = len(receiver.posts)
            quiet(["init"], ["run"])  # alerts are delivered after each cycle, as they would be
            os.environ["NEWSWATCH_FEEDS"] = str(feeds)
            quiet(["run", "--force"])
            sent = [d for d, _ in documents(receiver)[before:] if d["kind"] == "alert"]
            outcomes.append((late, score([by_url[d["article"]["url"]] for d in sent], summit_stories)))
    exact = sum(1 for _, s in outcomes if s["duplicates"] == 0 and not s["wrong"] and not s["missed"])
    print(f"\n## Arrival order: {len(splits)} splits (each feed, each pair of feeds a poll late)\n")
    print("| splits | exactly once, nothing wrong | with a duplicate | with a miss | with a wrong alert |")
    print("|---|---|---|---|---|")
    print(f"| {len(outcomes)} | {exact} | {sum(1 for _, s in outcomes if s['duplicates'])} | "
          f"{sum(1 for _, s in outcomes if s['missed'])} | {sum(1 for _, s in outcomes if s['wrong'])} |")
    for late, s in outcomes:
        if s["duplicates"] or s["missed"] or s["wrong"]:
            print(f"- late {', '.join(late)}: duplicates {s['duplicates']}, missed {s['missed'] or '—'}, "
                  f"wrong {s['wrong'] or '—'}")


if __name__ == "__main__":
    world_run()
    if "--no-orders" not in sys.argv:
        arrival_orders()
