"""URL identity: tracking parameters go, meaningful ones stay."""

from __future__ import annotations

import pytest

from pipeline.urls import choose_canonical, clean_url


@pytest.mark.parametrize("given, cleaned", [
    ("https://www.cbc.ca/news/world/alaska-summit-1.7611001?cmp=rss",
     "https://www.cbc.ca/news/world/alaska-summit-1.7611001"),
    ("https://Example.COM:443/a/b?utm_source=rss&utm_medium=feed&id=7#comments",
     "https://example.com/a/b?id=7"),
    ("https://www.lemonde.fr/international/article/x.html?xtor=RSS-3208",
     "https://www.lemonde.fr/international/article/x.html"),
    ("https://www.bbc.co.uk/news/world-1?at_medium=RSS&at_campaign=rss",
     "https://www.bbc.co.uk/news/world-1"),
    ("https://www.zeit.de/politik/x?wt_mc=rss.int.ref.zeitde.zeitde.rss.link.x",
     "https://www.zeit.de/politik/x"),
    ("https://news.example.test/story.php?sid=2&page=1", "https://news.example.test/story.php?page=1&sid=2"),
    ("http://example.test", "http://example.test/"),
])
def test_clean_url(given, cleaned):
    assert clean_url(given) == cleaned


def test_distinct_articles_stay_distinct():
    assert clean_url("https://x.test/story.php?sid=1") != clean_url("https://x.test/story.php?sid=2")


@pytest.mark.parametrize("bad", ["/relative/path", "mailto:desk@example.test", "javascript:alert(1)",
                                 "https://x.test/" + "a" * 3000])
def test_unusable_urls_are_refused(bad):
    with pytest.raises(ValueError):
        clean_url(bad)


@pytest.mark.parametrize("page, declared, canonical", [
    ("https://x.test/amp/story.html", "https://x.test/story.html", "https://x.test/story.html"),
    ("https://x.test/story.html?utm_source=rss", "/story.html", "https://x.test/story.html"),
    ("https://x.test/story.html", "https://x.test/", "https://x.test/story.html"),  # front page: ignored
    ("https://x.test/story.html", None, "https://x.test/story.html"),
    ("https://x.test/story.html", "javascript:void(0)", "https://x.test/story.html"),
])
def test_choose_canonical(page, declared, canonical):
    assert choose_canonical(page, declared) == canonical
