"""The JSON API: the pages' data, described by /openapi.json."""

from __future__ import annotations

import lxml.html

from tests.world import article

API_PATHS = {"/api/search", "/api/articles/{article_id}", "/api/stories", "/api/stories/{story_id}",
             "/api/coverage", "/api/feeds", "/api/alerts"}


def test_openapi_describes_every_api_path_and_no_page(client, world):
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == API_PATHS
    ok = schema["paths"]["/api/articles/{article_id}"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/ArticleDetail")
    parameters = {p["name"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "lang", "outlet", "topic", "story", "since", "until", "min_similarity", "order", "page"} <= parameters


def test_search_api_matches_the_page(client, world):
    found = client.get("/api/search", params={"q": "Alaska", "lang": "de", "order": "date"}).json()
    page = lxml.html.fromstring(client.get("/search", params={"q": "Alaska", "lang": "de", "order": "date"}).text)
    assert found["total"] == int(page.get_element_by_id("result-count").text.split()[0])
    assert [f"/articles/{h['id']}" for h in found["hits"]] == page.xpath("//li[@class='result']//h2/a/@href")
    assert found["filters"]["lang"] == "de" and all(h["language"] == "de" for h in found["hits"])


def test_search_api_refuses_bad_input_clearly(client, world):
    malformed = client.get("/api/search", params={"q": "(alaska"})
    assert malformed.status_code == 400 and "parenthesis" in malformed.json()["detail"]
    assert client.get("/api/search", params={"since": "yesterday"}).status_code == 422
    assert client.get("/api/search", params={"min_similarity": "2"}).status_code == 422
    assert client.get("/api/search", params={"order": "random"}).status_code == 422
    assert client.get("/api/search", params={"lang": "", "since": "", "story": ""}).status_code == 200


def test_article_api_carries_versions_with_their_diff(client, world):
    details = client.get(f"/api/articles/{world.article_id('v')}").json()
    assert details["article"]["version"] == 2 and details["article"]["title"] == article("v")["v2_title"]
    [version] = details["versions"]
    assert version["version"] == 1 and version["next_title"] == article("v")["v2_title"]
    kinds = {segment["kind"] for p in version["diff"] for segment in p["segments"]}
    assert {"ins", "del", "same"} <= kinds


def test_story_api_nests_copies_and_orders_by_time(client, world):
    stories = client.get("/api/stories", params={"limit": 100}).json()
    alaska = next(s for s in stories if len(s["languages"]) == 5 and "Alaska" in s["title"])
    story = client.get(f"/api/stories/{alaska['id']}").json()
    assert set(story["languages"]) == {"de", "en", "fr", "uk", "ru"}
    times = [a["published_at"] or a["first_seen_at"] for a in story["articles"]]
    assert times == sorted(times)
    copies = [(a, c) for s in stories for a in client.get(f"/api/stories/{s['id']}").json()["articles"]
              for c in a["copies"]]
    assert copies and all(c["duplicate_of"] == a["id"] for a, c in copies)


def test_coverage_api_counts_what_the_page_draws(client, world):
    coverage = client.get("/api/coverage").json()
    assert coverage["days"][0] == "2025-08-15" and coverage["days"][-1] == "2025-08-24"
    by_language = {s["name"]: s["counts"] for s in coverage["by_language"]}
    assert set(by_language) == {"de", "en", "fr", "uk", "ru"}
    assert [sum(day) for day in zip(*by_language.values())] == coverage["totals"]
    assert sum(coverage["totals"]) == sum(sum(s["counts"]) for s in coverage["by_outlet"])
    assert 0 < sum(coverage["on_topic"]) < sum(coverage["totals"])
    narrow = client.get("/api/coverage", params={"since": "2025-08-16", "until": "2025-08-16"}).json()
    assert narrow["days"] == ["2025-08-16"] and narrow["totals"] == [coverage["totals"][1]]
    assert client.get("/api/coverage", params={"since": "2025-08-20", "until": "2025-08-10"}).status_code == 422


def test_feeds_and_alerts_api(client, world):
    feeds = {f["feed"]: f for f in client.get("/api/feeds").json()}
    assert feeds["fault-500"]["status"] == "error" and "HTTP 500" in feeds["fault-500"]["error"]
    assert feeds["fault-500"]["health"] == "failing" and "never succeeded" in feeds["fault-500"]["health_note"]
    assert feeds["cbc-world"]["polls"][0]["status"] == "not_modified"
    assert feeds["cbc-world"]["polls"][1]["status"] == "ok"
    alerts = client.get("/api/alerts", params={"state": "pending"}).json()
    tried = [a for a in alerts if a["attempts"]]
    assert tried and all(not t["ok"] and t["error"] for a in tried for t in a["attempts"])
    assert client.get("/api/alerts", params={"state": "lost"}).status_code == 422


def test_unknown_ids_are_404_json(client, world):
    response = client.get("/api/stories/999999")
    assert response.status_code == 404 and response.json() == {"detail": "no story with id 999999"}


def test_the_stories_api_takes_a_minimum_size(client, world):
    every = client.get("/api/stories", params={"limit": 500, "min_articles": 1}).json()
    default = client.get("/api/stories", params={"limit": 500}).json()
    assert {s["id"] for s in default} == {s["id"] for s in every if s["article_count"] >= 2}
    assert len(default) < len(every)
    assert client.get("/api/stories", params={"min_articles": 0}).status_code == 422

