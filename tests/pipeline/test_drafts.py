"""Drafts: every later stage reads the text cleaned of the outlet's boilerplate; the
memory counts what the page had."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pipeline.boilerplate import MIN_ARTICLES, OutletMemory, fingerprint_paragraph
from pipeline.dedup import fingerprint_text, signature_of
from pipeline.drafts import count_poll, draft_from_page, draft_from_reading, read_page
from pipeline.labels import Labeller
from pipeline.seeds import load_baseline
from tests.conftest import ROOT
from tests.pipeline.test_extract import entry_for, page
from tests.world import KEPT_BOILERPLATE, article

LABELLER = Labeller(ROOT / "seeds" / "topics.toml", load_baseline(ROOT / "seeds" / "baseline"))
QUOTIDIEN = article("o")  # a Quotidien page: its layout's boilerplate survives extraction
PHRASES = KEPT_BOILERPLATE[QUOTIDIEN["outlet"]]


@pytest.fixture(scope="module")
def reading():
    return read_page(entry_for(QUOTIDIEN), page(QUOTIDIEN["path"]), None)


def known(reading) -> OutletMemory:
    """A memory that has seen every paragraph of ``reading`` holding a kept phrase often enough."""
    return OutletMemory({p.fingerprint: MIN_ARTICLES for p in reading.paragraphs
                         if any(phrase in p.text for phrase in PHRASES)})


def test_a_page_reading_has_its_paragraphs_fingerprinted(reading):
    assert reading.extracted.source == "page"
    assert all(phrase in reading.extracted.text for phrase in PHRASES)  # what extraction leaves
    assert fingerprint_paragraph("La lettre du soir") in reading.fingerprints


def test_a_feed_summary_has_no_paragraphs_to_count():
    reading = read_page(entry_for(QUOTIDIEN, summary="La lettre du soir"), None, RuntimeError("HTTP 404"))
    assert reading.extracted.source == "feed" and reading.paragraphs == () and reading.fingerprints == frozenset()


def test_every_later_stage_reads_the_cleaned_text(reading):
    draft = draft_from_reading(reading, memory=known(reading), language_hint="fr", labeller=LABELLER)
    text = draft.extracted.text
    assert not any(phrase in text for phrase in PHRASES)
    assert QUOTIDIEN["body_phrase"] in text
    assert draft.fingerprint == fingerprint_text(text, from_page=True)
    assert list(draft.signature.values) == list(signature_of(text).values)
    labels = LABELLER.label(draft.extracted.title, text, "fr")
    assert ((draft.labels.topics, draft.labels.scores, draft.labels.vector)
            == (labels.topics, labels.scores, labels.vector))
    assert np.array_equal(draft.labels.event_vector, labels.event_vector)
    assert draft.language.code == "fr"
    # The memory counts the page as it was, boilerplate included.
    assert {fp for fp, _ in draft.paragraphs} == reading.fingerprints


def test_without_a_memory_the_draft_is_the_extraction(reading):
    draft = draft_from_page(reading.entry, page(QUOTIDIEN["path"]), None, language_hint="fr", labeller=LABELLER)
    assert draft.extracted.text == reading.extracted.text


def test_a_poll_counts_each_article_once_whatever_its_entries(reading):
    alias = dataclasses.replace(reading, entry=dataclasses.replace(reading.entry, guid="another entry"))
    other = read_page(entry_for(article("p")), page(article("p")["path"]), None)  # Quotidien's too
    counts = count_poll([reading, alias, other])
    assert counts[fingerprint_paragraph("La lettre du soir")] == 2
    assert set(counts) == reading.fingerprints | other.fingerprints
