"""Full-text search over the fixture world, on SQLite (FTS5) and PostgreSQL (tsvector + GIN).

The expected hits are the fixture articles a reader would expect; a second check runs
every query on both databases and compares the sets.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipeline.errors import SearchQueryError
from pipeline.storage.search import SearchFilter, search_articles
from tests.world import ARTICLES

# query, filter, keys that must be among the hits, keys that must not
EXPECTED = [
    ("Mount Logan", SearchFilter(), {"c"}, {"a", "l", "p"}),
    ('"Mount Logan"', SearchFilter(), {"c"}, set()),
    ('"Logan Mount"', SearchFilter(), set(), {"c"}),
    ("Gipfel Alaska", SearchFilter(), {"l"}, {"n", "c"}),
    ("Gipfel", SearchFilter(language="de"), {"l", "n"}, {"a", "t"}),
    ("Waffenstillstand OR ceasefire", SearchFilter(), {"m", "v"}, {"c", "p"}),
    ("summit -G7", SearchFilter(language="en"), {"c", "e"}, {"j"}),
    ("summit NOT G7", SearchFilter(language="en"), {"c", "e"}, {"j"}),
    ("(sanctions OR sanctions) Russie", SearchFilter(), {"q"}, {"a"}),
    ("переговоры", SearchFilter(language="ru"), {"t"}, {"r", "a"}),
    ("Саміт Алясці", SearchFilter(), {"r"}, {"t", "a"}),
    ("Zelensk*", SearchFilter(language="en"), {"b", "h"}, {"c"}),
    ("sommet", SearchFilter(language="fr"), {"p"}, {"a", "l"}),
    ("Alaska", SearchFilter(since=datetime(2025, 8, 17, tzinfo=timezone.utc),
                            until=datetime(2025, 8, 18, tzinfo=timezone.utc)), {"f"}, {"a", "e", "l"}),
    ("summit", SearchFilter(topic="summit", language="en"), {"e"}, {"c"}),
    ("Trump-Putin", SearchFilter(), {"k"}, {"c"}),
]
EVERY_QUERY = [q for q, *_ in EXPECTED] + ["Alaska", "talks", '"security guarantees"', "Ukraine OR Україна",
                                             "Putin -Trump", "négociations", "Gespräche", "ukrain*"]


@pytest.fixture
def worlds(stored_worlds):
    return stored_worlds


def keys_found(engine, by_id, query, where=SearchFilter(), **options) -> set[str]:
    results = search_articles(engine, query, where, limit=1000, **options)
    assert results.total == len(results.hits)
    return {by_id[hit.id] for hit in results.hits}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("query,where,wanted,unwanted", EXPECTED, ids=[q for q, *_ in EXPECTED])
def test_queries_find_what_a_reader_expects(worlds, database, query, where, wanted, unwanted):
    engines, by_id = worlds
    found = keys_found(engines[database], by_id[database], query, where)
    assert wanted <= found, f"{query!r} missed {wanted - found}"
    assert not (unwanted & found), f"{query!r} found {unwanted & found}"


def test_both_databases_find_the_same_articles(worlds):
    engines, by_id = worlds
    for query in EVERY_QUERY:
        for where in (SearchFilter(), SearchFilter(language="en"), SearchFilter(topic="summit"),
                      SearchFilter(language="de", since=datetime(2025, 8, 16, 12, tzinfo=timezone.utc)),
                      SearchFilter(until=datetime(2025, 8, 18, tzinfo=timezone.utc), outlet="CBC")):
            sqlite = keys_found(engines["sqlite"], by_id["sqlite"], query, where)
            postgres = keys_found(engines["postgresql"], by_id["postgresql"], query, where)
            assert sqlite == postgres, f"{query!r} {where}: SQLite only {sqlite - postgres}, " \
                                       f"PostgreSQL only {postgres - sqlite}"
    assert len(keys_found(engines["sqlite"], by_id["sqlite"], "Alaska")) >= 8


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_results_are_ranked_paged_and_explained(worlds, database):
    engines, by_ids = worlds
    engine, by_id = engines[database], by_ids[database]
    ranked = search_articles(engine, "Alaska summit", limit=50)
    assert [h.rank for h in ranked.hits] == sorted((h.rank for h in ranked.hits), reverse=True)
    assert by_id[ranked.hits[0].id] in {a["key"] for a in ARTICLES if "Alaska" in a["title"]}
    first_page = search_articles(engine, "Alaska summit", limit=3)
    second_page = search_articles(engine, "Alaska summit", limit=3, offset=3)
    assert first_page.total == second_page.total == ranked.total
    assert [h.id for h in first_page.hits + second_page.hits] == [h.id for h in ranked.hits[:6]]
    newest = search_articles(engine, "Alaska", order="date", limit=50).hits
    times = [h.published_at or h.first_seen_at for h in newest]
    assert times == sorted(times, reverse=True)
    hit = search_articles(engine, '"Mount Logan"').hits[0]
    assert "Logan" in hit.snippet and "<" not in hit.snippet and hit.outlet and hit.url.startswith("http")
    everything = search_articles(engine, "", limit=5)
    assert everything.total >= len(ARTICLES) - 2 and len(everything.hits) == 5


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("query", ['"unclosed', "(Alaska", "-Alaska", "Alaska OR", "NOT -Alaska", "   ()"])
def test_a_malformed_query_is_refused_with_the_reason(worlds, database, query):
    engines, _ = worlds
    with pytest.raises(SearchQueryError, match="search query"):
        search_articles(engines[database], query)

