"""Language detection: the rules, the fixture world, and the lingua test set."""

from __future__ import annotations

import pytest

from pipeline.extract import extract_article
from pipeline.language import detect_language, normalize_language_code
from pipeline.models import FeedEntry, FetchResult
from tests.fixtureserver import WORLD
from tests.world import ARTICLES

LONG_EN = ("The summit in Anchorage ended without a ceasefire, and European leaders flew to "
           "Washington on Monday to press for security guarantees for Ukraine.")


@pytest.mark.parametrize("code, normalized", [
    ("en-CA", "en"), ("de_DE", "de"), ("UK-ua", "uk"), ("ua", "uk"), ("zh-cn", "zh"),
    ("iw", "he"), ("fr", "fr"), ("", None), (None, None), ("english", None), ("x-klingon", None),
])
def test_language_codes(code, normalized):
    assert normalize_language_code(code) == normalized


@pytest.mark.parametrize("text, declared, hint, code, source", [
    ("Alaska", None, None, "und", "none"),               # too short, nothing to go on
    ("Саміт на Алясці", None, "uk", "uk", "hint"),      # too short: the feed's hint decides
    ("Gipfel", "de-DE", "en", "de", "declared"),        # the page's declaration beats the feed
    (LONG_EN, "de", "de", "en", "text"),               # a long text is what it is
    ("", None, None, "und", "none"),
])
def test_rules(text, declared, hint, code, source):
    guess = detect_language(text, declared=declared, hint=hint)
    assert (guess.code, guess.source) == (code, source)


def test_the_same_text_always_gets_the_same_answer():
    text = "Путін заявив, що переговори були корисними"  # close to Russian: a hard case
    assert len({detect_language(text) for _ in range(20)}) == 1


@pytest.mark.parametrize("item", ARTICLES, ids=lambda a: a["key"])
def test_every_world_article_is_detected_without_priors(item):
    body = (WORLD / item["path"]).read_bytes()
    url = f"http://news.example.test/{item['path']}"
    extracted = extract_article(FetchResult(url, url, 200, body, content_type="text/html"),
                                FeedEntry(guid=url, link=url, url=url))
    guess = detect_language(extracted.text)
    assert guess.code == item["language"] and guess.confidence > 0.9


# Accuracy without priors is pinned by the ratchet in tests/test_quality.py.
@pytest.mark.shared_data
@pytest.mark.parametrize("language", ["de", "en", "fr", "uk", "ru"])
def test_on_the_lingua_sentences_answers_are_right_and_hints_fill_in(shared_data, language):
    lines = [l for l in (shared_data / "langid" / "sentences" / f"{language}.txt")
             .read_text(encoding="utf-8").splitlines() if l.strip()]
    guesses = [detect_language(line).code for line in lines]
    right = sum(g == language for g in guesses) / len(lines)
    wrong = sum(g not in (language, "und") for g in guesses) / len(lines)
    assert wrong <= 0.03  # when it answers, it is right
    hinted = sum(detect_language(l, hint=language).code == language for l in lines) / len(lines)
    assert hinted >= right and hinted >= 0.98  # the feed's hint fills in the short ones
