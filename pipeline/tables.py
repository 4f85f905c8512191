"""The tables ``newswatch`` prints: a cycle's summary, feed health, alerts, stories, search hits.

Every cell that holds a string goes through ``add_row``, which shows it as it is written:
control sequences removed and Rich markup escaped (``pipeline.terminal``), since feed
names, titles, outlets, URLs and errors come from the internet. Colour comes from
``Text`` styles, never from markup around stored text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.table import Table
from rich.text import Text

from pipeline.dispatch import DeliveryReport
from pipeline.fulltext import Passage
from pipeline.health import format_span
from pipeline.run import CycleReport
from pipeline.storage.outbox import AlertRow
from pipeline.storage.queries import FeedHealthRow, StoryRow
from pipeline.storage.search import SearchResults
from pipeline.terminal import markup_text, plain_text

POLL_COLOURS = {"ok": "green", "not_modified": "cyan", "error": "red", "skipped": "dim"}
HEALTH_COLOURS = {"ok": "green", "failing": "red", "warning": "yellow", "silent": "yellow", "unpolled": "yellow"}


def add_row(table: Table, *cells: str | Text) -> None:
    """A row whose strings are shown as written (``Text`` cells keep their style)."""
    table.add_row(*(markup_text(cell) if isinstance(cell, str) else cell for cell in cells))


def titled_table(title: str, columns: tuple[str, ...], **column_options: Any) -> Table:
    table = Table(title=markup_text(title), title_justify="left")
    for column in columns:
        table.add_column(column, **column_options)
    return table


def summary_table(cycle: CycleReport) -> Table:
    table = titled_table(f"newswatch cycle: {cycle.new} new articles, {cycle.requests} requests, "
                         f"{cycle.duration:.1f} s", ())
    for column in ("feed", "status", "HTTP", "entries", "new", "duplicates", "known", "errors", "versions"):
        table.add_column(column, justify="right" if column not in ("feed", "status") else "left")
    table.add_column("note", overflow="fold", max_width=60)
    for r in cycle.feeds:
        note = r.error or (r.article_errors[0] if r.article_errors else "")
        add_row(table, r.feed, Text(r.status, style=POLL_COLOURS.get(r.status, "white")),
                str(r.http_status or ""), str(r.entries), str(r.new), str(r.duplicates),
                str(r.known), str(r.errors), str(r.versions), note)
    return table


def feeds_table(rows: list[FeedHealthRow]) -> Table:
    table = titled_table("feed health", ("feed", "outlet", "status", "health", "last poll", "last success",
                                         "failures", "next poll", "articles", "note"), overflow="fold")
    for row in rows:
        status = row["status"] or "never polled"
        if not row["enabled"]:
            status += " (disabled)"
        health = row["health"] or "—"
        note = "; ".join(x for x in (row["error"], row["health_note"]) if x)
        add_row(table, row["feed"], row["outlet"], status, Text(health, style=HEALTH_COLOURS.get(health, "white")),
                when(row["last_polled_at"]), when(row["last_success_at"]), str(row["failures"]),
                when(row["next_poll_at"]), str(row["articles"]), note)
    return table


def alerts_table(rows: list[AlertRow]) -> Table:
    table = titled_table("alerts", ("id", "rule", "story", "kind", "state", "attempts", "created", "sent",
                                    "last error"), overflow="fold")
    for row in rows:
        kind = "alert" if row["sequence"] == 0 else f"digest {row['sequence']}"
        add_row(table, str(row["id"]), row["rule"], f"{row['story_id']}: {row['story_title'][:50]}", kind,
                row["state"], str(row["attempts"]), when(row["created_at"]), when(row["sent_at"]),
                row["last_error"] or "")
    return table


def story_table(story: StoryRow) -> Table:
    table = titled_table(f"story {story['id']}: {story['title']}  ({story['article_count']} articles; "
                         f"{', '.join(story['languages'])}; {', '.join(story['outlets'])})",
                         ("id", "published", "lang", "outlet", "baseline", "title"), overflow="fold")
    for article in story["articles"]:
        title = article["title"] + (f"  [copy of {article['duplicate_of']}]" if article["duplicate_of"] else "")
        title += f"  [v{article['version']}]" if article["version"] > 1 else ""
        similarity = article["baseline_similarity"]
        add_row(table, str(article["id"]), when(article["published_at"]), article["language"],
                article["outlet"], "seed" if article["is_baseline"] else
                (f"{similarity:.2f}" if similarity is not None else "—"), title)
    return table


def search_table(results: SearchResults) -> Table:
    table = titled_table(f"search: {results.query}", ("id", "published", "lang", "outlet", "baseline", "story",
                                                      "title / passage"), overflow="fold")
    for hit in results.hits:
        similarity = f"{hit.baseline_similarity:.2f}" if hit.baseline_similarity is not None else "—"
        copy = f"  [copy of {hit.duplicate_of}]" if hit.duplicate_of else ""
        passage = Text.assemble(plain_text(f"{hit.title}{copy}\n"), *(
            (plain_text(piece), "bold" if is_mark else "dim")  # the query's words in bold
            for piece, is_mark in Passage(hit.snippet, hit.marks).pieces()))
        add_row(table, str(hit.id), when(hit.published_at or hit.first_seen_at), hit.language, hit.outlet,
                similarity, str(hit.story_id or "—"), passage)
    return table


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "—"


def delivery_line(report: DeliveryReport, now: datetime, *, dry_run: bool = False) -> str:
    """What a delivery did (or, dry, would do) and what waits, in one line for people."""
    if dry_run:
        done = [f"{len(report.previews)} would be sent now"] if report.previews else ["nothing due to send now"]
    else:
        done = [f"{n} {what}" for n, what in ((report.sent, "sent"), (report.retrying, "to retry"),
                                              (report.failed, "failed for good")) if n]
        if report.held:
            done.append(f"{report.held} kept in the database (no alert URL to send them to)")
        done = done or ["nothing due to send"]
    if report.waiting and report.next_due_at is not None:
        done.append(f"{report.waiting} waiting; the next, {_article(report.next_due)} {report.next_due}, is due "
                    f"{when(report.next_due_at)} (in {format_span(max(report.next_due_at - now, timedelta()))})")
    else:
        done.append("nothing else waiting")
    if report.unaddressed:
        done.append(f"no alert URL for rule {', '.join(report.unaddressed)}: its alerts are kept, not sent "
                    "(NEWSWATCH_ALERT_URLS, or the rule's urls)")
    return "alerts: " + "; ".join(done)


def _article(noun: str | None) -> str:
    return "an" if (noun or "")[:1] in ("a", "e", "i", "o", "u") else "a"
