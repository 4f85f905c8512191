"""The per-outlet boilerplate memory in the database, and the articles it cleans afterwards.

``recall_memory`` reads, once per poll and by primary key, the counts of the fingerprints
the poll's pages hold. ``remember_paragraphs`` runs in the poll's transaction: each new
article adds one to the count of every distinct paragraph it had (a multi-row upsert, in
fingerprint order so that two workers lock rows alike), and the counts come back as the
database holds them after every worker's poll before this one.

A paragraph becomes boilerplate when its count reaches the threshold, and the articles
stored before that moment still hold it: the outlet's articles since the paragraph was
first seen (and this poll's, if another worker's poll pushed it over meanwhile) are
cleaned then, in the same transaction — text, word count, text hash, exact-duplicate key
and search index. Their labels, story and MinHash stay as first computed. So once the
memory has settled, an article's stored text does not depend on the order its outlet's
feeds were polled in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, case, delete, select, update

from pipeline.boilerplate import RECENT, OutletMemory, clean_text
from pipeline.dedup import fingerprint_text
from pipeline.models import ArticleDraft
from pipeline.storage.engine import storage_errors, upsert_insert
from pipeline.storage.schema import Article, OutletParagraph
from pipeline.storage.search import index_articles

BATCH = 500
RECLEAN_LIMIT = 1000  # earlier articles cleaned at most when a paragraph becomes boilerplate (the newest)
_TABLE = OutletParagraph.__table__


def recall_memory(engine: Engine, outlet: str, fingerprints: Sequence[str], *, now: datetime,
                  min_articles: int) -> OutletMemory:
    """The outlet's counts of ``fingerprints``, as far as they were seen within ``RECENT``."""
    counts: dict[str, int] = {}
    wanted = sorted(set(fingerprints)) if min_articles > 0 else []
    with storage_errors(engine.connect) as connection:
        for start in range(0, len(wanted), BATCH):
            counts.update(connection.execute(select(OutletParagraph.fingerprint, OutletParagraph.articles).where(
                OutletParagraph.outlet == outlet, OutletParagraph.fingerprint.in_(wanted[start:start + BATCH]),
                OutletParagraph.last_seen_at >= now - RECENT)).all())
    return OutletMemory(counts, min_articles)


def remember_paragraphs(connection: Connection, outlet: str, created: Mapping[int, ArticleDraft],
                        now: datetime, min_articles: int) -> tuple[int, ...]:
    """Count the new articles' paragraphs in the outlet's memory, then clean what is
    boilerplate now from these articles and, for a paragraph that just became boilerplate,
    from the outlet's earlier ones; the ids of the articles cleaned."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for draft in created.values():
        for fingerprint, example in draft.paragraphs:
            counts[fingerprint] += 1
            examples.setdefault(fingerprint, example)
    if min_articles <= 0 or not counts:
        return ()
    after = _add_counts(connection, outlet, counts, examples, now)
    memory = OutletMemory({fingerprint: articles for fingerprint, (articles, _) in after.items()}, min_articles)
    crossed = [first for fingerprint, (articles, first) in after.items()
               if articles >= min_articles > articles - counts[fingerprint]]
    # This poll's drafts were cleaned with the counts read before it; another worker may
    # have pushed a paragraph over the threshold since.
    stale = {article_id for article_id, draft in created.items()
             if draft.paragraphs and clean_text(draft.extracted.text, memory).changed}
    if crossed:
        stale.update(_articles_since(connection, outlet, min(crossed)))
    return _clean_articles(connection, sorted(stale), memory)


def _add_counts(connection: Connection, outlet: str, counts: Mapping[str, int], examples: Mapping[str, str],
                now: datetime) -> dict[str, tuple[int, datetime]]:
    """Upsert the counts; fingerprint → (articles, first seen) after it. A paragraph
    unseen for longer than RECENT starts again from this poll's count."""
    rows = [{"outlet": outlet, "fingerprint": fingerprint, "articles": count, "first_seen_at": now,
             "last_seen_at": now, "example": examples[fingerprint]} for fingerprint, count in sorted(counts.items())]
    if not rows:
        return {}
    statement = upsert_insert(connection, _TABLE)  # one statement for all rows: compiled once, cached
    new, old = statement.excluded, _TABLE.c
    gone = old.last_seen_at < now - RECENT
    statement = statement.on_conflict_do_update(index_elements=["outlet", "fingerprint"], set_={
        "articles": case((gone, new.articles), else_=old.articles + new.articles),
        "first_seen_at": case((gone, new.first_seen_at), (new.first_seen_at < old.first_seen_at,
                                                          new.first_seen_at), else_=old.first_seen_at),
        "last_seen_at": case((new.last_seen_at > old.last_seen_at, new.last_seen_at), else_=old.last_seen_at),
        "example": case((gone, new.example), else_=old.example),
    }).returning(old.fingerprint, old.articles, old.first_seen_at)
    # executemany, sent by SQLAlchemy in batches within the database's limit on bound parameters
    return {fingerprint: (articles, first) for fingerprint, articles, first in connection.execute(statement, rows)}


def _articles_since(connection: Connection, outlet: str, since: datetime) -> list[int]:
    return list(connection.execute(select(Article.id).where(
        Article.outlet == outlet, Article.first_seen_at >= since, Article.text_source == "page",
        Article.is_baseline.is_(False)).order_by(Article.first_seen_at.desc(), Article.id.desc())
        .limit(RECLEAN_LIMIT)).scalars())


def _clean_articles(connection: Connection, ids: Sequence[int], memory: OutletMemory) -> tuple[int, ...]:
    """Clean the stored text of these articles with ``memory``; the ids whose text changed."""
    changed: list[int] = []
    for start in range(0, len(ids), BATCH):
        rows = connection.execute(select(Article.id, Article.text).where(Article.id.in_(ids[start:start + BATCH])))
        for article_id, text in rows.all():
            cleaned = clean_text(text, memory)
            if cleaned.changed:
                _store_text(connection, article_id, cleaned.text)
                changed.append(article_id)
    index_articles(connection, changed)
    return tuple(changed)


def _store_text(connection: Connection, article_id: int, text: str) -> None:
    """The article's new text with its hash and word count; its exact-duplicate key too,
    unless another article's text is already this one."""
    fingerprint = fingerprint_text(text, from_page=True)
    key = fingerprint.dedup_key
    if key is not None and connection.execute(
            select(Article.id).where(Article.dedup_key == key, Article.id != article_id)).first():
        key = None
    connection.execute(update(Article).where(Article.id == article_id).values(
        text=text, word_count=fingerprint.word_count, text_sha256=fingerprint.text_sha256, dedup_key=key))


def forget_paragraphs(engine: Engine, before: datetime) -> int:
    """Delete the memory of paragraphs last seen before ``before`` (they count from zero
    anyway when they come back); how many."""
    with storage_errors(engine.begin) as connection:
        result = connection.execute(delete(OutletParagraph).where(OutletParagraph.last_seen_at < before))
    return result.rowcount or 0
