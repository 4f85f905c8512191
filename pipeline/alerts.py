"""Alert rules and messages: which new articles start an alert, and what recipients read.

Rules live in ``seeds/topics.toml`` beside the concepts they use. A rule names topics an
article must have (all / any / none), and optionally a minimum baseline similarity,
languages, outlets, and how many outlets must report the story (``min_outlets``). It
fires on a *story* — one news event — once, when the story's matching articles first
come from enough outlets, naming the earliest of them: ``plan_alerts`` decides, over the
stories a poll touched, and the outbox (``pipeline.storage.outbox``) keys alerts by rule
and story. Later coverage of an alerted story is gathered into at most one digest per
story and window. Near-duplicates and new versions never alert.

Messages read as chat text and e-mail; JSON webhooks also get the same alert as a
structured document. Nothing here touches the network or the database.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.errors import SettingsError
from pipeline.topics import ConceptMatch, load_concepts


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    all_topics: tuple[str, ...] = ()
    any_topics: tuple[str, ...] = ()
    none_topics: tuple[str, ...] = ()
    min_baseline_similarity: float = 0.0
    languages: tuple[str, ...] = ()  # empty: every language
    outlets: tuple[str, ...] = ()  # empty: every outlet
    urls: tuple[str, ...] = ()  # empty: NEWSWATCH_ALERT_URLS
    min_outlets: int = 1  # outlets whose articles must match before the story alerts

    @property
    def topics(self) -> tuple[str, ...]:
        return self.all_topics + self.any_topics


@dataclass(frozen=True)
class RuleMatch:
    rule: str
    terms: dict[str, list[str]] = field(default_factory=dict)  # topic -> the terms that fired


def load_rules(path: Path, known_topics: set[str] | None = None) -> tuple[Rule, ...]:
    """Every ``[[rule]]`` of the topics file, checked against the topics it defines (pass
    ``known_topics`` when the concepts are already loaded)."""
    if known_topics is None:
        known_topics = {c.id for c in load_concepts(path) if c.kind == "topic"}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"{path}: {error}") from None
    rules = []
    for table in data.get("rule", []):
        rule_id = table.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            raise SettingsError(f"{path}: every [[rule]] needs an id")
        lists = {key: tuple(table.get(key, ())) for key in ("all_topics", "any_topics", "none_topics",
                                                           "languages", "outlets", "urls")}
        unknown = set(lists["all_topics"] + lists["any_topics"] + lists["none_topics"]) - known_topics
        if unknown:
            raise SettingsError(f"{path}: rule {rule_id!r} names unknown topics {sorted(unknown)}")
        if not lists["all_topics"] and not lists["any_topics"]:
            raise SettingsError(f"{path}: rule {rule_id!r} needs all_topics or any_topics")
        min_outlets = table.get("min_outlets", 1)
        if not isinstance(min_outlets, int) or min_outlets < 1:
            raise SettingsError(f"{path}: rule {rule_id!r}: min_outlets must be a whole number of 1 or more")
        rules.append(Rule(id=rule_id, name=table.get("name", rule_id), min_outlets=min_outlets,
                          min_baseline_similarity=float(table.get("min_baseline_similarity", 0.0)), **lists))
    if len({r.id for r in rules}) != len(rules):
        raise SettingsError(f"{path}: rule ids must be unique")
    return tuple(rules)


def match_rule(rule: Rule, *, topics: tuple[str, ...], matches: tuple[ConceptMatch, ...],
               language: str, outlet: str, baseline_similarity: float | None) -> RuleMatch | None:
    """Whether an article's labels satisfy ``rule``, with the terms that made it."""
    present = set(topics)
    if not set(rule.all_topics) <= present:
        return None
    if rule.any_topics and not present & set(rule.any_topics):
        return None
    if present & set(rule.none_topics):
        return None
    if (baseline_similarity or 0.0) < rule.min_baseline_similarity:
        return None
    if rule.languages and language not in rule.languages:
        return None
    if rule.outlets and outlet not in rule.outlets:
        return None
    fired = {m.concept: list(m.terms) for m in matches if m.concept in rule.topics and m.concept in present}
    return RuleMatch(rule.id, fired)


CLEAREST = 0.1  # how far below the story's clearest article the article that breaks it may score


@dataclass(frozen=True)
class Member:
    """An original article of a story, as the rules see it."""

    article_id: int
    when: datetime
    language: str
    outlet: str
    topics: tuple[str, ...]
    matches: tuple[ConceptMatch, ...]
    baseline_similarity: float | None
    is_new: bool  # stored by the poll being planned
    scores: Mapping[str, float] = field(default_factory=dict)  # learned topics' probabilities


@dataclass(frozen=True)
class PlannedAlert:
    rule: str
    story_id: int
    sequence: int  # 0: the alert; 1, 2, …: digests
    article_id: int | None  # the article that broke the story (the alert only)
    terms: dict[str, list[str]] | None
    not_before: datetime

    @property
    def idempotency_key(self) -> str:
        return f"newswatch-{self.rule}-story-{self.story_id}-{self.sequence}"


def plan_alerts(stories: Mapping[int, Sequence[Member]], alerted: Mapping[tuple[str, int], datetime],
                rules: Sequence[Rule], now: datetime, window: float) -> list[PlannedAlert]:
    """The alerts and digests the stories a poll touched now call for.

    ``alerted`` holds when each (rule, story) was alerted. A story not yet alerted by a
    rule alerts once its matching articles come from ``min_outlets`` outlets, naming its
    clearest early article; a story already alerted gets a digest for the poll's new
    articles.
    """
    planned = []
    for story_id in sorted(stories):
        members = stories[story_id]
        for rule in rules:
            at = alerted.get((rule.id, story_id))
            if at is None:
                trigger = story_trigger(rule, members)
                if trigger is not None:
                    planned.append(PlannedAlert(rule.id, story_id, 0, trigger[0].article_id, trigger[1].terms, now))
            elif at < now and any(m.is_new for m in members):
                sequence = digest_sequence(at, now, window)
                planned.append(PlannedAlert(rule.id, story_id, sequence, None, None,
                                            digest_due(at, sequence, window)))
    return planned


def story_trigger(rule: Rule, members: Sequence[Member]) -> tuple[Member, RuleMatch] | None:
    """The article that breaks a story, once its articles matching ``rule`` come from enough
    outlets: the earliest of those most clearly about the rule's learned topics (within
    CLEAREST of the best score), so a loosely related explainer at the story's edge does
    not stand for the event; without learned topics, simply the earliest match."""
    matching = []
    for member in sorted(members, key=lambda m: (m.when, m.article_id)):
        match = match_rule(rule, topics=member.topics, matches=member.matches, language=member.language,
                           outlet=member.outlet, baseline_similarity=member.baseline_similarity)
        if match is not None:
            matching.append((member, match))
    if len({member.outlet for member, _ in matching}) < rule.min_outlets:
        return None
    clarity = [_clarity(rule, member) for member, _ in matching]
    return next(pair for pair, score in zip(matching, clarity) if score >= max(clarity) - CLEAREST)


def _clarity(rule: Rule, member: Member) -> float:
    scores = [member.scores[topic] for topic in rule.topics if topic in member.scores]
    return min(scores) if scores else 0.0


def digest_sequence(alerted_at: datetime, seen_at: datetime, window: float) -> int:
    """Which digest (1, 2, …) an article seen at ``seen_at`` belongs to after an alert."""
    return 1 + max(0, math.floor((seen_at - alerted_at).total_seconds() / window))


def digest_due(alerted_at: datetime, sequence: int, window: float) -> datetime:
    """When digest ``sequence`` closes and may be sent."""
    return alerted_at + timedelta(seconds=window * sequence)


@dataclass(frozen=True)
class Message:
    title: str
    body: str  # chat and e-mail
    document: dict[str, Any]  # JSON webhooks


def compose_alert(alert: dict[str, Any], article: dict[str, Any], story: dict[str, Any],
                  rule: Rule, web_url: str | None, why: Explanation | None = None) -> Message:
    """The first message of a story: the article that broke it, why it matched, how close."""
    why = why or Explanation(alert.get("terms") or {}, {})
    link = f"{web_url}/articles/{article['id']}" if web_url else None
    lines = [
        f"[{article['language']}] {article['title']}",
        f"{article['outlet']} · {_when(article['published_at'])}",
        article["url"],
        f"Why: {rule.name} — {why.text()}" if why.text() else f"Why: {rule.name}",
        f"Baseline similarity {article['baseline_similarity']:.2f}"
        + (f" · new: {', '.join(article['baseline_adds'])}" if article.get("baseline_adds") else ""),
        f"Story so far: {_story_size(story)}",
    ]
    if link:
        lines.append(f"In newswatch: {link}")
    lines.append(f"Alert id: {alert['idempotency_key']}")
    document = {"kind": "alert", "idempotency_key": alert["idempotency_key"], "rule": rule.id,
                "story": _story_document(story), "article": _article_document(article, link),
                "matched_terms": why.terms, "topic_scores": why.scores}
    return Message(f"newswatch: {rule.name} — {article['title']}", "\n".join(lines), document)


@dataclass(frozen=True)
class Explanation:
    """Why an article matched a rule: per topic, the terms that fired and, for a learned
    topic, the classifier's probability."""

    terms: dict[str, list[str]]
    scores: dict[str, float]

    def text(self) -> str:
        parts = []
        for topic in sorted(set(self.terms) | set(self.scores)):
            details = ([f"{self.scores[topic]:.2f}"] if topic in self.scores else []) + self.terms.get(topic, [])
            parts.append(f"{topic} ({', '.join(details)})" if details else topic)
        return "; ".join(parts)


def explain(rule: Rule, member: Member, match: RuleMatch) -> Explanation:
    return Explanation(match.terms, {topic: member.scores[topic] for topic in rule.topics if topic in member.scores})


def compose_digest(alert: dict[str, Any], articles: list[dict[str, Any]], story: dict[str, Any],
                   rule: Rule, web_url: str | None, *, earlier_outlets: Sequence[str] = (),
                   earlier_languages: Sequence[str] = ()) -> Message:
    """Follow-up coverage of an alerted story: the window's articles, and which outlets and
    languages are new to the story."""
    outlets = sorted({a["outlet"] for a in articles})
    languages = sorted({a["language"] for a in articles})
    new_outlets = [o for o in outlets if o not in earlier_outlets]
    new_languages = [lang for lang in languages if lang not in earlier_languages]
    lines = [f"{len(articles)} more article(s) on: {story['title']}",
             f"New outlets: {', '.join(new_outlets) or 'none'} · new languages: {', '.join(new_languages) or 'none'}",
             f"Story so far: {_story_size(story)}"]
    lines += [f"- [{a['language']}] {a['title']} ({a['outlet']}, {_when(a['published_at'])}) {a['url']}"
              for a in articles]
    if web_url:
        lines.append(f"In newswatch: {web_url}/stories/{story['id']}")
    lines.append(f"Alert id: {alert['idempotency_key']}")
    document = {"kind": "digest", "idempotency_key": alert["idempotency_key"], "rule": rule.id,
                "story": _story_document(story), "new_outlets": new_outlets, "new_languages": new_languages,
                "articles": [_article_document(a, f"{web_url}/articles/{a['id']}" if web_url else None)
                             for a in articles]}
    return Message(f"newswatch: follow-up — {story['title']}", "\n".join(lines), document)


def _story_size(story: dict[str, Any]) -> str:
    copies = story.get("copies") or 0
    copies = f" (+{copies} {'copy' if copies == 1 else 'copies'})" if copies else ""
    return (f"{story['article_count']} article(s){copies} from {len(story['outlets'])} outlet(s) "
            f"in {', '.join(story['languages']) or 'no language yet'}")


def to_json(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, default=_when, indent=2)


def _story_document(story: dict[str, Any]) -> dict[str, Any]:
    return {key: story.get(key) for key in ("id", "title", "article_count", "copies", "outlets", "languages")}


def _article_document(article: dict[str, Any], link: str | None) -> dict[str, Any]:
    keys = ("id", "title", "language", "outlet", "url", "published_at", "baseline_similarity", "baseline_adds")
    return {**{key: article.get(key) for key in keys}, "newswatch_url": link}


def _when(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
