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
