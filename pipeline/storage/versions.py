"""Re-checks and versions: which articles are due a look, and writing what a look found.

A changed article keeps its id, story and near-duplicate links; its old title and text
move to ``article_versions`` with what changed, and the article row carries the new
version (its number, text, fingerprints, MinHash bands and concepts), in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from pipeline import embedding
from pipeline.dedup import band_keys
from pipeline.models import ArticleDraft, FeedEntry
from pipeline.storage.labelling import concept_rows
from pipeline.storage.engine import storage_errors
from pipeline.storage.schema import Article, ArticleConcept, ArticleVersion, Entry, MinhashBand
from pipeline.storage.search import index_articles
from pipeline.versions import Change


@dataclass(frozen=True)
class CheckTarget:
    id: int
    url: str
    title: str
    page_title: str | None
    text: str
    text_sha256: str
    first_seen_at: datetime
    checks: int
    version: int
    etag: str | None
    last_modified: str | None
    is_duplicate: bool


_TARGET = (Article.id, Article.url, Article.title, Article.page_title, Article.text, Article.text_sha256,
           Article.first_seen_at, Article.checks, Article.version, Article.etag, Article.last_modified,
           Article.duplicate_of.is_not(None))


def due_checks(engine: Engine, feed_id: int, now: datetime, limit: int) -> list[CheckTarget]:
    """This feed's articles due a re-check, most overdue first."""
    if limit <= 0:
        return []
    with storage_errors(engine.connect) as connection:
        rows = connection.execute(select(*_TARGET).where(
            Article.feed_id == feed_id, Article.next_check_at.is_not(None), Article.next_check_at <= now,
            Article.is_baseline.is_(False)).order_by(Article.next_check_at, Article.id).limit(limit)).all()
    return [CheckTarget(*tuple(row)) for row in rows]


def check_targets(engine: Engine, ids: list[int]) -> list[CheckTarget]:
    with storage_errors(engine.connect) as connection:
        rows = connection.execute(select(*_TARGET).where(Article.id.in_(ids)).order_by(Article.id)).all()
    return [CheckTarget(*tuple(row)) for row in rows]


def record_check(engine: Engine, article_id: int, checked_at: datetime, next_check: datetime | None,
                 etag: str | None = None, last_modified: str | None = None) -> None:
    """A look that found nothing new (or could not look): when to look again."""
    values: dict[str, Any] = {"checked_at": checked_at, "next_check_at": next_check, "checks": Article.checks + 1}
    if etag or last_modified:
        values.update(etag=etag, last_modified=last_modified)
    with storage_errors(engine.begin) as connection:
        connection.execute(update(Article).where(Article.id == article_id).values(**values))


def record_version(engine: Engine, target: CheckTarget, draft: ArticleDraft, change: Change,
                   checked_at: datetime, next_check: datetime | None) -> int:
    """Keep the old version, make the article the new one; returns the new version number."""
    extracted = draft.extracted
    with storage_errors(engine.begin) as connection:
        connection.execute(insert(ArticleVersion).values(
            article_id=target.id, version=target.version, title=target.title, text=target.text,
            text_sha256=target.text_sha256, replaced_at=checked_at, changes=change.as_dict()))
        _replace_fingerprints(connection, target, draft)
        connection.execute(update(Article).where(Article.id == target.id).values(
            version=target.version + 1, title=change.title_after, page_title=extracted.page_title or None,
            text=extracted.text, text_sha256=draft.fingerprint.text_sha256,
            word_count=draft.fingerprint.word_count, text_source=extracted.source,
            extraction_note=extracted.note, fetch_error=None, language=draft.language.code,
            language_confidence=draft.language.confidence, language_source=draft.language.source,
            checked_at=checked_at, next_check_at=next_check, checks=target.checks + 1,
            etag=draft.etag, last_modified=draft.last_modified,
            baseline_similarity=draft.labels.baseline_similarity if draft.labels else None,
            baseline_adds=list(draft.labels.adds) if draft.labels else None,
            concept_vector=draft.labels.vector if draft.labels else None,
            event_vector=embedding.to_bytes(draft.labels.event_vector)
            if draft.labels and draft.labels.event_vector is not None else None))
        index_articles(connection, [target.id])
    return target.version + 1


def _replace_fingerprints(connection: Connection, target: CheckTarget, draft: ArticleDraft) -> None:
    """New text, new exact hash (if nobody else has it), MinHash bands and concepts."""
    key = draft.fingerprint.dedup_key
    if key is not None and connection.execute(
            select(Article.id).where(Article.dedup_key == key, Article.id != target.id)).first():
        key = None  # the new text repeats another article's: keep this article as it is
    connection.execute(update(Article).where(Article.id == target.id).values(dedup_key=key))
    connection.execute(delete(MinhashBand).where(MinhashBand.article_id == target.id))
    signature = draft.signature
    connection.execute(update(Article).where(Article.id == target.id).values(
        minhash=signature.to_bytes() if signature else None,
        shingle_count=signature.shingles if signature else None))
    if signature is not None and not target.is_duplicate:
        connection.execute(insert(MinhashBand), [{"key": k, "article_id": target.id}
                                                 for k in sorted(set(band_keys(signature)))])
    connection.execute(delete(ArticleConcept).where(ArticleConcept.article_id == target.id))
    if draft.labels is not None and draft.labels.matches:
        connection.execute(insert(ArticleConcept), concept_rows(target.id, draft.labels))


def move_entry(engine: Engine, feed_id: int, entry: FeedEntry) -> None:
    """A feed now lists a known entry at another address (a retitled article's new slug)."""
    with storage_errors(engine.begin) as connection:
        connection.execute(update(Entry).where(Entry.feed_id == feed_id, Entry.guid == entry.guid).values(
            url=entry.url, link=entry.link, title=entry.title, signature=entry.signature))


def sign_entries(engine: Engine, feed_id: int, entries: Sequence[FeedEntry]) -> None:
    """Remember what the feed now says of these known entries (their title and signature)."""
    if not entries:
        return
    with storage_errors(engine.begin) as connection:
        for entry in entries:
            connection.execute(update(Entry).where(Entry.feed_id == feed_id, Entry.guid == entry.guid)
                               .values(title=entry.title, signature=entry.signature))
