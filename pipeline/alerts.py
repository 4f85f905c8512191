"""Alert rules and messages: which new articles start an alert, and what recipients read.

Rules live in ``seeds/topics.toml`` beside the concepts they use. A rule names topics an
article must have (all / any / none), and optionally a minimum baseline similarity,
languages and outlets; it fires on a *story*, once: the outbox (``pipeline.storage.outbox``)
keys alerts by rule and story. Later coverage of an alerted story is gathered into at most
one digest per story and window. Near-duplicates and new versions never alert.

Messages read as chat text and e-mail; JSON webhooks also get the same alert as a
structured document. Nothing here touches the network or the database.
"""

from __future__ import annotations

import json
import math
import tomllib
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
        rules.append(Rule(id=rule_id, name=table.get("name", rule_id),
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
                  rule: Rule, web_url: str | None) -> Message:
    """The first message of a story: the article that broke it, why it matched, how close."""
    terms = alert.get("terms") or {}
    why = "; ".join(f"{topic} ({', '.join(t)})" for topic, t in sorted(terms.items()))
    link = f"{web_url}/articles/{article['id']}" if web_url else None
    lines = [
        f"[{article['language']}] {article['title']}",
        f"{article['outlet']} · {_when(article['published_at'])}",
        article["url"],
        f"Why: {rule.name} — {why}" if why else f"Why: {rule.name}",
        f"Baseline similarity {article['baseline_similarity']:.2f}"
        + (f" · new: {', '.join(article['baseline_adds'])}" if article.get("baseline_adds") else ""),
        f"Story so far: {_story_size(story)}",
    ]
    if link:
        lines.append(f"In newswatch: {link}")
    lines.append(f"Alert id: {alert['idempotency_key']}")
    document = {"kind": "alert", "idempotency_key": alert["idempotency_key"], "rule": rule.id,
                "story": _story_document(story), "article": _article_document(article, link),
                "matched_terms": terms}
    return Message(f"newswatch: {rule.name} — {article['title']}", "\n".join(lines), document)


def compose_digest(alert: dict[str, Any], articles: list[dict[str, Any]], story: dict[str, Any],
                   rule: Rule, web_url: str | None, *, earlier_outlets: list[str] = (),
                   earlier_languages: list[str] = ()) -> Message:
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
