"""Deduplication: what makes two articles the same article, or copies of one.

Exact duplicates are found by a hash of the normalised text (Unicode NFKC, case
folded, words only — so whitespace, punctuation and typographic quotes do not matter).
The hash identifies an article only when the text came from its page and is long
enough to be specific; two different videos whose feeds share a two-line teaser must
not collapse into one.

Near-duplicates — a wire story printed by two outlets with different boilerplate, a
paragraph dropped, a sentence reworded — are found with MinHash over word 4-shingles
(datasketch) and locality-sensitive hashing: the signature is cut into bands, each band
hashed to one 64-bit key that the database indexes, so a lookup touches the few
articles sharing a key, never the whole store. Candidates are then judged by their
estimated *containment* (how much of the shorter text the longer one holds), which
keeps a copy that lost or gained boilerplate. Parameters were measured on the AEB
outputs of seven extractors (bench/dedup.py): precision 0.999, recall 0.964.

One outlet's feed can list one article under two URLs (a re-titled item, a second slug)
with the same summary; when only the feed's text is there to compare, ``summary_key``
names the pair: a hash of the outlet and the normalised summary, for summaries of
``MIN_SUMMARY_WORDS`` words or more (a two-word teaser such as "Watch live" is no
evidence).

Nothing here touches the network or the database.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasketch import MinHash

from pipeline.models import Fingerprint

MIN_IDENTIFYING_WORDS = 25
SHINGLE_WORDS = 4
NUM_PERM = 128
BANDS, ROWS = 42, 3  # 126 of the 128 hash values; a pair at Jaccard 0.3 meets in a band 69 % of the time
MIN_CONTAINMENT = 0.5  # measured: no pair of different AEB pages reaches 0.31
MIN_SHINGLES = 20  # shorter texts are too thin to call anything a copy of them
MIN_SUMMARY_WORDS = 12
_WORD = re.compile(r"\w+")


def normalize_text(text: str) -> str:
    """The words of ``text``, NFKC-normalised and case-folded, joined by single spaces."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def summary_key(outlet: str, summary: str) -> str | None:
    """The same-piece key of a feed summary within one outlet, or None for a short one."""
    normalized = normalize_text(summary)
    if normalized.count(" ") + 1 < MIN_SUMMARY_WORDS:
        return None
    return hashlib.sha256(f"{outlet}\n{normalized}".encode("utf-8")).hexdigest()


def fingerprint_text(text: str, *, from_page: bool) -> Fingerprint:
    """The exact-duplicate fingerprint of an article's text."""
    return _fingerprint(normalize_text(text), from_page)


def article_fingerprints(text: str, *, from_page: bool) -> tuple[Fingerprint, Signature | None]:
    """Both fingerprints of an article's text, from one normalisation: the exact one, and
    the MinHash signature for text from its page (a feed's summary gets none)."""
    normalized = normalize_text(text)
    return _fingerprint(normalized, from_page), _signature(normalized) if from_page else None


def _fingerprint(normalized: str, from_page: bool) -> Fingerprint:
    digest = hashlib.sha256(normalized.encode("utf-8")).hexdigest()
    words = normalized.count(" ") + 1 if normalized else 0
    identifying = from_page and words >= MIN_IDENTIFYING_WORDS
    return Fingerprint(text_sha256=digest, word_count=words, dedup_key=digest if identifying else None)


@dataclass(frozen=True)
class Signature:
    """A text's MinHash signature and the size of its shingle set."""

    values: np.ndarray  # NUM_PERM uint32
    shingles: int

    def to_bytes(self) -> bytes:
        return self.values.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, shingles: int) -> "Signature":
        return cls(np.frombuffer(data, dtype="<u4"), shingles)


@dataclass(frozen=True)
class NearMatch:
    article_id: int
    jaccard: float
    containment: float

    @property
    def reason(self) -> str:
        return (f"near-duplicate of {self.article_id}, Jaccard {self.jaccard:.2f}, "
                f"containment {self.containment:.2f}")


def shingle_set(text: str) -> set[bytes]:
    return _shingles(normalize_text(text))


def _shingles(normalized: str) -> set[bytes]:
    words = normalized.split()
    return {" ".join(run).encode() for run in zip(*(words[i:] for i in range(SHINGLE_WORDS)))}


def signature_of(text: str) -> Signature | None:
    """The MinHash signature of ``text``, or None when it is too short to judge."""
    return _signature(normalize_text(text))


def _signature(normalized: str) -> Signature | None:
    shingles = _shingles(normalized)
    if len(shingles) < MIN_SHINGLES:
        return None
    minhash = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32", permutations=_permutations())
    minhash.update_batch(list(shingles))
    return Signature(minhash.hashvalues.astype(np.uint32), len(shingles))


@functools.lru_cache(maxsize=1)
def _permutations() -> Any:
    """The seeded hash permutations, made once (a MinHash makes them anew: 0.2 ms each)."""
    return MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32").permutations


def band_keys(signature: Signature) -> list[int]:
    """One signed 64-bit key per band: what the database indexes."""
    keys = []
    for band in range(BANDS):
        rows = signature.values[band * ROWS:(band + 1) * ROWS].astype("<u4").tobytes()
        digest = hashlib.blake2b(band.to_bytes(2, "little") + rows, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def compare(a: Signature, b: Signature) -> tuple[float, float]:
    """Estimated Jaccard similarity and containment of two texts' shingle sets."""
    jaccard = float(np.mean(a.values == b.values))
    common = jaccard * (a.shingles + b.shingles) / (1 + jaccard)
    return jaccard, min(1.0, common / min(a.shingles, b.shingles))


def best_near_match(signature: Signature, candidates: dict[int, Signature]) -> NearMatch | None:
    """The candidate this text is a near-duplicate of (the closest; ties: the oldest id)."""
    best: NearMatch | None = None
    for article_id in sorted(candidates):
        jaccard, containment = compare(signature, candidates[article_id])
        if containment >= MIN_CONTAINMENT and (best is None or containment > best.containment):
            best = NearMatch(article_id, round(jaccard, 4), round(containment, 4))
    return best
