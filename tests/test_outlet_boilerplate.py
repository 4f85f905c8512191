"""End to end through `newswatch run`, on SQLite and PostgreSQL: the boilerplate two of the
world's layouts print on every page is gone from the stored text and from search, all
other text is as extracted, and the result is the same however the articles arrive."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from pipeline.boilerplate import MIN_ARTICLES
from pipeline.cli import main
from pipeline.extract import extract_article
from pipeline.models import FeedEntry, FetchResult
from tests.conftest import ROOT
from tests.fixtureserver import WORLD
from tests.world import ARTICLES, KEPT_BOILERPLATE, article, write_feed_list


@pytest.fixture
def world(monkeypatch, tmp_path, server, database_url):
    """Runs the CLI in-process against the fixture world; the stored texts by article key."""
    for key, value in {"NEWSWATCH_DATABASE_URL": database_url, "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
                       "NEWSWATCH_BASELINE": str(ROOT / "seeds" / "baseline"),
                       "NEWSWATCH_TOPICS": str(ROOT / "seeds" / "topics.toml"),
                       "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0"}.items():
        monkeypatch.setenv(key, value)
    engine = create_engine(database_url)

    def stored() -> dict[str, str]:
        with engine.connect() as connection:
            rows = dict(connection.execute(text("select canonical_url, text from articles")).all())
        return {a["key"]: rows[f"{server.base}/{a['canonical']}"] for a in ARTICLES
                if f"{server.base}/{a['canonical']}" in rows}

    stored.engine = engine
    yield stored
    engine.dispose()


def expected_texts(base: str) -> dict[str, str]:
    """Each page article's text as extraction gives it, without its layout's kept boilerplate."""
    texts = {}
    for item in ARTICLES:
        if item["kind"] == "video":  # stored from the feed's summary
            continue
        url = f"{base}/{item['path']}"
        body = (WORLD / item["path"]).read_bytes().replace(b"{{BASE}}", base.encode())
        extracted = extract_article(FetchResult(url, url, 200, body, content_type="text/html"),
                                    FeedEntry(guid=url, link=url, url=url)).text
        phrases = KEPT_BOILERPLATE.get(item["outlet"], ())
        texts[item["key"]] = "\n".join(line for line in extracted.split("\n")
                                       if not any(phrase in line for phrase in phrases))
    return texts


def search_total(query: str, capsys) -> int:
    capsys.readouterr()
    assert main(["search", query, "--format", "json", "--limit", "100"]) == 0
    return json.loads(capsys.readouterr().out)["total"]


def assert_clean_world(world, server, capsys) -> None:
    stored, expected = world(), expected_texts(server.base)
    assert len(stored) == len(ARTICLES)
    differing = [key for key in expected if stored[key] != expected[key]]
    assert not differing, f"stored text is not the extraction without its boilerplate: {differing}"
    for phrases in KEPT_BOILERPLATE.values():
        for phrase in phrases:
            assert search_total(f'"{phrase}"', capsys) == 0, phrase
    assert search_total('"impressionnante délégation européenne"', capsys) == 1  # the Quotidien's own words


def test_one_cycle_stores_the_world_without_its_layouts_boilerplate(world, server, capsys, tmp_path):
    feeds = write_feed_list(tmp_path / "feeds.toml", server)
    assert main(["init"]) == 0 and main(["run", "--feeds", str(feeds), "--no-alerts"]) == 0
    assert_clean_world(world, server, capsys)
    with world.engine.connect() as connection:
        memory = connection.execute(text("select outlet, count(*) as paragraphs, min(articles) as articles "
                                         "from outlet_paragraphs where articles >= :n group by outlet order by outlet"),
                                    {"n": MIN_ARTICLES}).all()
    assert [tuple(row) for row in memory] == [("Le Quotidien du Soir", 4, 9), ("Київський вісник", 2, 5)]


def test_articles_arriving_one_by_one_in_another_order_end_the_same(world, server, capsys, tmp_path):
    feeds = write_feed_list(tmp_path / "feeds.toml", server, reverse=True)
    assert main(["init"]) == 0
    for _ in range(12):  # one new entry per feed and poll: the Quotidien's nine take nine cycles
        assert main(["run", "--feeds", str(feeds), "--no-alerts", "--force", "--max-entries", "1"]) == 0
        if len(world()) == len(ARTICLES):
            break
    assert_clean_world(world, server, capsys)


def test_a_page_whose_boilerplate_alone_changed_is_no_new_version(world, server, monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSWATCH_RECHECK_FIRST", "0")  # every stored article is due a look
    feeds = write_feed_list(tmp_path / "feeds.toml", server)
    assert main(["init"]) == 0 and main(["run", "--feeds", str(feeds), "--no-alerts"]) == 0
    item = article("o")
    page = (WORLD / item["path"]).read_text(encoding="utf-8")
    assert "Réactions (3)" in page
    republished = tmp_path / "republished.html"  # two more comments: the counter moved, nothing else
    republished.write_text(page.replace("Réactions (3)", "Réactions (5)"), encoding="utf-8")
    server.replaced[f"/{item['path']}"] = republished
    server.reset_counts()
    assert main(["run", "--feeds", str(feeds), "--no-alerts", "--force"]) == 0
    assert server.requests[f"/{item['path']}"] == 1  # looked at again, and the page came whole
    with world.engine.connect() as connection:
        version = connection.execute(text("select version from articles where canonical_url = :url"),
                                     {"url": f"{server.base}/{item['canonical']}"}).scalar_one()
        versions = connection.execute(text("select count(*) from article_versions")).scalar_one()
    assert (version, versions) == (1, 0)  # without the memory: version 2, "Réactions (5)" for "(3)"
