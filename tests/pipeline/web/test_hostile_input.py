"""Text from the internet is shown, never run: the hostile records render as inert text."""

from __future__ import annotations

import lxml.html
import pytest

from tests.pipeline.web.hostile import BREAKOUT, IMG, SCRIPT, TITLE

URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "data", "poster", "background")


def assert_inert(html: str, where: str) -> lxml.html.HtmlElement:
    doc = lxml.html.fromstring(html)
    assert not doc.xpath("//script | //iframe | //object | //embed | //img | //style | //base"), where
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (where, element.tag, name)
            if name.lower() in URL_ATTRIBUTES:
                assert not value.strip().lower().startswith(("javascript:", "data:", "vbscript:")), (where, value)
    svgs = doc.xpath("//svg")
    assert all(s.get("class") == "chart-svg" or s.get("aria-hidden") == "true" for s in svgs), where
    return doc


@pytest.fixture
def hostile_pages(world):
    ids = world.hostile
    return [f"/articles/{ids['article']}", f"/articles/{ids['copy']}", f"/stories/{ids['story']}",
            "/stories?min_articles=1",
            "/coverage?since=2025-08-15&until=2025-08-24", "/feeds", "/alerts", "/search?q=zanzibarquokka",
            "/?order=date", f"/search?story={ids['story']}"]


def test_hostile_records_are_shown_as_text_and_never_as_markup(client, world, hostile_pages):
    for path in hostile_pages:
        response = client.get(path)
        assert response.status_code == 200, path
        doc = assert_inert(response.text, path)
        shown = doc.text_content()
        assert SCRIPT in shown or IMG in shown or BREAKOUT in shown, f"{path} shows none of the hostile text"


def test_the_hostile_article_page_shows_every_field_escaped(client, world):
    doc = assert_inert(client.get(f"/articles/{world.hostile['article']}").text, "article")
    assert doc.get_element_by_id("article-title").text_content() == TITLE
    assert doc.xpath("//dd[@class='author']")[0].text_content() == BREAKOUT
    url = doc.xpath("//dd[@class='url']")[0]
    assert not url.xpath(".//a") and url.text_content().strip() == "javascript:alert(1)"
    body = doc.get_element_by_id("article-body").text_content()
    assert SCRIPT in body and '<a href="javascript:alert(1)">click</a>' in body
    diff = doc.get_element_by_id("versions")
    assert IMG in " ".join(d.text_content() for d in diff.xpath(".//del"))
    assert not doc.xpath("//a[contains(@href, 'javascript')]")


def test_a_marked_passage_of_a_hostile_article_stays_text(client, world):
    doc = assert_inert(client.get("/search", params={"q": "zanzibarquokka"}).text, "search")
    [snippet] = doc.xpath("//li[@data-article-id='%d']//p[@class='snippet']" % world.hostile["article"])
    assert [m.text_content() for m in snippet.xpath("mark")] == ["Zanzibarquokka"]
    assert SCRIPT in snippet.text_content() and not snippet.xpath(".//script")


def test_hostile_values_in_query_parameters_are_escaped(client, anonymous, world):
    probes = [("/login", {"next": f"{BREAKOUT}{SCRIPT}"}), ("/search", {"q": f"{SCRIPT} {BREAKOUT}"}),
              ("/search", {"q": f'"{SCRIPT}'}), ("/stories", {"topic": BREAKOUT}),
              ("/coverage", {"since": SCRIPT})]
    for path, params in probes:
        response = (anonymous if path == "/login" else client).get(path, params=params)
        assert response.status_code in (200, 400, 422), (path, response.status_code)
        assert_inert(response.text, path)
