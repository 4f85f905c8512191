"""End to end through the CLI: `newswatch init` and `newswatch run` against the fixture server.

Runs on SQLite and on PostgreSQL (the ``database_url`` fixture), with real HTTP.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text

from pipeline.cli import main
from pipeline.storage.queries import EXPORT_FIELDS
from tests.conftest import ROOT
from tests.world import ARTICLES, FAULTY_FEEDS, FEEDS, article, write_feed_list


@pytest.fixture
def newswatch(monkeypatch, tmp_path, server, database_url):
    """Runs the CLI in-process with the environment an operator would set."""
    feeds = write_feed_list(tmp_path / "feeds.toml", server)
    env = {"NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
           "NEWSWATCH_FEEDS": str(feeds), "NEWSWATCH_BASELINE": str(ROOT / "seeds" / "baseline"),
           "NEWSWATCH_TOPICS": str(ROOT / "seeds" / "topics.toml"),
           "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
           "NEWSWATCH_FETCH_TIMEOUT": "2", "NEWSWATCH_FETCH_RETRIES": "1",
           "NEWSWATCH_RETRY_BACKOFF": "0.05"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def run(*args: str) -> int:
        return main(list(args))

    run.feeds = feeds
    run.engine = create_engine(database_url)
    yield run
    run.engine.dispose()


def rows(engine, sql: str, **params) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(text(sql), params)]


def page_requests(server) -> int:
    return sum(n for path, n in server.requests.items() if path.endswith(".html"))


def test_init_run_run_run(newswatch, server, capsys):
    assert newswatch("init") == 0
    assert newswatch("init") == 0  # idempotent
    assert rows(newswatch.engine, "select count(*) as n from articles")[0]["n"] == 1  # the baseline

    assert newswatch("run") == 0
    base = server.base
    stored = rows(newswatch.engine, "select * from articles where not is_baseline")
    by_canonical = {r["canonical_url"]: r for r in stored}
    assert len(stored) == len(ARTICLES) == len(by_canonical)  # each article exactly once
    for item in ARTICLES:
        row = by_canonical[f"{base}/{item['canonical']}"]
        assert row["language"] == item["language"], item["key"]
        assert row["outlet"] == item["outlet"]
        phrase = item.get("summary_phrase") or item["body_phrase"]
        assert phrase in row["text"], item["key"]
        assert row["text_source"] == ("feed" if item["kind"] == "video" else "page")
        assert row["fetch_error"] is None
    # The same article in two feeds, and one article at two URLs, each stored once.
    a = by_canonical[f"{base}/{article('a')['canonical']}"]
    assert len(rows(newswatch.engine, "select * from entries where article_id = :id", id=a["id"])) == 2
    k = by_canonical[f"{base}/{article('k')['canonical']}"]
    k_entries = rows(newswatch.engine, "select url from entries where article_id = :id", id=k["id"])
    assert len(k_entries) == 2
    # Every page was fetched once (the AMP alias once more: it had a URL of its own).
    assert page_requests(server) == len(ARTICLES) + 1
    first_run_requests = server.count()

    server.reset_counts()
    assert newswatch("run", "--force") == 0
    assert page_requests(server) == 0
    polls = rows(newswatch.engine, "select status, http_status from polls p join feeds f on f.id = p.feed_id "
                                   "where p.id > :n", n=len(FEEDS))
    assert polls == [{"status": "not_modified", "http_status": 304}] * len(FEEDS)
    assert server.count() == len(FEEDS)  # one conditional GET per feed, and nothing else
    second_run_requests = server.count()

    snapshot = rows(newswatch.engine, "select * from articles order by id"), rows(
        newswatch.engine, "select * from entries order by id")
    server.reset_counts()
    assert newswatch("run", "--force") == 0
    assert snapshot == (rows(newswatch.engine, "select * from articles order by id"),
                        rows(newswatch.engine, "select * from entries order by id"))
    output = capsys.readouterr().out
    assert "cbc-world" in output and "not_modified" in output
    print(f"requests: first run {first_run_requests}, second run {second_run_requests}")


def test_a_feed_that_changes_brings_only_its_new_entries(newswatch, server, tmp_path):
    newswatch("init")
    original = (server.root / "feeds/cbc-world.xml").read_text(encoding="utf-8")
    trimmed = tmp_path / "cbc-world.xml"
    # First poll: the feed without an item only it lists; then the full feed.
    only_here = next(a for a in ARTICLES if a["feeds"] == ["cbc-world"])
    start = original.rindex("<item", 0, original.index(only_here["path"]))
    end = original.index("</item>", start) + len("</item>")
    trimmed.write_text(original[:start] + original[end:], encoding="utf-8")
    server.replaced["/feeds/cbc-world.xml"] = trimmed
    assert newswatch("run") == 0
    before = page_requests(server)
    del server.replaced["/feeds/cbc-world.xml"]
    server.reset_counts()
    assert newswatch("run", "--force") == 0
    assert page_requests(server) == 1  # only the new item's page
    assert server.requests["/feeds/cbc-world.xml"] == 1 and before > 1


def test_export_carries_the_contract_fields(newswatch, tmp_path):
    newswatch("init")
    newswatch("run")
    out = tmp_path / "articles.jsonl"
    assert newswatch("export", "--format", "jsonl", "--output", str(out)) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(ARTICLES) + 1
    required = {"id", "url", "canonical_url", "outlet", "feed", "title", "author", "published_at",
                "first_seen_at", "language", "language_confidence", "word_count", "text",
                "text_sha256", "duplicate_of", "story_id", "topics", "baseline_similarity",
                "is_baseline", "version"}
    assert all(required <= set(r) for r in records)
    baseline = [r for r in records if r["is_baseline"]]
    assert len(baseline) == 1 and baseline[0]["language"] == "de" and baseline[0]["outlet"] == "CBC"
    assert all(r["published_at"].endswith("+00:00") for r in records)
    assert all(r["version"] == 1 for r in records)
    german = tmp_path / "de.csv"
    assert newswatch("export", "--format", "csv", "--lang", "de", "--output", str(german)) == 0
    lines = german.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,url,canonical_url,outlet,feed,title")
    assert len([a for a in ARTICLES if a["language"] == "de"]) + 1 == len(
        [r for r in records if r["language"] == "de"])

    # CSV: the same records, field for field, as text (lists as JSON, booleans true/false).
    everything = tmp_path / "articles.csv"
    assert newswatch("export", "--format", "csv", "--output", str(everything)) == 0
    with everything.open(encoding="utf-8", newline="") as handle:
        table_rows = list(csv.DictReader(handle))
    assert len(table_rows) == len(records)
    for row, record in zip(table_rows, records):
        for field in EXPORT_FIELDS:
            value = record[field]
            expected = ("" if value is None else "true" if value is True else "false" if value is False
                        else json.dumps(value, ensure_ascii=False) if isinstance(value, list) else str(value))
            assert row[field] == expected, field

    # --topic: only articles labelled with it
    summit = tmp_path / "summit.jsonl"
    assert newswatch("export", "--topic", "summit", "--output", str(summit)) == 0
    labelled = [json.loads(line) for line in summit.read_text(encoding="utf-8").splitlines()]
    assert labelled and all("summit" in r["topics"] for r in labelled)
    assert len(labelled) == sum("summit" in r["topics"] for r in records)

    # Parquet: the same records, field for field, typed (timestamps UTC, lists of strings).
    import pyarrow.parquet as pq

    parquet = tmp_path / "articles.parquet"
    assert newswatch("export", "--format", "parquet", "--output", str(parquet)) == 0
    table = pq.read_table(parquet)
    assert table.schema.names == list(EXPORT_FIELDS)
    assert str(table.schema.field("published_at").type) == "timestamp[us, tz=UTC]"
    rows = table.to_pylist()
    assert len(rows) == len(records)
    for row, record in zip(rows, records):
        for field in EXPORT_FIELDS:
            value = row[field]
            if isinstance(value, datetime):
                value = value.isoformat()
            if isinstance(value, float) or isinstance(record[field], float):
                assert value == pytest.approx(record[field]), field
            else:
                assert value == record[field], field
    empty = tmp_path / "none.parquet"
    assert newswatch("export", "--format", "parquet", "--lang", "xx", "--output", str(empty)) == 0
    assert pq.read_table(empty).num_rows == 0 and pq.read_table(empty).schema.names == list(EXPORT_FIELDS)


def test_faults_never_stop_the_cycle(newswatch, server, tmp_path):
    server.hang_seconds = 8
    write_feed_list(newswatch.feeds, server, faults=True)
    assert newswatch("init") == 0
    assert newswatch("run") == 0
    engine = newswatch.engine
    # The healthy feeds' articles are all stored.
    canonicals = {r["canonical_url"] for r in rows(engine, "select canonical_url from articles")}
    assert {f"{server.base}/{a['canonical']}" for a in ARTICLES} <= canonicals
    # Each failing feed is recorded with its reason, and its poll is audited.
    feeds = {r["name"]: r for r in rows(engine, "select * from feeds")}
    for name, (_, reason) in FAULTY_FEEDS.items():
        assert feeds[name]["last_status"] == "error", name
        assert reason in feeds[name]["last_error"], name
        assert feeds[name]["consecutive_failures"] == 1
        audit = rows(engine, "select status, error from polls where feed_id = :id", id=feeds[name]["id"])
        assert audit == [{"status": "error", "error": feeds[name]["last_error"]}]
    assert feeds["fault-429"]["next_poll_at"] > feeds["fault-429"]["last_polled_at"]
    # Each page that could not be used is stored from the feed, with the reason.
    expected = {
        "fault-gzip-bomb": "larger than 10485760 bytes", "fault-huge-page": "larger than 10485760 bytes",
        "fault-binary-page": "binary body labelled text/html",
        "fault-redirect-private": "non-public address 10.0.0.7",
        "fault-redirect-metadata": "non-public address 169.254.169.254",
        "fault-redirect-loop": "redirect loop", "fault-500": "HTTP 500",
        "fault-robots": "disallowed by robots.txt",
    }
    # (An RSS <guid> is a permalink unless it says otherwise, so feedparser resolves it.)
    stored = {r["guid"].rsplit("/", 1)[-1]: r for r in rows(
        engine, "select a.* from articles a join feeds f on f.id = a.feed_id where f.name = 'fault-pages'")}
    for guid, reason in expected.items():
        assert reason in stored[guid]["fetch_error"], guid
        assert stored[guid]["text_source"] == "feed" and "kept when its page cannot" in stored[guid]["text"]
    empty = stored["fault-empty-page"]  # nothing failed: the page just had no text
    assert empty["fetch_error"] is None and empty["text_source"] == "feed"
    assert empty["extraction_note"].startswith("page gave 0 words")
    cp1251 = stored["fault-cp1251-page"]
    assert cp1251["fetch_error"] is None and cp1251["language"] == "ru"
    assert "Встреча президентов на Аляске" in cp1251["text"]
    # A wrongly declared charset is decoded, not turned into mojibake.
    charset_entry = rows(engine, "select e.title from entries e join feeds f on f.id = e.feed_id "
                                 "where f.name = 'fault-charset'")
    assert charset_entry == [{"title": "Переговоры в Анкоридже"}]
    assert feeds["fault-charset"]["last_error"] == "warning: declared charset is wrong; decoded as cp1251"


def test_a_bad_setting_fails_fast_with_its_name(newswatch, monkeypatch, capsys):
    monkeypatch.setenv("NEWSWATCH_FETCH_TIMEOUT", "ten seconds")
    assert newswatch("run") == 2
    assert "NEWSWATCH_FETCH_TIMEOUT='ten seconds' is invalid" in capsys.readouterr().err


def test_run_before_init_says_what_to_do(newswatch, capsys):
    assert newswatch("run") == 3
    assert "run `newswatch init`" in capsys.readouterr().err


def test_an_unreachable_database_is_an_error_of_the_cycle(newswatch, monkeypatch, capsys):
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert newswatch("run") == 3
    assert "unreachable" in capsys.readouterr().err


def test_search_from_the_command_line(newswatch, capsys):
    newswatch("init")
    newswatch("run", "--no-alerts")
    capsys.readouterr()
    assert newswatch("search", '"Mount Logan"') == 0
    out, err = capsys.readouterr()
    assert "Mount Logan" in out and "1 articles match; 1 shown" in err
    assert newswatch("search", "Gipfel OR summit", "--lang", "de", "--format", "json", "--limit", "50") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total"] == len(document["hits"]) >= 2
    assert {h["language"] for h in document["hits"]} == {"de"}
    assert all(h["published_at"].endswith("+00:00") for h in document["hits"] if h["published_at"])
    assert newswatch("search", "Alaska", "--since", "2025-08-17", "--until", "2025-08-18",
                     "--order", "date", "--format", "csv") == 0
    found = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert found and all("2025-08-17" in r["published_at"] for r in found)
    assert {"rank", "id", "title", "url", "snippet"} <= set(found[0])
    assert newswatch("search", '"unclosed phrase') == 2
    assert "quotation mark is not closed" in capsys.readouterr().err
