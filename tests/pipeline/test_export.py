"""CSV cells no spreadsheet runs as a formula; numbers and JSON Lines left exactly as they are."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest

from pipeline.export import neutralise_formula, write_records, write_search_results
from pipeline.storage.search import SearchHit, SearchResults


@pytest.mark.parametrize("cell, written", [
    ("=1+2", "'=1+2"),
    ("+1 555 0100", "'+1 555 0100"),
    ("-2 in the polls", "'-2 in the polls"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+2", "'\t=1+2"),
    ("\r=1+2", "'\r=1+2"),
    ("'=1+2", "''=1+2"),  # one more apostrophe: dropping one always gives the text back
    ("Summit = deal?", "Summit = deal?"),
    ("'quoted'", "'quoted'"),
    ("", ""),
])
def test_neutralise_formula(cell, written):
    assert neutralise_formula(cell) == written
    if written != cell:
        assert written[1:] == cell


def test_csv_neutralises_text_cells_only():
    record = {"id": 7, "title": "=HYPERLINK(\"http://x\")", "author": "@someone", "outlet": "-Outlet",
              "baseline_similarity": -0.25, "word_count": -1, "topics": ["summit"], "is_baseline": False,
              "published_at": datetime(2025, 8, 16, tzinfo=timezone.utc)}
    out = io.StringIO()
    assert write_records([record], "csv", out) == 1
    [row] = csv.DictReader(io.StringIO(out.getvalue()))
    assert (row["title"], row["author"], row["outlet"]) == ("'=HYPERLINK(\"http://x\")", "'@someone", "'-Outlet")
    assert (row["baseline_similarity"], row["word_count"]) == ("-0.25", "-1")
    assert (row["topics"], row["is_baseline"], row["published_at"]) == ('["summit"]', "false",
                                                                         "2025-08-16T00:00:00+00:00")


def test_json_lines_keep_every_character():
    record = {"id": 7, "title": "=1+2\x1b[2J", "baseline_similarity": -0.25}
    out = io.StringIO()
    write_records([record], "jsonl", out)
    assert json.loads(out.getvalue()) == record


def test_search_results_as_csv_neutralise_and_as_json_do_not():
    hit = SearchHit(id=1, title="+cmd|' /C calc'!A0", url="http://x.test/a", outlet="@Outlet", language="en",
                    published_at=None, first_seen_at=datetime(2025, 8, 16, tzinfo=timezone.utc), story_id=None,
                    duplicate_of=None, baseline_similarity=None, topics=[], snippet="-snippet", rank=-1.5)
    results = SearchResults(query="=query", total=1, hits=[hit])
    out = io.StringIO()
    write_search_results(results, "csv", out)
    [row] = csv.DictReader(io.StringIO(out.getvalue()))
    assert (row["title"], row["outlet"], row["snippet"], row["rank"]) == ("'+cmd|' /C calc'!A0", "'@Outlet",
                                                                          "'-snippet", "-1.5")
    out = io.StringIO()
    write_search_results(results, "json", out)
    assert json.loads(out.getvalue())["hits"][0]["title"] == hit.title
