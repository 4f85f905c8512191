"""An article's labels: the concepts it speaks of, its topics, its event vector, and its
place next to the baseline.

One ``Labeller`` per cycle (it holds the concept matcher, the learned topics and the
baseline's vector); ``label`` is pure. Keyword topics come from the concept matcher;
learned topics (``summit``, ``ukraine-war``) from classifiers over the article's event
vector (``pipeline.relevance``), whose keyword terms only explain a match. Nothing here
touches the network or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from pipeline import embedding
from pipeline.alerts import load_rules
from pipeline.relevance import LearnedTopic, learn_topic
from pipeline.seeds import Baseline
from pipeline.similarity import Vector, baseline_additions, baseline_similarity, concept_vector
from pipeline.topics import ConceptMatch, Matcher, load_concepts


@dataclass(frozen=True)
class ArticleLabels:
    topics: tuple[str, ...]
    matches: tuple[ConceptMatch, ...]
    vector: Vector  # concepts, for baseline similarity and explanations
    baseline_similarity: float
    adds: tuple[str, ...]  # names of concepts the baseline does not have
    event_vector: np.ndarray | None = None  # what the article reports (pipeline.embedding), for stories
    scores: dict[str, float] = field(default_factory=dict)  # learned topic -> probability


class Labeller:
    def __init__(self, topics_path: Path, baseline: Baseline, cache: Path | None = None) -> None:
        concepts = load_concepts(topics_path, cache)
        self.concepts = {c.id: c for c in concepts}
        self.rules = load_rules(topics_path, {c.id for c in concepts if c.kind == "topic"})
        self.matcher = Matcher(concepts)
        self.learned = tuple(learn_topic(c.id, c.examples, c.threshold, cache)  # type: ignore[arg-type]
                             for c in concepts if c.is_learned)  # is_learned: it has examples
        self.baseline = baseline

    @cached_property
    def baseline_vector(self) -> Vector:
        """Computed at the first article: a task that stores none (a 304) never lemmatises it."""
        return self.label_vector(self.baseline.title, self.baseline.text, self.baseline.language)

    def label_vector(self, title: str, text: str, language: str) -> Vector:
        return concept_vector(self.matcher.match(f"{title}\n{text}", language).counts, self.concepts)

    def label(self, title: str, text: str, language: str) -> ArticleLabels:
        labels = self.matcher.match(f"{title}\n{text}", language)
        vector = concept_vector(labels.counts, self.concepts)
        event = embedding.encode([embedding.event_text(title, text)])[0]
        scores = learned_scores(self.learned, event)
        learned = tuple(t.topic for t in self.learned if scores[t.topic] >= t.threshold)
        return ArticleLabels(
            topics=tuple(sorted(labels.topics + learned)), matches=labels.matches, vector=vector,
            baseline_similarity=round(baseline_similarity(vector, self.baseline_vector), 4),
            adds=baseline_additions(vector, self.baseline_vector, self.concepts),
            event_vector=event, scores=scores)


def learned_scores(learned: tuple[LearnedTopic, ...], event: np.ndarray) -> dict[str, float]:
    return {topic.topic: round(topic.probability(event), 4) for topic in learned}
