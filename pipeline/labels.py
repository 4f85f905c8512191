"""An article's labels: the concepts it speaks of, its topics, and its place next to the baseline.

One ``Labeller`` per cycle (it holds the concept matcher and the baseline's vector);
``label`` is pure and cheap. Nothing here touches the network or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.alerts import load_rules
from pipeline.seeds import Baseline
from pipeline.similarity import Vector, baseline_additions, baseline_similarity, concept_vector
from pipeline.topics import ConceptMatch, Matcher, load_concepts

# Measured on the labelled fixture world (bench/labels.py): a headline names the event, so
# its concepts count twice more in story clustering; entities from this weight up (not
# Russia or Trump, who are in everything) can tie an article to a story.
TITLE_BOOST = 2
ANCHOR_WEIGHT = 0.6


@dataclass(frozen=True)
class ArticleLabels:
    topics: tuple[str, ...]
    matches: tuple[ConceptMatch, ...]
    vector: Vector
    baseline_similarity: float
    adds: tuple[str, ...]  # names of concepts the baseline does not have
    story_vector: Vector  # the vector with the headline's concepts counted again
    anchors: frozenset[str]  # the article's concepts that can tie it to a story


class Labeller:
    def __init__(self, topics_path: Path, baseline: Baseline) -> None:
        concepts = load_concepts(topics_path)
        self.concepts = {c.id: c for c in concepts}
        self.rules = load_rules(topics_path, {c.id for c in concepts if c.kind == "topic"})
        self.matcher = Matcher(concepts)
        self.anchor_ids = frozenset(c.id for c in concepts if c.kind == "entity" and c.weight >= ANCHOR_WEIGHT)
        self.baseline_vector = self.label_vector(baseline.title, baseline.text, baseline.language)

    def label_vector(self, title: str, text: str, language: str) -> Vector:
        return concept_vector(self.matcher.match(f"{title}\n{text}", language).counts, self.concepts)

    def label(self, title: str, text: str, language: str) -> ArticleLabels:
        labels = self.matcher.match(f"{title}\n{text}", language)
        vector = concept_vector(labels.counts, self.concepts)
        headline = self.matcher.match(title, language).counts if title else {}
        story_vector = {cid: value + TITLE_BOOST * self.concepts[cid].weight * headline.get(cid, 0)
                        for cid, value in vector.items()}
        return ArticleLabels(
            topics=labels.topics, matches=labels.matches, vector=vector,
            baseline_similarity=round(baseline_similarity(vector, self.baseline_vector), 4),
            adds=baseline_additions(vector, self.baseline_vector, self.concepts),
            story_vector=story_vector, anchors=self.anchor_ids & set(vector))
