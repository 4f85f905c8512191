"""The ``newswatch`` command: init, run, feeds, maintain, alerts, stories, show, search, export.

Exit codes: 0 when the command ran (a cycle with failed feeds still ran: they are in
the summary and the database), 2 for invalid settings, arguments or a malformed search
query, 3 when the
article database cannot be reached or migrated.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from pipeline.dedup import fingerprint_text
from pipeline.errors import SearchQueryError, SettingsError, StorageError
from pipeline.export import FORMATS, render_article, write_parquet, write_records, write_search_results
from pipeline.labels import Labeller
from pipeline.models import FeedReport
from pipeline.run import run_cycle
from pipeline.seeds import load_baseline, load_feeds
from pipeline.settings import Settings, flag_name, setting_names, variable_name
from pipeline.dispatch import check_alert_targets, deliver_alerts
from pipeline.maintenance import check_feed_health, health_counts, keep_house
from pipeline.storage.engine import check_database, create_database_engine, migrate, open_database
from pipeline.storage.queries import (
    MIN_STORY_ARTICLES,
    ArticleFilter,
    article_details,
    feed_health,
    iter_export_records,
    list_stories,
)
from pipeline.storage.outbox import list_alerts, retry_alert
from pipeline.storage.repository import Repository
from pipeline.storage.search import SearchFilter, search_articles
from pipeline.storage.upkeep import last_maintenance
from pipeline.storage.schema import FIRST_DAY, LAST_DAY, MAX_ID
from pipeline.tables import alerts_table, delivery_line, feeds_table, search_table, story_table, summary_table, when
from pipeline.terminal import markup_text, plain_text

EXIT_SETTINGS = 2
EXIT_STORAGE = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    _configure_logging(args.verbose, console)
    try:
        settings = Settings.load(**{name: getattr(args, name) for name in setting_names()})
        return args.handler(args, settings, console)
    except SettingsError as error:
        console.print(f"[red]configuration error:[/red] {markup_text(str(error))}", highlight=False)
        return EXIT_SETTINGS
    except SearchQueryError as error:
        console.print(f"[red]error:[/red] {markup_text(str(error))}", highlight=False)
        return EXIT_SETTINGS
    except StorageError as error:
        console.print(f"[red]database error:[/red] {markup_text(str(error))}", highlight=False)
        return EXIT_STORAGE


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="log each fetch (-v) or everything (-vv)")
    overrides = common.add_argument_group("settings (each overrides its NEWSWATCH_* variable)")
    for name in setting_names():
        overrides.add_argument(flag_name(name), dest=name, metavar="VALUE",
                               help=f"overrides {variable_name(name)}")
    parser = argparse.ArgumentParser(prog="newswatch",
                                     description="Monitor news feeds into an article database.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", parents=[common], help="create or migrate the database, load the baseline")
    init.set_defaults(handler=command_init)

    run = commands.add_parser("run", parents=[common], help="one cycle over every due feed")
    run.add_argument("--force", action="store_true", help="poll every enabled feed, due or not")
    run.add_argument("--only", action="append", metavar="FEED",
                     help="poll only this feed, due or not (repeatable): rerun one feed by hand")
    run.add_argument("--no-alerts", action="store_true",
                     help="deliver no alerts after this cycle (they stay queued)")
    run.set_defaults(handler=command_run)

    feeds = commands.add_parser("feeds", parents=[common], help="feed health")
    feeds.set_defaults(handler=command_feeds)

    maintain = commands.add_parser("maintain", parents=[common],
                                   help="feed health verdicts and housekeeping (what the daily DAG does)")
    maintain.set_defaults(handler=command_maintain)

    alerts = commands.add_parser("alerts", parents=[common], help="alerts and their delivery state")
    alerts.add_argument("--state", choices=("pending", "sending", "sent", "failed", "held", "merged"))
    alerts.add_argument("--limit", type=_count, default=50)
    alerts.add_argument("--retry", type=_id, metavar="ID", help="put a failed alert back in the queue")
    alerts.add_argument("--deliver", action="store_true", help="send what is due now")
    alerts.add_argument("--dry-run", action="store_true", help="show what would be sent, send nothing")
    alerts.set_defaults(handler=command_alerts)

    stories = commands.add_parser("stories", parents=[common], help="story clusters and their articles")
    stories.add_argument("--limit", type=_count, default=20, help="how many stories (most recent first)")
    stories.add_argument("--min-articles", type=_count, default=MIN_STORY_ARTICLES,
                         help=f"only stories with this many articles (default {MIN_STORY_ARTICLES}; 1: every story)")
    stories.add_argument("--topic", help="only stories with an article on this topic (e.g. summit)")
    stories.add_argument("--format", choices=("table", "json"), default="table")
    stories.set_defaults(handler=command_stories)

    show = commands.add_parser("show", parents=[common], help="one article: labels, copies, versions, story")
    show.add_argument("id", type=_id)
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(handler=command_show)

    search = commands.add_parser(
        "search", parents=[common], help="full-text search",
        description='Words must all match; "exact phrase", OR, -word (or NOT word) to exclude, '
                    'word* for a prefix, parentheses to group. Words are matched by their stem in '
                    'each language the articles are in.')
    search.add_argument("query", help='e.g. \'"peace summit" Alaska -G7\'')
    search.add_argument("--lang", help="only this language (ISO 639-1, or und)")
    search.add_argument("--outlet", help="only this outlet")
    search.add_argument("--topic", help="only articles labelled with this topic (e.g. summit)")
    search.add_argument("--story", type=_id, metavar="ID", help="only articles of this story")
    search.add_argument("--since", type=_timestamp, help="published at or after (ISO date or time)")
    search.add_argument("--until", type=_timestamp, help="published before (ISO date or time)")
    search.add_argument("--min-similarity", type=float, metavar="X", help="baseline similarity at least X")
    search.add_argument("--order", choices=("relevance", "date"), default="relevance")
    search.add_argument("--limit", type=_count, default=20)
    search.add_argument("--format", choices=("table", "json", "csv"), default="table")
    search.set_defaults(handler=command_search)

    export = commands.add_parser("export", parents=[common], help="export articles")
    export.add_argument("--format", choices=FORMATS, default="jsonl")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    export.add_argument("--lang", help="only this language (ISO 639-1, or und)")
    export.add_argument("--outlet", help="only this outlet")
    export.add_argument("--feed", help="only articles first seen in this feed")
    export.add_argument("--topic", help="only articles labelled with this topic (e.g. summit)")
    export.add_argument("--since", type=_timestamp, help="published at or after (ISO date or time)")
    export.add_argument("--until", type=_timestamp, help="published before (ISO date or time)")
    export.add_argument("--limit", type=_count)
    export.set_defaults(handler=command_export)

    serve = commands.add_parser("serve", parents=[common],
                                help="the analyst web app alone (needs NEWSWATCH_WEB_TOKEN)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    serve.set_defaults(handler=command_serve)
    return parser


def command_init(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    baseline = load_baseline(settings.baseline_dir)
    labeller = Labeller(settings.topics_path, baseline, cache=settings.data_dir / "cache")
    engine = create_database_engine(settings.database_url)
    try:
        revision = migrate(engine)
        fingerprint = fingerprint_text(baseline.text, from_page=False)
        article_id, created = Repository(engine).load_baseline(
            baseline, fingerprint.text_sha256, fingerprint.word_count, datetime.now(timezone.utc),
            labels=labeller.label(baseline.title, baseline.text, baseline.language))
    finally:
        engine.dispose()
    console.print(f"database {_safe_url(settings.database_url)} at revision {revision}; "
                  f"baseline article {article_id} {'loaded' if created else 'already present'}",
                  highlight=False, markup=False)
    return 0


def command_run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    feeds = load_feeds(settings.feeds_path)
    if args.only:
        unknown = sorted(set(args.only) - {f.name for f in feeds})
        if unknown:
            raise SettingsError(f"{settings.feeds_path}: no feed named {', '.join(map(repr, unknown))}")
        feeds = tuple(f for f in feeds if f.name in args.only)
        args.force = True
    if not args.no_alerts:
        check_alert_targets(settings)  # a bad alert URL stops the run before anything is polled
    out = _stdout()
    if console.is_terminal:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task("polling feeds", total=len(feeds))

            def advance(report: FeedReport) -> None:
                progress.update(task, advance=1, description=markup_text(f"{report.feed}: {report.status}"))

            report = run_cycle(settings, feeds=feeds, force=args.force, on_feed=advance)
    else:
        report = run_cycle(settings, feeds=feeds, force=args.force)
    out.print(summary_table(report))
    if not args.no_alerts:
        delivered = deliver_alerts(settings)
        out.print(plain_text(delivery_line(delivered, datetime.now(timezone.utc))), highlight=False, markup=False,
                  soft_wrap=True)
    return 0


def command_feeds(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    with open_database(settings.database_url) as engine:
        rows = feed_health(engine)
        maintenance = last_maintenance(engine)
    out = _stdout()
    out.print(feeds_table(rows))
    if maintenance is None:
        out.print("no maintenance run yet (newswatch maintain, or the newswatch_maintenance DAG)")
    else:
        out.print(f"last maintenance {when(maintenance.finished_at)}: {maintenance.feeds_checked} feeds "
                  f"checked, {maintenance.feeds_failing} failing, {maintenance.feeds_silent} silent, "
                  f"{maintenance.feeds_unpolled} not polled; {maintenance.polls_pruned} old polls pruned")
    return 0


def command_maintain(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    verdicts = check_feed_health(settings)
    for verdict in verdicts:
        if verdict.status not in ("ok", "new", "disabled"):
            console.print(plain_text(f"feed {verdict.feed}: {verdict.status} — {verdict.note}"),
                          highlight=False, markup=False)
    record = keep_house(settings, health_counts(verdicts))
    console.print(f"{record.feeds_checked} feeds checked; {record.polls_pruned} old polls pruned; "
                  "statistics refreshed", highlight=False)
    return 0


def command_alerts(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    out = _stdout()
    if args.retry is not None:
        with open_database(settings.database_url) as engine:
            if not retry_alert(engine, args.retry, datetime.now(timezone.utc)):
                console.print(f"alert {args.retry} is not failed or held: nothing to retry", highlight=False)
                return 1
        out.print(f"alert {args.retry} queued again", highlight=False)
    if args.deliver or args.dry_run:
        report = deliver_alerts(settings, dry_run=args.dry_run)
        for message in report.previews:
            out.print(plain_text(f"--- would send: {message.title}\n{message.body}\n"), highlight=False,
                      markup=False)
        out.print(plain_text(delivery_line(report, datetime.now(timezone.utc), dry_run=args.dry_run)),
                  highlight=False, markup=False, soft_wrap=True)
        return 0
    with open_database(settings.database_url) as engine:
        rows = list_alerts(engine, state=args.state, limit=args.limit)
    out.print(alerts_table(rows))
    return 0


def command_stories(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    with open_database(settings.database_url) as engine:
        stories = list_stories(engine, limit=args.limit, min_articles=args.min_articles, topic=args.topic)
    out = _stdout()
    if args.format == "json":
        out.print_json(json.dumps(stories, default=str, ensure_ascii=False))
        return 0
    for story in stories:
        out.print(story_table(story))
    if not stories:
        out.print("no stories yet")
    return 0


def command_show(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    with open_database(settings.database_url) as engine:
        details = article_details(engine, args.id)
    if details is None:
        console.print(f"no article with id {args.id}", highlight=False, markup=False)
        return 1
    out = _stdout()
    if args.format == "json":
        out.print_json(json.dumps(details, default=str, ensure_ascii=False))
        return 0
    out.print(plain_text(render_article(details)), highlight=False, markup=False)
    return 0


def command_search(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    where = SearchFilter(language=args.lang, outlet=args.outlet, topic=args.topic, story_id=args.story,
                         since=args.since, until=args.until, min_similarity=args.min_similarity)
    with open_database(settings.database_url) as engine:
        results = search_articles(engine, args.query, where, order=args.order, limit=args.limit)
    if args.format == "table":
        _stdout().print(search_table(results))
    else:
        write_search_results(results, args.format, sys.stdout)
    console.print(f"{results.total} articles match; {len(results.hits)} shown", highlight=False)
    return 0


def command_export(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    where = ArticleFilter(language=args.lang, outlet=args.outlet, feed=args.feed, topic=args.topic,
                          since=args.since, until=args.until, limit=args.limit)
    with open_database(settings.database_url) as engine:
        records = iter_export_records(engine, where)
        if args.format == "parquet":
            count = write_parquet(records, str(args.output) if args.output else sys.stdout.buffer)
        elif args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as handle:
                count = write_records(records, args.format, handle)
        else:
            count = write_records(records, args.format, sys.stdout)
    console.print(f"exported {count} articles", highlight=False)
    return 0


def command_serve(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Serve the web app with uvicorn until interrupted; without a token it refuses (exit 2)."""
    import uvicorn

    from pipeline.web import create_app

    app = create_app(settings)  # SettingsError naming NEWSWATCH_WEB_TOKEN when there is no token
    check_database(app.state.engine)
    console.print(f"newswatch web app on http://{args.host}:{args.port}/ "
                  f"(database {_safe_url(settings.database_url)}, read-only)", highlight=False, markup=False)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning")
    return 0


def _stdout() -> Console:
    """Standard output; wide when it is a log or a pipe, so tables stay readable."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or time") from None
    if not FIRST_DAY <= value.date() <= LAST_DAY:
        raise argparse.ArgumentTypeError(f"{text!r} is outside {FIRST_DAY} to {LAST_DAY}")
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _number(text: str, *, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not least <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is outside {least} to {MAX_ID}")
    return value


def _id(text: str) -> int:
    """An article, story or alert id: what both databases can hold."""
    return _number(text, least=1)


def _count(text: str) -> int:
    """A limit or a minimum: zero or more, no larger than an id."""
    return _number(text, least=0)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


class _PlainHandler(RichHandler):
    """Log lines quote URLs and errors from feeds: shown without their control sequences."""

    def render_message(self, record: logging.LogRecord, message: str):
        return super().render_message(record, plain_text(message))


def _configure_logging(verbosity: int, console: Console) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = _PlainHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    logging.basicConfig(level=level, format="%(name)s %(message)s", handlers=[handler])
    if verbosity < 2:
        for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "courlan", "charset_normalizer"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
