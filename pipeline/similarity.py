"""Baseline similarity: how close an article is to the seed baseline, in any language.

Articles are compared as vectors over language-independent concepts (the topics,
entities and themes of ``seeds/topics.toml``): each concept found weighs its
configured weight times ``1 + log(hits)``, so a German, a French and a Ukrainian article
about the Alaska summit land near the German baseline, and a mountain "summit" does not.
The score is the cosine of the two vectors, in [0, 1]. Alongside it, what the article
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


def baseline_additions(vector: Mapping[str, float], baseline: Mapping[str, float],
                       concepts: Mapping[str, Concept]) -> tuple[str, ...]:
    """The article's most telling concepts that the baseline lacks, by name."""
    new = sorted((cid for cid in vector if cid not in baseline), key=lambda cid: (-vector[cid], cid))
    return tuple(concepts[cid].name for cid in new[:MAX_ADDS])
