"""An article's labels: the concepts it speaks of, its topics, and its place next to the baseline.

One ``Labeller`` per cycle (it holds the concept matcher and the baseline's vector);
``label`` is pure and cheap. Nothing here touches the network or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.seeds import Baseline
from pipeline.similarity import Vector, baseline_additions, concept_vector, cosine
from pipeline.topics import ConceptMatch, Matcher, load_concepts


@dataclass(frozen=True)
class ArticleLabels:
    topics: tuple[str, ...]
    matches: tuple[ConceptMatch, ...]
    vector: Vector
    baseline_similarity: float
    adds: tuple[str, ...]  # names of concepts the baseline does not have


class Labeller:
    def __init__(self, topics_path: Path, baseline: Baseline) -> None:
        concepts = load_concepts(topics_path)
        self.concepts = {c.id: c for c in concepts}
        self.matcher = Matcher(concepts)
        self.baseline_vector = self.label_vector(baseline.title, baseline.text, baseline.language)

    def label_vector(self, title: str, text: str, language: str) -> Vector:
        return concept_vector(self.matcher.match(f"{title}\n{text}", language).counts, self.concepts)

    def label(self, title: str, text: str, language: str) -> ArticleLabels:
        labels = self.matcher.match(f"{title}\n{text}", language)
        vector = concept_vector(labels.counts, self.concepts)
        return ArticleLabels(
            topics=labels.topics, matches=labels.matches, vector=vector,
            baseline_similarity=round(cosine(vector, self.baseline_vector), 4),
            adds=baseline_additions(vector, self.baseline_vector, self.concepts))
