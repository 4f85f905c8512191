"""Baseline similarity: how close an article is to the seed baseline, in any language.

Articles are compared as vectors over language-independent concepts (the topics,
entities and themes of ``seeds/topics.toml``): each concept found weighs its
configured weight times ``1 + log(hits)``, so a German, a French and a Ukrainian article
about the Alaska summit land near the German baseline, and a mountain "summit" does not.
The score is the cosine of the two vectors, discounted when the article's evidence is
thinner than the baseline's (a single passing mention must not look like a match): by
``e(article) / e(baseline)``, at most 1, where ``e = n² / (n² + 8)`` and n is a vector's
length; the baseline scores 1 against itself. It lies in [0, 1]; the weights and the discount were chosen
on the labelled fixture world (bench/labels.py), where summit coverage ranks above
other war coverage, which ranks above unrelated news. Alongside it, what the article
adds: its most telling concepts that the baseline does not mention ("new: trilateral
summit, security guarantees"). Nothing is downloaded and nothing here touches the
network or the database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pipeline.topics import Concept

Vector = dict[str, float]
MAX_ADDS = 5
EVIDENCE = 8.0  # squared vector length at which similarity gets half credit


def concept_vector(counts: Mapping[str, int], concepts: Mapping[str, Concept]) -> Vector:
    """Weighted concept vector of an article from its concept hit counts."""
    return {cid: concepts[cid].weight * (1.0 + math.log(hits))
            for cid, hits in counts.items() if hits > 0 and cid in concepts}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(value * b.get(key, 0.0) for key, value in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return max(0.0, min(1.0, dot / norm)) if norm else 0.0


def baseline_similarity(vector: Mapping[str, float], baseline: Mapping[str, float]) -> float:
    """Cosine to the baseline, discounted when the article says less than the baseline does."""
    def evidence(v: Mapping[str, float]) -> float:
        squared = sum(x * x for x in v.values())
        return squared / (squared + EVIDENCE)

    return cosine(vector, baseline) * min(1.0, evidence(vector) / evidence(baseline)) if baseline else 0.0


def baseline_additions(vector: Mapping[str, float], baseline: Mapping[str, float],
                       concepts: Mapping[str, Concept]) -> tuple[str, ...]:
    """The article's most telling concepts that the baseline lacks, by name."""
    new = sorted((cid for cid in vector if cid not in baseline), key=lambda cid: (-vector[cid], cid))
    return tuple(concepts[cid].name for cid in new[:MAX_ADDS])
