"""A hostile feed through every command: its text is shown as written, never obeyed.

The feed's name, outlet, titles and teasers hold Rich markup (``[/]``, ``[bold]``) and
terminal escape sequences (clear screen, window title, hyperlink); its summit article
is a real page from the fixture world under a hostile title, so it also raises an alert.
Every command exits 0 and prints no escape byte; the alert is delivered; the data keep
every character (JSON), and CSV cells that a spreadsheet would run as a formula do not.
Runs on SQLite and PostgreSQL, through the real CLI against a real HTTP server.
"""

from __future__ import annotations

import csv
import html
import io
import json

import pytest
from sqlalchemy import create_engine, text

from pipeline.cli import main
from tests.conftest import ROOT
from tests.fixtureserver import WORLD, FixtureServer
from tests.receiver import WebhookReceiver

OBEYED = ("\x1b[2J", "\x1b]0;", "\x1b]8;;http://x")  # what would clear, retitle, link
TITLE = ("Alaska summit [/] ends [bold]loudly \x1b[2Jcleared \x1b]0;retitled\x07 "
         "\x1b]8;;http://x\x1b\\linked\x1b]8;;\x1b\\ without a deal")
SHOWN = "Alaska summit [/] ends [bold]loudly cleared  linked without a deal"
FEED = "hostile [/] [bold]feed"
OUTLET = "Evil [/] \\u001b[2JOutlet"  # as written in TOML
FORMULAS = ("=HYPERLINK(\"http://x\",\"click\")", "+1+2", "-3+4", "@SUM(1,2)")
SUMMIT_PAGE = "cbc/news/world/alaska-summit-analysis-1.7611001.html"
SUMMIT_TITLE = "Putin got a red carpet in Alaska. What did he give up in return?"


def hostile_site(root) -> None:
    """A feed with the summit page under a hostile title, and items whose pages are gone
    (stored from the feed alone), one per formula."""
    page = (WORLD / SUMMIT_PAGE).read_text(encoding="utf-8")
    page = page.replace(SUMMIT_TITLE, html.escape(TITLE)).replace(SUMMIT_PAGE, "hostile/summit.html")
    (root / "hostile").mkdir(parents=True)
    (root / "hostile" / "summit.html").write_text(page, encoding="utf-8")
    items = [(TITLE, "hostile/summit.html", "h-summit")]
    items += [(formula, f"hostile/gone-{n}.html", f"h-formula-{n}") for n, formula in enumerate(FORMULAS)]
    entries = "".join(
        f"<item><title>{html.escape(title)}</title><link>{{{{BASE}}}}/{path}</link><guid>{guid}</guid>"
        f"<description>{html.escape(TITLE)} teaser</description>"
        "<pubDate>Sun, 17 Aug 2025 08:00:00 GMT</pubDate></item>" for title, path, guid in items)
    (root / "hostile" / "feed.xml").write_text(
        f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>{html.escape(TITLE)}</title>"
        f"{entries}</channel></rss>", encoding="utf-8")


@pytest.fixture
def hostile(monkeypatch, tmp_path, database_url):
    """The hostile site served, its feed configured, alerts going to a webhook receiver."""
    root = tmp_path / "site"
    hostile_site(root)
    with FixtureServer(root) as server, WebhookReceiver() as receiver:
        feeds = tmp_path / "feeds.toml"
        feeds.write_text(f'[[feed]]\nname = "{FEED}"\nurl = "{server.url("hostile/feed.xml")}"\n'
                         f'outlet = "{OUTLET}"\nlanguage = "en"\n', encoding="utf-8")
        topics = tmp_path / "topics.toml"  # one outlet here: its summit coverage alone must alert
        topics.write_text((ROOT / "seeds" / "topics.toml").read_text(encoding="utf-8").replace(
            "min_outlets = 2", "min_outlets = 1"), encoding="utf-8")
        for key, value in {"NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_FEEDS": str(feeds),
                           "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
                           "NEWSWATCH_BASELINE": str(ROOT / "seeds" / "baseline"),
                           "NEWSWATCH_TOPICS": str(topics),
                           "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                           "NEWSWATCH_FETCH_RETRIES": "0", "NEWSWATCH_ALERT_URLS": receiver.url}.items():
            monkeypatch.setenv(key, value)
        assert main(["init"]) == 0
        engine = create_engine(database_url)
        yield receiver, engine
        engine.dispose()


def printed(capsys, *args: str) -> str:
    """What one command printed (standard output and error); it must exit 0."""
    capsys.readouterr()
    assert main(list(args)) == 0, args
    out, err = capsys.readouterr()
    return out + err


def summit_id(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("select id from articles where title = :t"), {"t": TITLE}).scalar_one()


def test_a_hostile_feed_is_shown_as_written_by_every_command(hostile, capsys, monkeypatch):
    receiver, engine = hostile
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # a terminal: the progress display, colours
    on_a_terminal = printed(capsys, "run")
    assert not any(sequence in on_a_terminal for sequence in OBEYED)
    assert FEED in on_a_terminal
    monkeypatch.delenv("TTY_COMPATIBLE")
    article = summit_id(engine)
    outputs = {"run": printed(capsys, "run", "--force"), "feeds": printed(capsys, "feeds"),
               "search": printed(capsys, "search", "summit"),
               "stories": printed(capsys, "stories", "--min-articles", "1"),
               "show": printed(capsys, "show", str(article)), "alerts": printed(capsys, "alerts"),
               "dry run": printed(capsys, "alerts", "--dry-run")}
    for command, output in outputs.items():
        assert "\x1b" not in output, command
    assert FEED in outputs["run"] and FEED in outputs["feeds"] and "Evil [/] Outlet" in outputs["feeds"]
    for command in ("search", "stories", "show"):
        assert SHOWN in outputs[command], command


def test_alerts_about_a_hostile_article_are_delivered_as_stored(hostile, capsys):
    receiver, engine = hostile
    assert main(["run"]) == 0
    [alert] = receiver.documents()
    assert alert["article"]["title"] == TITLE  # the data keep every character
    with engine.connect() as connection:
        states = connection.execute(text("select state from alerts")).scalars().all()
    assert states == ["sent"]


def test_csv_cells_that_would_be_formulas_are_neutralised(hostile, capsys, tmp_path):
    receiver, engine = hostile
    assert main(["run", "--no-alerts"]) == 0
    exported = tmp_path / "articles.csv"
    assert main(["export", "--format", "csv", "--output", str(exported)]) == 0
    with exported.open(encoding="utf-8", newline="") as handle:
        titles = {row["title"]: row for row in csv.DictReader(handle)}
    assert {"'" + formula for formula in FORMULAS} <= set(titles)
    assert TITLE in titles  # text that is no formula is left alone, escape bytes and all
    assert all(float(row["baseline_similarity"] or 0) >= 0 for row in titles.values())  # numbers stay numbers
    capsys.readouterr()
    assert main(["search", "teaser", "--format", "csv", "--limit", "50"]) == 0
    found = {row["title"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert {"'" + formula for formula in FORMULAS} <= found
    jsonl = tmp_path / "articles.jsonl"
    assert main(["export", "--format", "jsonl", "--output", str(jsonl)]) == 0
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert set(FORMULAS) <= {r["title"] for r in records}  # JSON Lines keep every character
