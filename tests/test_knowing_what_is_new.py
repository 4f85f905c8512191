"""End to end through the fixture server: copies, versions, stories, topics, the baseline.

On SQLite and PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from pipeline.cli import main
from pipeline.storage.search import search_articles
from tests.conftest import ROOT
from tests.world import ARTICLES, article, write_feed_list


@pytest.fixture
def world(monkeypatch, tmp_path, server, database_url):
    feeds = write_feed_list(tmp_path / "feeds.toml", server)
    for key, value in {"NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_FEEDS": str(feeds),
                       "NEWSWATCH_BASELINE": str(ROOT / "seeds/baseline"),
                       "NEWSWATCH_TOPICS": str(ROOT / "seeds/topics.toml"),
                       "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                       "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
                       "NEWSWATCH_RECHECK_FIRST": "0"}.items():  # every stored article is due a look
        monkeypatch.setenv(key, value)
    assert main(["init"]) == 0
    assert main(["run"]) == 0
    engine = create_engine(database_url)
    yield server, engine
    engine.dispose()


def rows(engine, sql: str, **params) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(text(sql), params)]


def as_json(value):
    """JSON columns come back decoded on PostgreSQL, as text from raw SQL on SQLite."""
    return json.loads(value) if isinstance(value, str) else value


def by_key(engine, base: str) -> dict[str, dict]:
    stored = {r["canonical_url"]: r for r in rows(engine, "select * from articles")}
    return {a["key"]: stored[f"{base}/{a['canonical']}"] for a in ARTICLES}


def test_syndicated_copies_are_linked_with_the_reason(world):
    server, engine = world
    stored = by_key(engine, server.base)
    for item in (a for a in ARTICLES if a["kind"] == "syndicated"):
        mine, theirs = stored[item["key"]], stored[item["copy_of"]]
        copy, original = (mine, theirs) if mine["duplicate_of"] else (theirs, mine)
        assert copy["duplicate_of"] == original["id"] and original["duplicate_of"] is None
        assert copy["duplicate_reason"].startswith(f"near-duplicate of {original['id']}, Jaccard ")
        assert copy["story_id"] == original["story_id"]
    assert all(stored[a["key"]]["duplicate_of"] is None for a in ARTICLES if a["kind"] != "syndicated")


def test_a_story_spans_languages_and_traps_stay_out(world):
    server, engine = world
    stored = by_key(engine, server.base)
    # The summit's reports of the morning after, in five languages, are one story (local
    # angles — a community watching it the evening before, a city's reactions — may stand apart).
    core = ("a", "l", "ai", "t", "r", "ab")
    alaska = {stored[key]["story_id"] for key in core}
    assert len(alaska) == 1
    story = rows(engine, "select * from stories where id = :id", id=alaska.pop())[0]
    assert set(as_json(story["languages"])) == {"de", "en", "fr", "uk", "ru"} and story["article_count"] >= len(core)
    summit_stories = {stored[a["key"]]["story_id"] for a in ARTICLES if a["summit"]}
    assert all(stored[a["key"]]["story_id"] not in summit_stories for a in ARTICLES if a["kind"] == "trap")
    baseline = rows(engine, "select story_id from articles where is_baseline")[0]
    assert baseline["story_id"] is None  # the seed is the reference stories are compared with, not a report
    assert story["title"] != rows(engine, "select title from articles where is_baseline")[0]["title"]


def test_topics_and_baseline_similarity_are_explained(world):
    server, engine = world
    stored = by_key(engine, server.base)
    german = stored["l"]  # the Rundschau's Alaska-Gipfel analysis
    concepts = {r["concept"]: r for r in rows(
        engine, "select * from article_concepts where article_id = :id", id=german["id"])}
    assert concepts["summit"]["is_topic"] and "*gipfel" in as_json(concepts["summit"]["terms"])
    mountain = stored["c"]  # climbers on Mount Logan: "summit" matched, but not the topic
    trap = {r["concept"]: r for r in rows(
        engine, "select * from article_concepts where article_id = :id", id=mountain["id"])}
    assert "summit" in trap and not trap["summit"]["is_topic"]
    assert german["baseline_similarity"] > 0.6 > 0.2 > mountain["baseline_similarity"]
    exchange = stored["x"]  # the baseline knows nothing of prisoners
    assert "prisoner exchange" in as_json(exchange["baseline_adds"])


def test_a_changed_article_becomes_version_two(world):
    server, engine = world
    item = article("v")
    server.replaced[f"/{item['path']}"] = server.root / item["v2_path"]
    server.reset_counts()
    assert main(["run", "--force"]) == 0
    stored = by_key(engine, server.base)["v"]
    assert stored["version"] == 2 and stored["title"] == item["v2_title"]
    assert item["v2_added_phrase"] in stored["text"] and item["v2_removed_phrase"] not in stored["text"]
    [old] = rows(engine, "select * from article_versions where article_id = :id", id=stored["id"])
    changes = as_json(old["changes"])
    assert old["version"] == 1 and item["v2_removed_phrase"] in old["text"]
    assert changes["title_after"] == item["v2_title"]
    assert any(item["v2_added_phrase"] in p for p in changes["added"])
    assert any(item["v2_removed_phrase"] in p for p in changes["removed"])
    # unchanged articles were looked at again conditionally, and answered 304
    assert server.requests[f"/{item['path']}"] == 1
    assert all(r["version"] == 1 for k, r in by_key(engine, server.base).items() if k != "v")
    # the full-text index follows the new version, and forgets a deleted article
    assert [h.id for h in search_articles(engine, f'"{item["v2_added_phrase"]}"').hits] == [stored["id"]]
    assert search_articles(engine, f'"{item["v2_removed_phrase"]}"').total == 0
    with engine.begin() as connection:
        connection.execute(text("delete from article_versions where article_id = :id"), {"id": stored["id"]})
        connection.execute(text("delete from articles where id = :id"), {"id": stored["id"]})
    assert search_articles(engine, f'"{item["v2_added_phrase"]}"').total == 0


def test_a_rerun_changes_nothing(world):
    server, engine = world
    tables = ("articles", "stories", "article_concepts", "minhash_bands", "entries", "article_versions")
    before = {t: rows(engine, f"select * from {t} order by 1, 2") for t in tables}
    assert main(["run", "--force"]) == 0
    after = {t: rows(engine, f"select * from {t} order by 1, 2") for t in tables}
    for table in tables:
        if table == "articles":  # re-checks move the next check; nothing else changes
            def strip(r):
                return {k: v for k, v in r.items() if k not in ("checks", "checked_at", "next_check_at")}
            assert [strip(r) for r in after[table]] == [strip(r) for r in before[table]]
        else:
            assert after[table] == before[table], table


def test_export_and_stories_carry_the_labels(world, tmp_path, capsys):
    server, engine = world
    out = tmp_path / "export.jsonl"
    assert main(["export", "--output", str(out)]) == 0
    records = {r["canonical_url"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    german = records[f"{server.base}/{article('l')['canonical']}"]
    assert german["story_id"] and german["baseline_similarity"] > 0.6
    assert {"summit", "ukraine-war"} <= set(german["topics"])
    copies = [r for r in records.values() if r["duplicate_of"]]
    assert len(copies) == sum(1 for a in ARTICLES if a["kind"] == "syndicated") // 2
    assert main(["stories", "--topic", "summit", "--min-articles", "3", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed and all(s["article_count"] >= 3 for s in listed)
    assert any(len(s["languages"]) == 5 for s in listed)
