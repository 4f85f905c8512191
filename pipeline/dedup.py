"""Deduplication: what makes two articles the same article.

Exact duplicates are found by a hash of the normalised text (Unicode NFKC, case
folded, words only — so whitespace, punctuation and typographic quotes do not matter).
The hash identifies an article only when the text came from its page and is long
enough to be specific; two different videos whose feeds share a two-line teaser must
not collapse into one. Nothing here touches the network or the database.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from pipeline.models import Fingerprint

MIN_IDENTIFYING_WORDS = 25
_WORD = re.compile(r"\w+")


def normalize_text(text: str) -> str:
    """The words of ``text``, NFKC-normalised and case-folded, joined by single spaces."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def fingerprint_text(text: str, *, from_page: bool) -> Fingerprint:
    """The exact-duplicate fingerprint of an article's text."""
    normalized = normalize_text(text)
    digest = hashlib.sha256(normalized.encode("utf-8")).hexdigest()
    words = normalized.count(" ") + 1 if normalized else 0
    identifying = from_page and words >= MIN_IDENTIFYING_WORDS
    return Fingerprint(text_sha256=digest, word_count=words, dedup_key=digest if identifying else None)
