"""Baseline similarity over concept vectors, and what an article adds to the baseline."""

from __future__ import annotations

import math

import pytest

from pipeline.labels import Labeller
from pipeline.seeds import load_baseline
from pipeline.similarity import baseline_additions, concept_vector, cosine
from pipeline.topics import load_concepts
from tests.conftest import ROOT

CONCEPTS = {c.id: c for c in load_concepts(ROOT / "seeds" / "topics.toml")}
BASELINE = load_baseline(ROOT / "seeds" / "baseline")
LABELLER = Labeller(ROOT / "seeds" / "topics.toml", BASELINE)


def test_vector_weights():
    vector = concept_vector({"alaska": 1, "trump": 3}, CONCEPTS)
    assert vector["alaska"] == CONCEPTS["alaska"].weight
    assert vector["trump"] == pytest.approx(CONCEPTS["trump"].weight * (1 + math.log(3)))


@pytest.mark.parametrize("a, b, expected", [
    ({"x": 1.0}, {"x": 2.0}, 1.0), ({"x": 1.0}, {"y": 1.0}, 0.0), ({}, {"x": 1.0}, 0.0),
    ({"x": 1.0, "y": 1.0}, {"x": 1.0}, 1 / math.sqrt(2)),
])
def test_cosine(a, b, expected):
    assert cosine(a, b) == pytest.approx(expected)


def test_the_baseline_is_closest_to_itself():
    assert LABELLER.label(BASELINE.title, BASELINE.text, "de").baseline_similarity == pytest.approx(1.0)


SAME_NEWS = {
    "en": "At the Alaska summit in Anchorage, Trump and Putin discussed a ceasefire for Ukraine; "
          "Zelensky and European leaders were not there. No peace deal was reached.",
    "fr": "Au sommet d'Alaska, à Anchorage, Trump et Poutine ont parlé d'un cessez-le-feu en Ukraine ; "
          "Zelensky n'était pas invité. Aucun accord de paix n'a été conclu.",
    "uk": "На саміті на Алясці в Анкориджі Трамп і Путін говорили про перемир'я в Україні; "
          "Зеленського не запросили. Мирної угоди не досягли.",
    "ru": "На саммите на Аляске в Анкоридже Трамп и Путин обсуждали перемирие на Украине; "
          "Зеленского не пригласили. Мирного соглашения не достигли.",
}


def test_the_same_news_scores_alike_in_every_language():
    scores = {language: LABELLER.label("", text, language).baseline_similarity
              for language, text in SAME_NEWS.items()}
    assert min(scores.values()) > 0.35 and max(scores.values()) - min(scores.values()) < 0.1, scores


def test_thin_evidence_is_discounted():
    once = LABELLER.label("", "Ukraine was mentioned once.", "en").baseline_similarity
    assert once < 0.1 < LABELLER.label("", SAME_NEWS["en"], "en").baseline_similarity


def test_a_mountain_summit_is_far_from_the_baseline():
    text = "Climbers reached the summit of Mount Logan after a long ascent; the glacier was icy."
    assert LABELLER.label("", text, "en").baseline_similarity < 0.25


def test_what_an_article_adds():
    vector = concept_vector({"energy-strikes": 2, "alaska": 1, "venues": 1, "trilateral": 3}, CONCEPTS)
    adds = baseline_additions(vector, LABELLER.baseline_vector, CONCEPTS)
    # the baseline already speaks of Alaska and of a trilateral summit ("Dreiergipfel")
    assert adds == ("strikes on energy infrastructure", "summit venues")
