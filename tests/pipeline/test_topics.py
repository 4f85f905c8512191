"""Concept matching: inflections, scripts, wildcards, languages kept apart, explanations."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import SettingsError
from pipeline.topics import Matcher, load_concepts
from tests.conftest import ROOT

MATCHER = Matcher(load_concepts(ROOT / "seeds" / "topics.toml"))


@pytest.mark.parametrize("language, text, concept, term", [
    ("en", "The summits ended without a deal.", "summit", "summit"),
    ("de", "Nach dem Alaska-Gipfel sprach Selenskyj von Sicherheitsgarantien.", "summit", "*gipfel"),
    ("de", "Nach dem Alaska-Gipfel sprach Selenskyj von Sicherheitsgarantien.", "zelensky", "selenskyj*"),
    ("de", "Nach dem Alaska-Gipfel sprach Selenskyj von Sicherheitsgarantien.", "security-guarantees",
     "sicherheitsgarantie*"),
    ("fr", "Les sommets de l'été n'ont pas produit de cessez-le-feu.", "summit", "sommet"),
    ("fr", "Les sommets de l'été n'ont pas produit de cessez-le-feu.", "ceasefire", "cessez-le-feu"),
    ("uk", "Після саміту на Алясці Зеленського запросили до Вашингтона.", "summit", "саміт"),
    ("uk", "Після саміту на Алясці Зеленського запросили до Вашингтона.", "alaska", "аляск*"),
    ("uk", "Сторони обговорили перемир’я та гарантії безпеки.", "ceasefire", "перемир'я"),
    ("uk", "Сторони обговорили перемир’я та гарантії безпеки.", "security-guarantees", "гарантії безпеки"),
    ("ru", "На саммите в Анкоридже Путин говорил о перемирии.", "summit", "саммит"),
    ("ru", "На саммите в Анкоридже Путин говорил о перемирии.", "ceasefire", "перемирие"),
    ("ru", "Санкциями Евросоюз пытается ослабить экономику.", "sanctions", "санкци*"),
    ("en", "Zelenskyy met European leaders including Macron and Merz.", "european-leaders", "macron"),
])
def test_a_concept_is_found_with_the_term_that_fired(language, text, concept, term):
    matches = {m.concept: m for m in MATCHER.match(text, language).matches}
    assert concept in matches and term in matches[concept].terms


@pytest.mark.parametrize("language, text, absent", [
    ("de", "Es war ein langer Tag, und der Bericht war fertig.", "ukraine-war"),  # German "war" = was
    ("ru", "Весь мир следил за матчем.", "peace-talks"),  # "мир" is also "world"
    ("en", "Teaser for the item, kept when its page cannot be used.", "technology"),  # no "ai" here
    ("ru", "Они стали чемпионами города.", "trade"),  # "стали" (became), not steel
])
def test_false_friends_do_not_match(language, text, absent):
    assert absent not in {m.concept for m in MATCHER.match(text, language).matches}


def test_entities_match_in_any_language_topics_only_in_their_own():
    labels = MATCHER.match("Putin und Trump trafen sich; the summit ended.", "de")
    concepts = {m.concept for m in labels.matches}
    assert {"putin", "trump"} <= concepts and "summit" not in concepts  # English "summit" in German text




def test_topics_need_their_minimum_hits():
    once = MATCHER.match("A sanction was mentioned once in this report about a hockey trade.", "en")
    often = MATCHER.match("New sanctions: an embargo on oil and a price cap, the third sanctions package.", "en")
    assert "sanctions" not in once.topics and "sanctions" in often.topics


def test_a_learned_topic_is_never_decided_by_its_terms():
    labels = MATCHER.match("Summit after summit: the war in Ukraine, Kyiv, the invasion, the front line.", "en")
    assert {"summit", "ukraine-war"} <= {m.concept for m in labels.matches}  # the terms explain …
    assert not {"summit", "ukraine-war"} & set(labels.topics)  # … the classifier decides (pipeline.labels)


def test_counts_are_per_position():
    labels = MATCHER.match("Gipfel, Gipfel, Gipfel.", "de")
    assert labels.counts["summit"] == 3  # "gipfel" and "*gipfel" fire together, counted once each time


def test_bad_topics_files_are_refused(tmp_path):
    bad = tmp_path / "topics.toml"
    bad.write_text('[[concept]]\nid = "x"\nkind = "topic"\nen = ["a*"]\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="at least three letters"):
        load_concepts(bad)
    bad.write_text('[[concept]]\nid = "x"\nkind = "nonsense"\nen = ["abc"]\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="needs an id and a kind"):
        load_concepts(bad)


def test_term_lemmas_are_cached_by_the_files_content(tmp_path):
    """A new process reads the terms' lemmas from the cache instead of loading simplemma's
    dictionaries; a changed topics file is lemmatised afresh."""
    topics = tmp_path / "topics.toml"
    topics.write_text('[[concept]]\nid = "summit"\nkind = "topic"\nde = ["Gipfels"]\nen = ["summits"]\n',
                      encoding="utf-8")
    cache = tmp_path / "cache"
    first = load_concepts(topics, cache)
    [stored] = cache.glob("term-lemmas-*.json")
    assert json.loads(stored.read_text(encoding="utf-8")) == {"de\tGipfels": ["gipfel"], "en\tsummits": ["summit"]}
    assert load_concepts(topics, cache) == first == load_concepts(topics)
    stored.write_text(json.dumps({"de\tGipfels": ["from-the-cache"], "en\tsummits": ["summit"]}), encoding="utf-8")
    assert load_concepts(topics, cache)[0].terms["de"][0].words == ("from-the-cache",)  # read, not recomputed
    topics.write_text(topics.read_text(encoding="utf-8").replace("summits", "meetings"), encoding="utf-8")
    assert load_concepts(topics, cache)[0].terms["en"][0].words == ("meeting",)
    assert len(list(cache.glob("term-lemmas-*.json"))) == 2
    [current] = set(cache.glob("term-lemmas-*.json")) - {stored}
    current.write_text("not json", encoding="utf-8")  # a damaged cache is only a slower start
    assert load_concepts(topics, cache)[0].terms["en"][0].words == ("meeting",)
