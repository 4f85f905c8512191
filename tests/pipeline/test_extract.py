"""The article stage on the fixture world's pages: body kept, boilerplate gone, metadata read."""

from __future__ import annotations

import pytest

from pipeline.errors import ExtractionError
from pipeline.feeds import parse_feed
from pipeline.extract import decode_html, extract_article, summary_article
from pipeline.models import FeedEntry, FetchResult
from pipeline.urls import choose_canonical
from tests.fixtureserver import WORLD
from tests.world import ARTICLES, article

BASE = "http://news.example.test"


def page(path: str, body: bytes | None = None, charset: str | None = "utf-8") -> FetchResult:
    if body is None:
        body = (WORLD / path).read_bytes().replace(b"{{BASE}}", BASE.encode())
    url = f"{BASE}/{path}"
    return FetchResult(url, url, 200, body, content_type="text/html", charset=charset)


def entry_for(item: dict, summary: str = "A teaser.") -> FeedEntry:
    url = f"{BASE}/{item['path']}"
    return FeedEntry(guid=url, link=url, url=url, summary=summary)


@pytest.mark.parametrize("item", [a for a in ARTICLES if a["kind"] != "video"], ids=lambda a: a["key"])
def test_body_is_kept_and_boilerplate_dropped(item):
    extracted = extract_article(page(item["path"]), entry_for(item))
    assert extracted.source == "page" and extracted.note is None
    assert item["body_phrase"] in extracted.text
    for phrase in item["boilerplate_phrases"]:
        assert phrase not in extracted.text
    assert extracted.title == item["title"]  # no feed title given: the page's headline
    assert extracted.declared_language.split("-")[0].lower() == item["language"]
    assert choose_canonical(f"{BASE}/{item['path']}", extracted.canonical_url) == f"{BASE}/{item['canonical']}"


def test_amp_copy_points_to_the_canonical_page():
    item = article("k")
    amp = "harbourpost/world/amp/trilateral-summit-venues.html"
    extracted = extract_article(page(amp), entry_for(item))
    assert choose_canonical(f"{BASE}/{amp}", extracted.canonical_url) == f"{BASE}/{item['canonical']}"


def test_a_video_page_falls_back_to_the_feed_summary_and_says_so():
    item = article("g")
    feed = (WORLD / "feeds/cbc-canada.xml").read_bytes().replace(b"{{BASE}}", BASE.encode())
    entry = next(e for e in parse_feed(feed, feed="cbc-canada", url=BASE).entries
                 if e.url == f"{BASE}/{item['path']}")
    extracted = extract_article(page(item["path"]), entry)
    assert extracted.source == "feed" and extracted.text == entry.summary
    assert item["summary_phrase"] in extracted.text
    assert "the feed" in extracted.note
    assert choose_canonical(f"{BASE}/{item['path']}", extracted.canonical_url) == f"{BASE}/{item['canonical']}"


def test_feed_metadata_wins_over_the_page():
    item = article("a")
    entry = FeedEntry(guid="1", link="x", url="x", title="Feed title", author="Feed Author")
    extracted = extract_article(page(item["path"]), entry)
    assert (extracted.title, extracted.author) == ("Feed title", "Feed Author")


def test_a_page_without_text_and_no_summary_is_an_error():
    empty = b"<html><head><title>Live</title></head><body><div id='app'></div></body></html>"
    with pytest.raises(ExtractionError, match="no article text"):
        extract_article(page("live.html", empty), FeedEntry(guid="1", link="x", url="x"))


def test_summary_article_keeps_the_reason():
    entry = FeedEntry(guid="1", link="x", url="x", title="T", summary="Teaser text.")
    fallback = summary_article(entry, "HTTP 500 (x)")
    assert (fallback.source, fallback.text, fallback.note) == ("feed", "Teaser text.", "HTTP 500 (x)")


@pytest.mark.parametrize("body, charset, expected", [
    ("Саміт на Алясці".encode("utf-8"), "windows-1251", "Саміт на Алясці"),  # valid UTF-8 wins
    ("Саммит на Аляске".encode("cp1251"), "utf-8", "Саммит на Аляске"),      # the header lies
    ("Gipfel in Anchorage: Gespräche über Sicherheitsgarantien".encode("latin-1"), "iso-8859-1",
     "Gipfel in Anchorage: Gespräche über Sicherheitsgarantien"),
    (b'<meta charset="windows-1251"><p>' + "Переговоры".encode("cp1251"), None, "Переговоры"),
])
def test_decode_html(body, charset, expected):
    assert expected in decode_html(body, charset)


def test_an_extractor_crash_becomes_an_extraction_error(monkeypatch):
    import trafilatura

    def explode(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")  # deeply nested hostile HTML

    monkeypatch.setattr(trafilatura, "bare_extraction", explode)
    with pytest.raises(ExtractionError, match="extractor failed: RecursionError"):
        extract_article(page(article("a")["path"]), FeedEntry(guid="1", link="x", url="x"))


def test_deeply_nested_html_does_not_crash():
    nested = b"<html><body>" + b"<div>" * 20000 + b"<p>Deep text.</p>" + b"</div>" * 20000 + b"</body></html>"
    try:
        extract_article(page("deep.html", nested), FeedEntry(guid="1", link="x", url="x", summary="Teaser"))
    except ExtractionError:
        pass  # a clear error is as good as a result; a crash is not


@pytest.mark.parametrize("item", [a for a in ARTICLES if a["kind"] != "video"], ids=lambda a: a["key"])
def test_a_dated_entry_reads_the_page_alike_without_the_date_search(item):
    from datetime import datetime, timezone

    undated = extract_article(page(item["path"]), entry_for(item))
    dated_entry = FeedEntry(**{**entry_for(item).__dict__, "published_at": datetime(2025, 8, 16, tzinfo=timezone.utc)})
    dated = extract_article(page(item["path"]), dated_entry)
    assert (dated.text, dated.page_title, dated.author, dated.site_name) == \
        (undated.text, undated.page_title, undated.author, undated.site_name)
    assert dated.published_at == dated_entry.published_at  # the feed's date


def test_a_byline_in_the_page_is_read_unless_the_feed_names_the_author():
    from datetime import datetime, timezone

    body = ("<html><head><title>Talks resume</title></head><body><article><h1>Talks resume</h1>"
            "<p class='byline'>By <a class='author' rel='author' href='/people/ana'>Ana Kowalska</a></p>"
            + "".join(f"<p>Paragraph {n} of the report on the talks in Geneva, with enough words to "
                      f"count as the article's own text and not as a teaser.</p>" for n in range(6))
            + "</article></body></html>").encode()
    dated = {"guid": "1", "link": "x", "url": "x", "published_at": datetime(2025, 8, 16, tzinfo=timezone.utc)}
    from_page = extract_article(page("byline.html", body), FeedEntry(**dated))
    from_feed = extract_article(page("byline.html", body), FeedEntry(**dated, author="Feed Desk"))
    assert from_page.author == "Ana Kowalska"  # the byline search ran
    assert from_feed.author == "Feed Desk"
    assert (from_feed.text, from_feed.page_title) == (from_page.text, from_page.page_title)
