"""The HTML pages over the fixture world, on SQLite and PostgreSQL."""

from __future__ import annotations

import lxml.html
from sqlalchemy import text

from tests.world import ARTICLES, article


def page(client, path: str):
    response = client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return lxml.html.fromstring(response.text)


def texts(doc, xpath: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in doc.xpath(xpath)]


def test_search_lists_results_with_their_metadata(client, world):
    doc = page(client, "/search?q=Alaska&lang=de")
    assert doc.get_element_by_id("search-form") is not None and doc.get_element_by_id("search-help") is not None
    results = doc.xpath("//ol[@id='results']/li[@class='result']")
    assert results and all(r.xpath(".//span[@class='language']")[0].text == "de" for r in results)
    count = int(doc.get_element_by_id("result-count").text.split()[0])
    assert count == len(results)
    first = results[0]
    assert first.xpath(".//h2/a/@href")[0].startswith("/articles/")
    assert first.xpath(".//p[@class='snippet']")[0].text_content().strip()
    assert first.xpath(".//span[@class='similarity']")


def test_an_empty_search_lists_every_article_in_pages(client, world):
    doc = page(client, "/?q=&lang=&since=&order=date")
    total = int(doc.get_element_by_id("result-count").text.split()[0])
    assert total == len(ARTICLES) + 1 + 2  # the world, the baseline, the hostile article and its copy
    assert len(doc.xpath("//li[@class='result']")) == 20
    next_page = doc.xpath("//a[@rel='next']/@href")[0]
    assert "page=2" in next_page and "order=date" in next_page
    second = page(client, next_page)
    assert second.xpath("//ol[@id='results']/@start") == ["21"]


def test_a_malformed_query_is_explained_on_the_page(client, world):
    response = client.get("/search", params={"q": '"unclosed phrase'})
    assert response.status_code == 400
    doc = lxml.html.fromstring(response.text)
    assert "quotation mark" in doc.get_element_by_id("search-error").text_content()


def test_the_versioned_article_shows_what_changed(client, world):
    item = article("v")
    doc = page(client, f"/articles/{world.article_id('v')}")
    inserted, deleted = texts(doc, "//section[@id='versions']//ins"), texts(doc, "//section[@id='versions']//del")
    assert any(item["v2_title"] in t for t in inserted)
    assert any(w in " ".join(inserted) for w in item["v2_added_phrase"].split())
    assert any(w in " ".join(deleted) for w in item["v2_removed_phrase"].split())
    body = doc.get_element_by_id("article-body").text_content()
    assert item["v2_added_phrase"] in body and item["v2_removed_phrase"] not in body


def test_an_article_page_shows_its_labels_metadata_and_story(client, world):
    doc = page(client, f"/articles/{world.article_id('l')}")
    meta = doc.get_element_by_id("article-meta").text_content()
    assert "Nordkurier Rundschau" in meta and "rundschau" in meta
    assert doc.xpath("//dd[@class='url']/a/@href")[0].startswith(world.base)
    concepts = texts(doc, "//table[@class='concepts']//tr[@class='topic']")
    assert any(row.startswith("summit") and "*gipfel" in row for row in concepts)
    assert doc.get_element_by_id("story-link").get("href").startswith("/stories/")


def test_copies_are_shown_both_ways_with_the_reason(client, world):
    syndicated = next(a for a in ARTICLES if a["kind"] == "syndicated")
    ids = world.article_id(syndicated["key"]), world.article_id(syndicated["copy_of"])
    copy_id, original_id = sorted(ids, reverse=True)  # the later one is the copy
    copy = page(client, f"/articles/{copy_id}")
    assert "near-duplicate of" in copy.xpath("//p[@class='copy-of']")[0].text_content()
    original = page(client, f"/articles/{original_id}")
    assert original.xpath(f"//ul[@class='copies']/li/a[@href='/articles/{copy_id}']")


def test_the_alaska_story_timeline_spans_five_languages_in_time_order(client, world):
    story_id = next(iter(world_story_ids(world, "alaska-summit", keys=("a", "l", "ai", "t", "r", "ab"))))
    doc = page(client, f"/stories/{story_id}")
    entries = doc.xpath("//ol[@id='story-timeline']/li")
    assert {e.get("data-language") for e in entries} == {"de", "en", "fr", "uk", "ru"}
    times = [e.xpath("./time/@datetime")[0] for e in entries]
    assert times == sorted(times)
    listed = page(client, "/stories")
    assert listed.xpath(f"//table[@id='stories']//a[@href='/stories/{story_id}']")


def world_story_ids(world, story: str, keys: tuple[str, ...] = ()) -> set[int]:
    keys = keys or [a["key"] for a in ARTICLES if a["story"] == story]
    with world.engine.connect() as connection:
        return {connection.execute(text("select story_id from articles where id = :i"),
                                   {"i": world.article_id(k)}).scalar_one() for k in keys}


def test_coverage_charts_have_bars_for_each_language_and_a_table(client, world):
    doc = page(client, "/coverage")
    bars = doc.xpath("//figure[@id='chart-language']//rect[@class='bar']/title/text()")
    assert {label.split(" · ")[1].split(":")[0] for label in bars} == {"de", "en", "fr", "uk", "ru"}
    legend = texts(doc, "//figure[@id='chart-language']//ul[@class='legend']/li")
    assert legend == ["de", "en", "fr", "ru", "uk"]
    rows = doc.xpath("//table[@id='table-language']/tbody/tr")
    days = doc.xpath("//table[@id='table-topic']/tbody/tr")
    assert len(rows) == len(days) == 10  # 15 to 24 August 2025
    assert doc.xpath("//figure[@id='chart-topic']//polyline")
    assert doc.xpath("//figure[@id='chart-outlet']//rect[@class='bar']")


def test_feeds_show_the_broken_feed_and_recent_polls(client, world):
    doc = page(client, "/feeds")
    broken = doc.xpath("//tr[@data-feed='fault-500']")[0]
    assert broken.get("data-status") == "error" and "HTTP 500" in broken.text_content()
    healthy = doc.xpath("//tr[@data-feed='cbc-world']")[0]
    assert healthy.get("data-status") == "not_modified"  # the second run's conditional GET
    # no maintenance ran in this world: health is the feed's as of its last poll
    health = {row.get("data-feed"): row.xpath("td[@class='health']")[0].text_content()
              for row in doc.xpath("//table[@id='feeds']/tbody/tr")}
    assert health["fault-500"] == "failing" and health["cbc-world"] == "ok"
    assert "—" not in health.values()
    assert len(doc.xpath("//section[@class='polls']//tr[@data-status]")) >= 2 * 11


def test_alerts_show_state_and_failed_attempts(client, world):
    doc = page(client, "/alerts?state=pending")
    rows = doc.xpath("//table[@id='alerts']/tbody/tr[@data-state='pending']")
    assert rows and all("summit-coverage" in r.text_content() for r in rows)
    failed = texts(doc, "//ol[@class='attempts']/li[@class='failed']")
    assert failed and all("Connection" in t or "connect" in t for t in failed)


def test_unknown_ids_are_404_pages(client, world):
    for path in ("/articles/999999", "/stories/999999"):
        response = client.get(path)
        assert response.status_code == 404 and "no " in response.text


def test_search_passages_mark_the_words_that_matched(client, world):
    doc = page(client, "/search?q=Gipfel&lang=de")
    snippets = doc.xpath("//ol[@id='results']//p[@class='snippet']")
    marks = [m.text_content() for s in snippets for m in s.xpath("mark")]
    assert marks and all(m.casefold().startswith("gipfel") for m in marks)
    api = client.get("/api/search", params={"q": "Gipfel", "lang": "de"}).json()["hits"]
    assert [s.text_content() for s in snippets] == [h["snippet"] for h in api]  # the same text, marked
    assert [[h["snippet"][a:b] for a, b in h["marks"]] for h in api] == \
        [[m.text_content() for m in s.xpath("mark")] for s in snippets]


def test_the_stories_page_hides_single_articles_unless_asked(client, world):
    def listed(path: str) -> dict[str, int]:
        doc = page(client, path)
        return {row.get("data-story-id"): int(row.xpath("td[2]")[0].text_content())
                for row in doc.xpath("//table[@id='stories']/tbody/tr[@data-story-id]")}

    every = listed("/stories?min_articles=1&limit=500")
    default = listed("/stories?limit=500")
    assert default and all(n >= 2 for n in default.values())
    assert default == {story: n for story, n in every.items() if n >= 2}
    assert any(n == 1 for n in every.values())
    doc = page(client, "/stories?limit=500")
    note = doc.get_element_by_id("smaller-stories")
    smaller = sum(1 for n in every.values() if n < 2)
    assert note.text_content().startswith(f"{smaller} stor") and "fewer than 2 articles" in note.text_content()
    assert note.xpath("a/@href") == ["/stories?min_articles=1"]
    assert all(n >= 3 for n in listed("/stories?min_articles=3&limit=500").values())
    assert page(client, "/stories?min_articles=1").xpath("//p[@id='smaller-stories']") == []
