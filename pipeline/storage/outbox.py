"""The alerts outbox: queued in the poll's transaction, claimed, delivered, marked.

Guarantees. An alert is *created* exactly once per rule and story — a unique constraint
on (rule, story, sequence) decides, in the same transaction as the articles that caused
it, so retried tasks, re-runs and parallel workers cannot queue it twice. *Delivery* is
at least once: a deliverer claims a row (pending → sending) before sending and marks it
sent after; if it dies in between, the claim goes stale after ``CLAIM_TIMEOUT`` and the
alert is sent again — with the same idempotency key, which every message carries, so a
receiver can drop the repeat. Failed sends are retried with exponential backoff up to a
limit, then the alert is marked failed with the error; nothing else is held up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.orm import aliased

from pipeline.alerts import Member, Rule, digest_due, explain, plan_alerts, story_trigger
from pipeline.storage.engine import storage_errors, upsert_insert
from pipeline.storage.schema import Alert, AlertAttempt, Article, ArticleConcept, Feed, Story
from pipeline.topics import ConceptMatch

CLAIM_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class Labelled:
    """A new original article as labelling left it: what the rules look at."""

    article_id: int
    story_id: int
    language: str
    outlet: str
    topics: tuple[str, ...]
    matches: tuple
    baseline_similarity: float | None


def queue_alerts(connection: Connection, articles: Sequence[Labelled], rules: Sequence[Rule],
                 now: datetime, window: float) -> None:
    """Queue what the poll's new originals call for, as ``pipeline.alerts.plan_alerts``
    decides over the stories they are in: an alert per story and rule, once, and digests."""
    if not articles or not rules:
        return
    story_ids = {a.story_id for a in articles}
    members = story_members(connection, story_ids, {a.article_id for a in articles})
    alerted = {(rule, story): at for rule, story, at in connection.execute(
        select(Alert.rule, Alert.story_id, Alert.created_at).where(
            Alert.story_id.in_(story_ids), Alert.sequence == 0))}
    for alert in plan_alerts(members, alerted, rules, now, window):
        connection.execute(upsert_insert(connection, Alert).values(
            rule=alert.rule, story_id=alert.story_id, sequence=alert.sequence, article_id=alert.article_id,
            terms=alert.terms, idempotency_key=alert.idempotency_key, created_at=now,
            not_before=alert.not_before, state="pending", attempts=0, next_attempt_at=alert.not_before,
        ).on_conflict_do_nothing())


def story_members(connection: Connection, story_ids: set[int], new: set[int]) -> dict[int, list[Member]]:
    """The original articles of each story, with the topics and terms the rules look at."""
    rows = connection.execute(select(Article.id, Article.story_id, Article.event_time, Article.language,
                                     Article.outlet, Article.baseline_similarity).where(
        Article.story_id.in_(story_ids), Article.duplicate_of.is_(None), Article.is_baseline.is_(False))).all()
    concepts: dict[int, list] = {}
    for row in connection.execute(select(ArticleConcept.article_id, ArticleConcept.concept, ArticleConcept.kind,
                                         ArticleConcept.hits, ArticleConcept.terms, ArticleConcept.is_topic,
                                         ArticleConcept.score)
                                  .where(ArticleConcept.article_id.in_([r.id for r in rows]))):
        concepts.setdefault(row.article_id, []).append(row)
    members: dict[int, list[Member]] = {}
    for row in rows:
        found = concepts.get(row.id, [])
        members.setdefault(row.story_id, []).append(Member(
            article_id=row.id, when=row.event_time, language=row.language, outlet=row.outlet,
            topics=tuple(sorted(c.concept for c in found if c.is_topic)),
            matches=tuple(ConceptMatch(c.concept, c.kind, c.hits, tuple(c.terms)) for c in found),
            baseline_similarity=row.baseline_similarity, is_new=row.id in new,
            scores={c.concept: c.score for c in found if c.score is not None}))
    return members


def repoint_alerts(connection: Connection, keep: int, gone: int) -> None:
    """Stories ``keep`` and ``gone`` proved to be one: their alerts become the survivor's.

    A rule that has alerted on neither, or only on ``gone``, moves to ``keep``. A rule
    queued on both keeps ``keep``'s; ``gone``'s rows not yet sent are set ``merged``
    (kept, never sent), so the one story alerts once. Rows already sent stay as history.
    """
    taken = select(Alert.rule).where(Alert.story_id == keep).scalar_subquery()
    connection.execute(update(Alert).where(Alert.story_id == gone, Alert.rule.not_in(taken))
                       .values(story_id=keep))
    connection.execute(update(Alert).where(Alert.story_id == gone, Alert.state.in_(("pending", "held")))
                       .values(state="merged", last_error=f"story merged into story {keep}"))


def due_alerts(engine: Engine, now: datetime, limit: int = 100,
               settled: timedelta = timedelta(0)) -> list[dict[str, Any]]:
    """Alerts ready to send: pending and due, or claimed so long ago that the claimer died.

    A digest waits until its story's alert has gone out: follow-ups never overtake the news.
    With ``settled``, a new story's alert waits until it is that old: a deliverer running
    while a poll is still storing feeds leaves the news to the poll's own delivery, which
    comes once stories that prove to be one have merged.
    """
    first = aliased(Alert)
    alert_sent = (select(first.id).where(first.rule == Alert.rule, first.story_id == Alert.story_id,
                                         first.sequence == 0, first.state == "sent").exists())
    ready = and_(_is_free(now), or_(and_(Alert.sequence == 0, Alert.created_at <= now - settled), alert_sent))
    with storage_errors(engine.connect) as connection:
        rows = connection.execute(select(Alert).where(ready)
                                  .order_by(Alert.not_before, Alert.id).limit(limit)).all()
    return [dict(row._mapping) for row in rows]


def waiting_alerts(engine: Engine, now: datetime) -> tuple[int, datetime | None, str | None]:
    """Pending alerts not due yet: how many, when the first falls due and what it is
    (``alert``, ``digest`` or ``retry``). A digest may wait longer: until its story's alert is out."""
    with storage_errors(engine.connect) as connection:
        rows = connection.execute(select(Alert.sequence, Alert.attempts, Alert.not_before, Alert.next_attempt_at)
                                  .where(Alert.state == "pending")).all()
    upcoming = sorted((max(not_before, next_attempt), "retry" if attempts else "digest" if sequence else "alert")
                      for sequence, attempts, not_before, next_attempt in rows
                      if max(not_before, next_attempt) > now)
    return (len(upcoming), *upcoming[0]) if upcoming else (0, None, None)


def claim(engine: Engine, alert_id: int, now: datetime, *, attempts: int | None = None) -> bool:
    """Take an alert for sending at ``now`` (the time of the claim, never earlier); False if
    another deliverer has it, or it is not due. With ``attempts`` (as the caller read the
    row), also False if another deliverer has tried it since: the caller's copy is stale."""
    taken = [Alert.id == alert_id, _is_free(now)]
    if attempts is not None:
        taken.append(Alert.attempts == attempts)
    with storage_errors(engine.begin) as connection:
        result = connection.execute(update(Alert).where(*taken).values(state="sending", claimed_at=now))
    return result.rowcount == 1


def _is_free(now: datetime):
    """Pending and due, or claimed so long ago that the claimer died."""
    return or_(and_(Alert.state == "pending", Alert.next_attempt_at <= now, Alert.not_before <= now),
               and_(Alert.state == "sending", Alert.claimed_at < now - CLAIM_TIMEOUT))


def record_attempt(engine: Engine, alert_id: int, now: datetime, *, ok: bool, error: str | None,
                   state: str, next_attempt: datetime | None = None,
                   delivered_to: Iterable[str] | None = None) -> None:
    """Write how a send went: sent, held (nobody to send to), retry later, or failed for good;
    ``delivered_to`` names the targets that have it, so a retry skips them."""
    values: dict[str, Any] = {"state": state, "last_error": error, "attempts": Alert.attempts + 1}
    if delivered_to is not None:
        values["delivered_to"] = sorted(delivered_to)
    if state == "sent":
        values["sent_at"] = now
    if next_attempt is not None:
        values["next_attempt_at"] = next_attempt
    with storage_errors(engine.begin) as connection:
        connection.execute(insert(AlertAttempt).values(alert_id=alert_id, attempted_at=now, ok=ok, error=error))
        connection.execute(update(Alert).where(Alert.id == alert_id).values(**values))


def message_data(engine: Engine, alert: dict[str, Any], window: float, rule: Rule) -> dict[str, Any]:
    """The story, and the article that broke it (alert) or what came since (digest).

    An alert names the story's earliest article matching the rule as the story stands
    when it is sent, whichever feed brought it first. A digest lists, by publication
    time, the story's articles of its window that the messages before it did not report.
    """
    with storage_errors(engine.connect) as connection:
        story = _story(connection, alert["story_id"])
        if alert["sequence"] == 0:
            members = story_members(connection, {alert["story_id"]}, set()).get(alert["story_id"], [])
            trigger = story_trigger(rule, members)
            if trigger is None:  # the rule changed since: the article it was queued for
                return {"story": story, "article": _article(connection, alert["article_id"]), "why": None}
            return {"story": story, "article": _article(connection, trigger[0].article_id),
                    "why": explain(rule, *trigger)}
        first = connection.execute(select(Alert.created_at, Alert.sent_at, Alert.article_id).where(
            Alert.rule == alert["rule"], Alert.story_id == alert["story_id"], Alert.sequence == 0)).one()
        start = digest_due(first.created_at, alert["sequence"] - 1, window)
        end = digest_due(first.created_at, alert["sequence"], window)
        reported = max(start, first.sent_at or first.created_at)  # what the alert already told
        ids = connection.execute(select(Article.id).where(
            Article.story_id == alert["story_id"], Article.duplicate_of.is_(None),
            Article.is_baseline.is_(False), Article.id != first.article_id,
            Article.first_seen_at > reported, Article.first_seen_at < end)
            .order_by(Article.event_time, Article.id)).scalars().all()
        earlier = connection.execute(select(Article.outlet, Article.language).where(
            Article.story_id == alert["story_id"], Article.is_baseline.is_(False),
            Article.first_seen_at <= reported)).all()
        return {"story": story, "articles": [_article(connection, i) for i in ids],
                "earlier_outlets": sorted({r.outlet for r in earlier}),
                "earlier_languages": sorted({r.language for r in earlier})}


def _story(connection: Connection, story_id: int) -> dict[str, Any]:
    """The story as it stands now: originals, copies, outlets and languages of its articles."""
    title = connection.execute(select(Story.title).where(Story.id == story_id)).scalar_one()
    rows = connection.execute(select(Article.outlet, Article.language, Article.duplicate_of).where(
        Article.story_id == story_id, Article.is_baseline.is_(False))).all()
    return {"id": story_id, "title": title,
            "article_count": sum(1 for r in rows if r.duplicate_of is None),
            "copies": sum(1 for r in rows if r.duplicate_of is not None),
            "outlets": sorted({r.outlet for r in rows if r.outlet}),
            "languages": sorted({r.language for r in rows if r.language})}


def _article(connection: Connection, article_id: int) -> dict[str, Any]:
    row = connection.execute(select(Article.id, Article.title, Article.language, Article.outlet, Article.url,
                                    Article.published_at, Article.baseline_similarity, Article.baseline_adds,
                                    Feed.name.label("feed"))
                             .outerjoin(Feed, Feed.id == Article.feed_id).where(Article.id == article_id)).one()
    return dict(row._mapping)


class AlertFields(TypedDict):
    """What every listing of alerts shows of one."""

    id: int
    rule: str
    story_id: int
    story_title: str
    sequence: int  # 0: the alert; n: the n-th digest window
    article_id: int | None
    idempotency_key: str
    created_at: datetime
    not_before: datetime
    state: str
    next_attempt_at: datetime
    claimed_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


class AlertRow(AlertFields):
    """An alert as ``list_alerts`` reads it: its row, and its story's title."""

    terms: dict[str, list[str]] | None  # topic -> the terms that matched
    attempts: int
    delivered_to: list[str] | None


def list_alerts(engine: Engine, *, state: str | None = None, limit: int = 50) -> list[AlertRow]:
    statement = (select(Alert, Story.title.label("story_title")).join(Story, Story.id == Alert.story_id)
                 .order_by(Alert.id.desc()).limit(limit))
    if state:
        statement = statement.where(Alert.state == state)
    with storage_errors(engine.connect) as connection:
        return [cast(AlertRow, dict(row._mapping)) for row in connection.execute(statement)]


def retry_alert(engine: Engine, alert_id: int, now: datetime) -> bool:
    """Put a failed (or held) alert back in the queue; False if there is no such alert to retry."""
    with storage_errors(engine.begin) as connection:
        result = connection.execute(update(Alert).where(Alert.id == alert_id, Alert.state.in_(("failed", "held")))
                                    .values(state="pending", attempts=0, next_attempt_at=now))
    return result.rowcount == 1
