"""Exact-duplicate fingerprints."""

from __future__ import annotations

from pipeline.dedup import MIN_IDENTIFYING_WORDS, fingerprint_text, normalize_text

BODY = ("Trump and Putin met at Joint Base Elmendorf-Richardson for under three hours, "
        "and left without announcing a ceasefire. European leaders said security guarantees "
        "for Ukraine must come before any discussion of territory, and Zelensky was invited "
        "to Washington for Monday.")


def test_layout_quotes_and_case_do_not_change_the_hash():
    variant = "  " + BODY.upper().replace(", ", " ,\n").replace("'", "’") + "  "
    assert fingerprint_text(variant, from_page=True) == fingerprint_text(BODY, from_page=True)


def test_one_changed_word_changes_the_hash():
    assert (fingerprint_text(BODY.replace("three", "four"), from_page=True).text_sha256
            != fingerprint_text(BODY, from_page=True).text_sha256)


def test_only_long_page_texts_identify_an_article():
    teaser = "Watch the video from Anchorage."
    assert fingerprint_text(teaser, from_page=True).dedup_key is None
    assert fingerprint_text(BODY, from_page=False).dedup_key is None  # a feed summary
    long_enough = fingerprint_text(BODY, from_page=True)
    assert long_enough.word_count >= MIN_IDENTIFYING_WORDS
    assert long_enough.dedup_key == long_enough.text_sha256


def test_normalisation_keeps_words_of_every_script():
    assert normalize_text("Саміт на Алясці: «Путін» — ＦＵＬＬ-width!") == "саміт на алясці путін full width"


# --- near-duplicates ------------------------------------------------------------------

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pipeline.dedup import (  # noqa: E402
    BANDS,
    MIN_CONTAINMENT,
    Signature,
    band_keys,
    best_near_match,
    compare,
    shingle_set,
    signature_of,
)

WIRE = " ".join([
    "Leaders of France, Germany, Britain and Italy flew to Washington on Monday to stand beside",
    "Ukraine's president as he met Donald Trump at the White House, three days after the",
    "American and Russian presidents held talks in Alaska without agreeing on a ceasefire.",
    "European officials said the visit was meant to show that any settlement must include",
    "guarantees for Ukraine's security and that borders cannot be redrawn by force.",
    "Trump told reporters he would call Vladimir Putin after the meeting and suggested that a",
    "three-way summit could follow within weeks, though no date or venue was announced.",
    "In Kyiv, officials welcomed the show of unity but warned that Russian strikes continued",
    "overnight, hitting energy facilities in several regions and leaving thousands without power.",
])


def test_shingles_are_word_four_grams_of_the_normalised_text():
    assert shingle_set("One, two three FOUR five!") == {b"one two three four", b"two three four five"}


def test_too_short_a_text_has_no_signature():
    assert signature_of("A short teaser of a video.") is None
    assert signature_of(WIRE).shingles == len(shingle_set(WIRE))


def test_signatures_and_band_keys_are_deterministic():
    first, again = signature_of(WIRE), signature_of(WIRE)
    assert np.array_equal(first.values, again.values)
    assert band_keys(first) == band_keys(again) and len(band_keys(first)) == BANDS
    restored = Signature.from_bytes(first.to_bytes(), first.shingles)
    assert np.array_equal(restored.values, first.values)


@pytest.mark.parametrize("variant, is_copy", [
    ("Boilerplate: subscribe to our newsletter. " + WIRE + " Read more: world news.", True),
    (WIRE.replace("three days after the", "shortly after the"), True),  # one sentence reworded
    (" ".join(WIRE.split()[:100]), True),  # the last paragraph dropped
    (" ".join(reversed(WIRE.split())), False),  # the same words, no shared sentence
    ("Firefighters battled a blaze near the Alaska Highway on Sunday as smoke forced drivers to "
     "turn back at Beaver Creek, officials in Yukon said, adding that crews expect rain midweek "
     "and that the road would reopen once the fire line holds along the border.", False),
])
def test_a_copy_is_found_and_a_stranger_is_not(variant, is_copy):
    original, other = signature_of(WIRE), signature_of(variant)
    match = best_near_match(other, {7: original})
    assert (match is not None) is is_copy
    if is_copy:
        assert match.article_id == 7 and match.containment >= MIN_CONTAINMENT
        assert match.reason.startswith("near-duplicate of 7, Jaccard ")


def test_containment_forgives_added_boilerplate():
    padded = WIRE + " " + " ".join(f"Unrelated footer sentence number {n} about cookies." for n in range(40))
    jaccard, containment = compare(signature_of(WIRE), signature_of(padded))
    assert jaccard < 0.6 and containment > 0.8


def test_the_closest_candidate_wins_and_ties_go_to_the_oldest():
    copy = signature_of(WIRE)
    assert best_near_match(copy, {9: signature_of(WIRE), 3: signature_of(WIRE)}).article_id == 3
