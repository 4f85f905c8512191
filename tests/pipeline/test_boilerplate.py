"""The boilerplate stage: which paragraphs are one, and what cleaning leaves."""

from __future__ import annotations

import pytest

from pipeline.boilerplate import (
    EXAMPLE_CHARS,
    MIN_ARTICLES,
    MIN_KEPT_WORDS,
    OutletMemory,
    clean_text,
    count_articles,
    fingerprint_paragraph,
    paragraph_examples,
    split_paragraphs,
)

LEAD = "Leaders met in Anchorage for talks that ended without a ceasefire, officials said."
REST = ("A further meeting with Ukraine's president was planned in Washington next week, "
        "and European governments asked for security guarantees before any territorial talks.")
BODY = f"{LEAD}\n{REST}"
COOKIES = ("We and our partners use cookies and similar technologies to store and access information "
           "on your device, to measure audiences and to show you personalised advertising. You can "
           "accept all, refuse all or choose your settings at any time under Privacy.")


@pytest.mark.parametrize("first, second", [
    ("© 2024 Agence Presse", "© 2025 Agence Presse"),  # a year apart
    ("Réactions (3)", "Réactions (12)"),  # a counter
    ("ABOUT THE AUTHOR", "About the  author"),  # case and spacing
    ("Subscribe: ＮＥＷＳＬＥＴＴＥＲ", "Subscribe: newsletter"),  # full-width (NFKC)
    ("Read more »", "Read more"),  # punctuation
    ("Stand: 16.08.2025, 10:30 Uhr", "Stand: 19.08.2025, 07:05 Uhr"),  # a time stamp line
], ids=["year", "counter", "case", "nfkc", "punctuation", "timestamp"])
def test_these_paragraphs_are_one(first, second):
    assert fingerprint_paragraph(first) == fingerprint_paragraph(second) is not None


@pytest.mark.parametrize("first, second", [
    ("Read more", "Read less"),
    ("Putin met Trump", "Trump met Putin"),  # word order counts
], ids=["word", "order"])
def test_these_paragraphs_are_two(first, second):
    assert fingerprint_paragraph(first) != fingerprint_paragraph(second)


@pytest.mark.parametrize("paragraph", ["", "   ", "___", "* * *", "16.08.2025", "12 | 34 | 56", "—"],
                         ids=["empty", "blank", "rule", "stars", "date", "figures", "dash"])
def test_a_paragraph_without_a_letter_is_never_boilerplate(paragraph):
    assert fingerprint_paragraph(paragraph) is None
    memory = OutletMemory({}, 1)
    assert not memory.is_boilerplate(fingerprint_paragraph(paragraph))


def memory_of(*paragraphs: str, articles: int = MIN_ARTICLES, min_articles: int = MIN_ARTICLES) -> OutletMemory:
    return OutletMemory({fingerprint_paragraph(p): articles for p in paragraphs}, min_articles)


CLEANING = {  # case: (text, memory, cleaned text, paragraphs removed)
    "nothing known": (f"{BODY}\nRéactions (3)", OutletMemory(), f"{BODY}\nRéactions (3)", ()),
    "a short recurring paragraph": (f"{BODY}\nRéactions (3)", memory_of("Réactions (9)"), BODY,
                                    ("Réactions (3)",)),
    "seen in one article too few": (f"{BODY}\nRéactions (3)", memory_of("Réactions (3)", articles=MIN_ARTICLES - 1),
                                    f"{BODY}\nRéactions (3)", ()),
    "a long cookie notice first": (f"{COOKIES}\n{BODY}", memory_of(COOKIES), BODY, (COOKIES,)),
    "an agency line of another year": (f"{BODY}\n© 2025 Agence Presse", memory_of("© 2019 Agence Presse"), BODY,
                                       ("© 2025 Agence Presse",)),
    "several, wherever they are": (f"ABOUT THE AUTHOR\n{LEAD}\nRead more\n{REST}",
                                   memory_of("About the author", "Read more"), BODY,
                                   ("ABOUT THE AUTHOR", "Read more")),
    "only whole paragraphs": (f"{BODY}\nRéactions (3) et plus encore", memory_of("Réactions (3)"),
                              f"{BODY}\nRéactions (3) et plus encore", ()),
    "too little would be left": ("Photo gallery of the day.\nRéactions (3)", memory_of("Réactions (3)"),
                                 "Photo gallery of the day.\nRéactions (3)", ()),
    "memory off": (f"{BODY}\nRéactions (3)", memory_of("Réactions (3)", min_articles=0),
                   f"{BODY}\nRéactions (3)", ()),
}


@pytest.mark.parametrize("case", CLEANING)
def test_cleaning(case):
    text, memory, expected, removed = CLEANING[case]
    cleaned = clean_text(text, memory)
    assert (cleaned.text, cleaned.removed, cleaned.changed) == (expected, removed, bool(removed)), case


def test_cleaning_never_leaves_fewer_words_than_the_floor():
    short = " ".join(["word"] * (MIN_KEPT_WORDS - 1))
    enough = " ".join(["word"] * MIN_KEPT_WORDS)
    memory = memory_of("Read more")
    assert clean_text(f"{short}\nRead more", memory).text == f"{short}\nRead more"
    assert clean_text(f"{enough}\nRead more", memory).text == enough


def test_unchanged_text_is_returned_as_it_came():
    text = f"\n{BODY}\n\n  Réactions (3)  \n"
    assert clean_text(text, OutletMemory()).text == text
    assert "\n".join(p.text for p in split_paragraphs(text)) == text


def test_cleaning_twice_is_cleaning_once():
    memory = memory_of("Réactions (3)", "ABOUT THE AUTHOR")
    once = clean_text(f"ABOUT THE AUTHOR\n{BODY}\nRéactions (3)", memory).text
    assert clean_text(once, memory).text == once == BODY


def test_an_article_counts_once_however_often_it_repeats_a_paragraph():
    fingerprints = [fingerprint_paragraph("Read more")] * 3
    assert count_articles([fingerprints, fingerprints[:1], []]) == {fingerprint_paragraph("Read more"): 2}


def test_examples_name_each_paragraph_once():
    long = "x" * (EXAMPLE_CHARS + 50)
    examples = paragraph_examples(split_paragraphs(f"Read more\n{long}\nRead more!\n2025"))
    assert sorted(examples) == sorted([(fingerprint_paragraph("Read more"), "Read more"),
                                       (fingerprint_paragraph(long), "x" * EXAMPLE_CHARS)])


def test_a_poll_adds_its_own_counts_to_the_stored_memory():
    stored = memory_of("Read more", articles=2)
    merged = stored.plus({fingerprint_paragraph("Read more"): 2, fingerprint_paragraph("Share"): 1})
    assert merged.is_boilerplate(fingerprint_paragraph("Read more")) == (4 >= MIN_ARTICLES)
    assert merged.articles[fingerprint_paragraph("Share")] == 1
    assert stored.articles[fingerprint_paragraph("Read more")] == 2  # a value: unchanged
