"""Topics and entities: which concepts an article speaks of, in any of our languages.

``seeds/topics.toml`` lists concepts — topics (the war in Ukraine, ceasefire, summit …),
entities (Trump, Putin, Zelensky, Alaska …) and themes (tariffs, mountains …) — each
with its terms in English, German, French, Ukrainian and Russian. Terms and text are
compared as lemmas (simplemma ships its dictionaries), so "саміту", "Gipfels" and
"sommets" match "саміт", "Gipfel" and "sommet"; a ``*`` at either end of a word matches
a prefix or suffix ("*gipfel" finds "Alaska-Gipfel", "зеленськ*" finds every case of
Зеленський). An article is matched with the terms of its own language (German "war" is
not English "war"); entities' names are matched in every language. Every match keeps the
terms that fired, so each label can be explained. Nothing here touches the network or
the database.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import simplemma

from pipeline.errors import SettingsError

LANGUAGES = ("en", "de", "fr", "uk", "ru")
KINDS = ("topic", "entity", "theme")
_TOKEN = re.compile(r"\w+(?:['’ʼ]\w+)*")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'"})
CACHE_SIZE = 500_000
SHIPPED_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@dataclass(frozen=True)
class Term:
    text: str  # as written in topics.toml, reported when it matches
    words: tuple[str, ...]  # lemmas; a word may start or end with "*"


@dataclass(frozen=True)
class Concept:
    id: str
    name: str
    kind: str
    weight: float
    min_hits: int
    terms: dict[str, tuple[Term, ...]]  # by language
    exclude_if: tuple[str, ...] = ()
    examples: Path | None = None  # a learned topic: its example sentences (pipeline.relevance)
    threshold: float = 0.5  # a learned topic applies from this probability on

    @property
    def is_learned(self) -> bool:
        return self.examples is not None


@dataclass(frozen=True)
class ConceptMatch:
    concept: str
    kind: str
    hits: int
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Labels:
    """What an article speaks of: every concept that matched, and the topics it is about."""

    matches: tuple[ConceptMatch, ...]
    topics: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)  # concept -> hits, for vectors


def load_concepts(path: Path, cache: Path | None = None) -> tuple[Concept, ...]:
    """Every ``[[concept]]`` of a topics file, with its terms lemmatised once.

    With ``cache`` (a folder), the terms' lemmas are kept there, keyed by the file's content
    and simplemma's version: lemmatising them loads simplemma's dictionaries, seconds that
    every new process (each Airflow task) would otherwise pay before its first article."""
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    stored = _lemma_file(raw, cache)
    known = _read_lemmas(stored)
    concepts = tuple(_concept(path, table, known) for table in data.get("concept", []))
    if not concepts:
        raise SettingsError(f"{path}: no [[concept]] tables")
    ids = {c.id for c in concepts}
    for concept in concepts:
        for other in concept.exclude_if:
            if other not in ids:
                raise SettingsError(f"{path}: concept {concept.id!r} excludes unknown concept {other!r}")
    if stored is not None and not known:
        _write_lemmas(stored, concepts)
    return concepts


def _lemma_file(raw: bytes, cache: Path | None) -> Path | None:
    if cache is None:
        return None
    key = hashlib.sha256(raw + f"\0simplemma {simplemma.__version__}\0{LANGUAGES}".encode()).hexdigest()
    return cache / f"term-lemmas-{key[:24]}.json"


def _read_lemmas(stored: Path | None) -> dict[str, tuple[str, ...]]:
    """The cached lemmas (language, tab, term → words); none if absent or unreadable."""
    if stored is None:
        return {}
    try:
        return {key: tuple(words) for key, words in json.loads(stored.read_text(encoding="utf-8")).items()}
    except (AttributeError, OSError, ValueError, TypeError):
        return {}


def _write_lemmas(stored: Path, concepts: tuple[Concept, ...]) -> None:
    lemmas = {f"{language}\t{term.text}": list(term.words)
              for concept in concepts for language, terms in concept.terms.items() for term in terms}
    try:
        stored.parent.mkdir(parents=True, exist_ok=True)
        partial = stored.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(lemmas, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, stored)  # whole or not at all, whoever writes it at the same time
    except OSError:
        pass  # a cache: the next process lemmatises again


def _concept(path: Path, table: dict, lemmas: dict[str, tuple[str, ...]]) -> Concept:
    where = f"{path}: concept {table.get('id')!r}"
    if not isinstance(table.get("id"), str) or table.get("kind") not in KINDS:
        raise SettingsError(f"{where}: needs an id and a kind ({', '.join(KINDS)})")
    terms = {}
    for language in LANGUAGES:
        written = table.get(language, [])
        if not isinstance(written, list) or not all(isinstance(t, str) for t in written):
            raise SettingsError(f"{where}: {language} must be a list of terms")
        terms[language] = tuple(Term(t, lemmas.get(f"{language}\t{t}") or _term_words(t, language))
                                for t in written)
    examples = _examples(path, table["examples"]) if isinstance(table.get("examples"), str) else None
    if examples is not None and table["kind"] != "topic":
        raise SettingsError(f"{where}: only a topic can be learned from examples")
    if not any(terms.values()) and examples is None:
        raise SettingsError(f"{where}: has no terms")
    return Concept(id=table["id"], name=table.get("name", table["id"]), kind=table["kind"],
                   weight=float(table.get("weight", 1.0)), min_hits=int(table.get("min_hits", 1)),
                   terms=terms, exclude_if=tuple(table.get("exclude_if", ())), examples=examples,
                   threshold=float(table.get("threshold", 0.5)))


def _examples(topics: Path, name: str) -> Path:
    """A file of examples beside the topics file; else the shipped one (a topics file copied
    elsewhere to change its rules keeps the shipped examples)."""
    beside = topics.parent / name
    shipped = SHIPPED_SEEDS / name
    return beside if beside.exists() or not shipped.exists() else shipped


def _term_words(term: str, language: str) -> tuple[str, ...]:
    words = []
    for raw in term.lower().translate(_APOSTROPHES).replace("-", " ").split():
        prefix, suffix = raw.startswith("*"), raw.endswith("*")
        core = raw.strip("*")
        if (prefix or suffix) and len(core) < 3:
            raise SettingsError(f"term {term!r}: a wildcard needs at least three letters beside it")
        if not prefix and not suffix and len(core) > 3:  # abbreviations ("ai", "eu") stay as written
            core = _lemma(core, language)
        words.append(("*" if prefix else "") + core + ("*" if suffix else ""))
    return tuple(words)


@lru_cache(maxsize=200_000)
def _lemma(token: str, language: str) -> str:
    if language not in LANGUAGES:
        return token
    return simplemma.lemmatize(token, lang=language).lower().translate(_APOSTROPHES)


def tokens_of(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().translate(_APOSTROPHES).replace("-", " "))


class Matcher:
    """Matches the concepts of a topics file; build once, use for every article."""

    def __init__(self, concepts: tuple[Concept, ...]) -> None:
        self.concepts = {c.id: c for c in concepts}
        # Per scope (a language, or "*" for entities in every language), terms are indexed by
        # their first word: whole, by its first three letters ("zel*"), by its last three
        # ("*gipfel"); only a rare "*infix*" is tried on every token.
        self._index: dict[str, dict[tuple[str, str], list[tuple[Concept, Term]]]] = {}
        for concept in concepts:
            for language, terms in concept.terms.items():
                scope = self._index.setdefault("*" if concept.kind == "entity" else language, {})
                for term in terms:
                    scope.setdefault(_index_key(term.words[0]), []).append((concept, term))
        self._cache: dict[tuple[str, str, str], tuple[tuple[Concept, Term], ...]] = {}
    def match(self, text: str, language: str) -> Labels:
        """The concepts ``text`` (in ``language``, ISO 639-1 or "und") speaks of."""
        surface = tokens_of(text)
        lemma_language = language if language in LANGUAGES else None
        lemmas = [_lemma(t, lemma_language) if lemma_language else t for t in surface]
        hits: Counter[str] = Counter()
        fired: dict[str, set[str]] = {}
        for index, token in enumerate(surface):
            candidates = self._candidates(language, token, lemmas[index])
            if not candidates:
                continue
            here: set[str] = set()  # a concept counts once per position, however many terms fire
            for concept, term in candidates:
                if _matches_at(term.words, surface, lemmas, index):
                    here.add(concept.id)
                    fired.setdefault(concept.id, set()).add(term.text)
            hits.update(here)
        return self._labels(hits, fired)

    def _candidates(self, language: str, token: str, lemma: str) -> tuple[tuple[Concept, Term], ...]:
        """Terms whose first word matches here; cached, as most tokens match nothing."""
        key = (language, token, lemma)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > CACHE_SIZE:
                self._cache.clear()
            scopes = ("*", language) if language in LANGUAGES else ("*", *LANGUAGES)
            keys = {("=", lemma), ("=", token), ("<", token[:3]), ("<", lemma[:3]), (">", token[-3:]),
                    (">", lemma[-3:]), ("*", "")}
            found = tuple(pair for scope in scopes for k in keys
                          for pair in self._index.get(scope, {}).get(k, ())
                          if _word_matches(pair[1].words[0], token, lemma))
            self._cache[key] = found
        return found

    def _labels(self, hits: Counter, fired: dict[str, set[str]]) -> Labels:
        matches = tuple(ConceptMatch(cid, self.concepts[cid].kind, hits[cid], tuple(sorted(fired[cid])))
                        for cid in sorted(hits))
        present = {m.concept for m in matches if m.hits >= self.concepts[m.concept].min_hits}
        # A learned topic is decided by its classifier (pipeline.labels); its terms only explain.
        topics = tuple(cid for cid in sorted(present) if self.concepts[cid].kind == "topic"
                       and not self.concepts[cid].is_learned
                       and not any(other in present for other in self.concepts[cid].exclude_if))
        return Labels(matches, topics, dict(hits))


def _index_key(word: str) -> tuple[str, str]:
    if word.startswith("*") and word.endswith("*"):
        return ("*", "")
    if word.endswith("*"):
        return ("<", word[:3])
    if word.startswith("*"):
        return (">", word[-3:])
    return ("=", word)


def _matches_at(words: tuple[str, ...], surface: list[str], lemmas: list[str], index: int) -> bool:
    if index + len(words) > len(surface):
        return False
    return all(_word_matches(word, surface[index + offset], lemmas[index + offset])
               for offset, word in enumerate(words))


def _word_matches(word: str, token: str, lemma: str) -> bool:
    if word.startswith("*") and word.endswith("*"):
        core = word[1:-1]
        return core in token or core in lemma
    if word.startswith("*"):
        return token.endswith(word[1:]) or lemma.endswith(word[1:])
    if word.endswith("*"):
        return token.startswith(word[:-1]) or lemma.startswith(word[:-1])
    return word == lemma or word == token
