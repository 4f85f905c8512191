"""The search analyzer: the terms an article is indexed under, the terms a query asks for,
and how each database spells the query."""

from __future__ import annotations

import re

import pytest

from pipeline.errors import SearchQueryError
from pipeline.fulltext import (
    MAX_BODY_TERMS,
    Passage,
    analyze,
    index_text,
    parse_query,
    passage,
    snippet,
    to_fts5,
    to_tsquery,
    wanted_terms,
)

LANGUAGES = ("en", "de", "fr", "uk", "ru", "und")


@pytest.mark.parametrize("text, language, terms", [
    ("Peace talks", "en", ["peac", "talk"]),
    ("Gespräche über den Gipfel", "de", ["gesprach", "uber", "den", "gipfel"]),
    ("les négociations", "fr", ["le", "negoci"]),
    ("переговоры в Анкоридже", "ru", ["переговор", "в", "анкоридж"]),
    ("Саміт на Алясці", "uk", ["саміт", "на", "алясці"]),  # no Ukrainian stemmer: as written
    ("Straße ﬁnal Ⅻ", "und", ["strasse", "final", "xii"]),  # NFKC and case folding
    ("Trump-Putin, l'Ukraine; G7_summit", "und", ["trump", "putin", "l", "ukraine", "g7", "summit"]),
    ("Selenskyj: «Nein»", "de", ["selenskyj", "nein"]),
    ("café Zürich", "und", ["cafe", "zurich"]),
    ("й ї ё", "uk", ["й", "ї", "ё"]),  # Cyrillic letters keep their marks
])
def test_analyze(text, language, terms):
    assert analyze(text, language) == terms


def test_the_index_entry_for_postgresql_has_positions_weights_and_a_lead():
    indexed = index_text("Alaska summit", "Leaders met in Alaska. " * 50, "en")
    assert indexed.title_terms == "alaska summit"
    assert indexed.tsvector().startswith("'alaska':1A,7,")  # the body starts two past the title
    assert "'summit':2A " in indexed.tsvector() and "'leader':4," in indexed.tsvector()
    assert indexed.lead_tsvector().count("alaska") == 1 and len(indexed.lead_tsvector()) < len(indexed.tsvector())
    long = index_text("", "word " * (MAX_BODY_TERMS + 500), "en")
    assert len(long.body_terms.split()) == MAX_BODY_TERMS
    assert long.tsvector().count(",") == 255  # PostgreSQL keeps 256 positions of a word


@pytest.mark.parametrize("query, fts5, tsquery", [
    ("Alaska", '"alaska"', "'alaska'"),
    ("Putin Trump", '("putin" AND "trump")', "('putin' & 'trump')"),
    ('"peace deal"', '("peac deal" OR "peace deal")', "(('peac' <-> 'deal') | ('peace' <-> 'deal'))"),
    ("Putin OR Trump", '("putin" OR "trump")', "('putin' | 'trump')"),
    ("Putin -Trump", '("putin") NOT "trump"', "('putin' & !'trump')"),
    ("Putin NOT Trump", '("putin") NOT "trump"', "('putin' & !'trump')"),
    ("ukrain*", '"ukrain"*', "'ukrain':*"),
    ("Trump-Putin", '"trump putin"', "('trump' <-> 'putin')"),
    ("(Putin OR Trump) G7", '(("putin" OR "trump") AND "g7")', "(('putin' | 'trump') & 'g7')"),
    ("summit -(G7 OR G20)", '("summit") NOT ("g7" OR "g20")', "('summit' & !('g7' | 'g20'))"),
])
def test_each_database_spells_the_query(query, fts5, tsquery):
    tree = parse_query(query, ("en",))
    assert (to_fts5(tree), to_tsquery(tree)) == (fts5, tsquery)


def test_a_word_is_looked_up_in_every_searched_language():
    forms = wanted_terms(parse_query("Gespräche", LANGUAGES))
    assert {"gesprach", "gesprache"} <= forms  # German stem, and the word as written
    assert wanted_terms(parse_query("Gespräche", ("uk",))) == {"gesprache"}  # no stemmer: as written


@pytest.mark.parametrize("query, reason", [
    ("", "no words"),
    ('"unclosed', "quotation mark is not closed"),
    ("(Alaska", "parenthesis is not closed"),
    ("Alaska)", "unexpected ')'"),
    ("-Alaska", "only excludes"),
    ("Alaska OR", "nothing on one side"),
    ("OR Alaska", "nothing on one side"),
    ("Alaska OR -Putin", "only excludes"),
    ("NOT -Alaska", "double negation"),
    ("Alaska NOT", "nothing to exclude"),
    ("(" * 11 + "Alaska" + ")" * 11, "parentheses nest more than 10 deep"),
    ("-(" * 11 + "Alaska" + ")" * 11, "parentheses nest more than 10 deep"),
    ("(" * 400 + "Alaska", "parentheses nest more than 10 deep"),  # never Python's recursion limit
    ("Alaska " * 72, "the query is 504 characters long; at most 500"),
])
def test_a_malformed_query_names_what_is_wrong(query, reason):
    with pytest.raises(SearchQueryError, match=re.escape(reason)):
        parse_query(query, LANGUAGES)


def test_queries_up_to_the_limits_are_understood():
    nested = "(" * 9 + "(Alaska summit) OR Gipfel" + " Putin)" * 9
    assert wanted_terms(parse_query(nested, LANGUAGES)) >= {"alaska", "summit", "gipfel", "putin"}
    assert len(wanted_terms(parse_query("Alaska " * 71, LANGUAGES))) >= 1


def test_an_over_long_query_is_not_repeated_in_full():
    with pytest.raises(SearchQueryError) as raised:
        parse_query("x" * 100_000, LANGUAGES)
    assert len(str(raised.value)) < 200


def test_the_snippet_is_plain_text_around_the_first_hit():
    text = " ".join(f"filler{i}" for i in range(100)) + " The ceasefire talks resumed. " + "tail " * 100
    passage = snippet(text, "en", wanted_terms(parse_query("talks", ("en",))))
    assert passage.startswith("… ") and passage.endswith(" …") and "ceasefire talks resumed" in passage
    assert snippet("no <b>bold</b> match", "en", {"absent"}) == "no <b>bold</b> match"  # raw: pages escape it


def marked_words(query: str, text: str, language: str = "en") -> list[str]:
    terms = wanted_terms(parse_query(query, (language,))) if query else set()
    shown = passage(text, language, terms)
    assert "".join(piece for piece, _ in shown.pieces()) == shown.text == snippet(text, language, terms)
    return [piece for piece, is_mark in shown.pieces() if is_mark]


@pytest.mark.parametrize("query, text, language, marked", [
    ("talks", "Ceasefire talks resumed; the talk went on.  Talking helps.", "en", ["talks", "talk", "Talking"]),
    ('"peace summit"', "A peace summit, then another summit of peace.", "en", ["peace", "summit", "summit", "peace"]),
    ("summ*", "Summits and summaries.", "en", ["Summits", "summaries"]),
    ("ceasefire -talks", "Ceasefire talks resumed.", "en", ["Ceasefire"]),  # an excluded word is no hit
    ("Gipfel", "Der Alaska-Gipfel: zwei Gipfeltreffen, ein Gipfel.", "de", ["Gipfel", "Gipfel"]),
    ("", "Nothing asked, nothing marked.", "en", []),
    ("absent", "<b>no</b> hit <i>here</i>", "en", []),
])
def test_a_passage_marks_the_words_that_matched(query, text, language, marked):
    assert marked_words(query, text, language) == marked


def test_marks_count_from_the_ellipsis_and_runs_of_white_space():
    text = " ".join(f"filler{i}" for i in range(100)) + " The ceasefire\n\n  talks resumed. " + "tail " * 100
    shown = passage(text, "en", wanted_terms(parse_query("talks", ("en",))))
    [(start, end)] = shown.marks
    assert shown.text.startswith("… ") and shown.text[start:end] == "talks" and "ceasefire talks" in shown.text


def test_pieces_leave_ranges_that_do_not_fit_unmarked():
    assert Passage("abc def", ((4, 7), (0, 3))).pieces() == [("abc", True), (" ", False), ("def", True)]
    assert Passage("abc", ((1, 9), (2, 1))).pieces() == [("abc", False)]
