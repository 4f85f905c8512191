"""Learned topics: the fit, its cache, and the shipped topics judging sentences they never saw."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline import embedding
from pipeline.relevance import fit_logistic, learn_topic, read_examples
from pipeline.errors import SettingsError
from tests.conftest import ROOT

EXAMPLES = ROOT / "seeds" / "examples"


def test_the_fit_separates_what_it_was_taught():
    rng = np.random.default_rng(3)
    positive = rng.normal(loc=1.0, size=(30, 8))
    negative = rng.normal(loc=-1.0, size=(60, 8))
    beta = fit_logistic(np.vstack([positive, negative]), np.array([1.0] * 30 + [0.0] * 60))
    scores = np.vstack([positive, negative]) @ beta[:-1] + beta[-1]
    assert (scores[:30] > 0).mean() > 0.95 and (scores[30:] < 0).mean() > 0.95


def test_a_fit_is_kept_in_the_cache_and_read_back_the_same(tmp_path):
    cache = tmp_path / "cache"
    first = learn_topic("summit", EXAMPLES / "summit.toml", 0.6, cache)
    [cached] = cache.iterdir()
    second = learn_topic("summit", EXAMPLES / "summit.toml", 0.6, cache)
    assert np.array_equal(first.weights, second.weights) and first.bias == second.bias
    changed = tmp_path / "examples.toml"
    changed.write_text((EXAMPLES / "summit.toml").read_text(encoding="utf-8").replace(
        "positive = [", 'positive = [\n  "Leaders meet again",'), encoding="utf-8")
    learn_topic("summit", changed, 0.6, cache)
    assert len(list(cache.iterdir())) == 2  # other examples, another fit


def test_too_few_examples_are_refused(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('positive = ["a", "b"]\nnegative = ["c"]\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="at least 5 positive and 5 negative"):
        read_examples(path)


# Sentences written for this test, in none of the example files.
@pytest.mark.parametrize("text, expected", [
    ("Ukrainian and American negotiators meet in Riyadh to discuss a partial truce", True),
    ("The Kremlin confirms the presidents will speak by phone about ending the war in Ukraine", True),
    ("Selenskyj und Macron beraten in Paris über einen Friedensplan", True),
    ("Зеленський і Трамп обговорили мирні переговори в Римі", True),
    ("Przywódcy UE spotkają się w Brukseli, by omówić zawieszenie broni na Ukrainie", True),
    ("Mountaineers reach the summit of Everest after waiting out the storm", False),
    ("ASEAN leaders hold a summit on maritime disputes in the South China Sea", False),
    ("Le sommet de l'OTAN porte sur les dépenses militaires et la Chine", False),
    ("Farmers block roads in protest against cheap grain imports", False),
    ("The film festival opens with a documentary about the war", False),
])
def test_the_summit_topic_reads_like_a_person(text, expected):
    summit = learn_topic("summit", EXAMPLES / "summit.toml", 0.6)
    vector = embedding.encode([embedding.event_text(text, "")])[0]
    assert (summit.probability(vector) >= summit.threshold) is expected
