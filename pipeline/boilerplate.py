"""Boilerplate: paragraphs an outlet prints on every page, recognised across its articles.

trafilatura judges one page at a time, and on one page a newsletter box, a comment
charter, an author blurb or an agency's copyright line reads like article text. Across
an outlet's pages they give themselves away: the same paragraph in many different
articles. This stage splits an article's text into paragraphs (the lines of trafilatura's
output), fingerprints each (its words, NFKC and case-folded, digits dropped, so that
"Réactions (3)" and "Réactions (12)", "© 2024 Agency" and "© 2025 Agency" are one
paragraph), and, given the outlet's memory — in how many distinct articles each
fingerprint was seen — removes whole paragraphs seen in at least ``MIN_ARTICLES`` of them.
Paragraphs differing only in their figures are one, so a templated line repeated daily
("Der DAX schloss bei … Punkten") is boilerplate too.

It never cuts inside a paragraph, never touches a paragraph without a letter (a
separator, a row of figures), and never leaves an article with fewer than
``MIN_KEPT_WORDS`` words: such an article keeps its text. Nothing here touches the
database; the memory comes in as a value (``pipeline.storage.boilerplate`` keeps it).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

# Measured (bench/boilerplate.py): the fixture world's leaking layouts repeat their
# boilerplate in every article (5 and 9 of them); AEB's pages from one site share genuine
# paragraphs two at a time (a theatre's two listings: removing them costs recall). Three
# is the least that spares such pairs; four also spares a running story's background
# paragraph repeated in a third article, and only delays the first articles' cleaning.
MIN_ARTICLES = 4
MIN_KEPT_WORDS = 20  # an article cleaned below this keeps its text (a gallery, a short brief)
RECENT = timedelta(days=30)  # a paragraph not seen for this long starts counting again
EXAMPLE_CHARS = 120  # how much of a paragraph the memory keeps to show what it is
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(r"\d")


def normalize_paragraph(paragraph: str) -> str:
    """The paragraph's words, NFKC-normalised and case-folded, without digits."""
    # Digits are word characters, so taking them out before splitting gives the same words.
    return " ".join(_WORD.findall(_DIGIT.sub("", unicodedata.normalize("NFKC", paragraph).casefold())))


def fingerprint_paragraph(paragraph: str) -> str | None:
    """A short hash of the normalised paragraph; None when it has no letter to recognise."""
    normalized = normalize_paragraph(paragraph)
    if not any(character.isalpha() for character in normalized):
        return None
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Paragraph:
    text: str
    fingerprint: str | None  # None: never boilerplate


def split_paragraphs(text: str) -> tuple[Paragraph, ...]:
    """The lines of an extracted text (trafilatura puts one paragraph on each), with their
    fingerprints; joined by newlines they are the text again."""
    return tuple(Paragraph(line, fingerprint_paragraph(line) if line.strip() else None)
                 for line in text.split("\n"))


def paragraph_examples(paragraphs: Iterable[Paragraph]) -> tuple[tuple[str, str], ...]:
    """Each distinct fingerprint once, with the start of its first paragraph: what the
    memory counts for one article."""
    seen: dict[str, str] = {}
    for paragraph in paragraphs:
        if paragraph.fingerprint is not None:
            seen.setdefault(paragraph.fingerprint, paragraph.text.strip()[:EXAMPLE_CHARS])
    return tuple(sorted(seen.items()))


@dataclass(frozen=True)
class OutletMemory:
    """What an outlet's articles had in common: fingerprint → distinct articles seen with it."""

    articles: Mapping[str, int] = field(default_factory=dict)
    min_articles: int = MIN_ARTICLES  # 0: the memory is off

    def is_boilerplate(self, fingerprint: str | None) -> bool:
        return (fingerprint is not None and self.min_articles > 0
                and self.articles.get(fingerprint, 0) >= self.min_articles)

    def plus(self, counts: Mapping[str, int]) -> "OutletMemory":
        merged = Counter(self.articles)
        merged.update(counts)
        return OutletMemory(dict(merged), self.min_articles)


def count_articles(articles: Iterable[Iterable[str]]) -> dict[str, int]:
    """In how many of ``articles`` (each given by its fingerprints) each fingerprint is."""
    counts: Counter[str] = Counter()
    for fingerprints in articles:
        counts.update(set(fingerprints))
    return dict(counts)


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed: tuple[str, ...] = ()  # the paragraphs taken out, in order

    @property
    def changed(self) -> bool:
        return bool(self.removed)


def remove_boilerplate(paragraphs: tuple[Paragraph, ...], memory: OutletMemory) -> Cleaned:
    """The text of ``paragraphs`` without those the memory knows as boilerplate; the text
    as it was when that would leave fewer than ``MIN_KEPT_WORDS`` words."""
    removed = tuple(p.text for p in paragraphs if memory.is_boilerplate(p.fingerprint))
    text = "\n".join(p.text for p in paragraphs)
    if not removed:
        return Cleaned(text)
    cleaned = "\n".join(p.text for p in paragraphs if not memory.is_boilerplate(p.fingerprint))
    if len(_WORD.findall(cleaned)) < MIN_KEPT_WORDS:
        return Cleaned(text)
    return Cleaned(cleaned.strip("\n"), removed)


def clean_text(text: str, memory: OutletMemory) -> Cleaned:
    """``remove_boilerplate`` of a text not yet split into paragraphs."""
    return remove_boilerplate(split_paragraphs(text), memory)
