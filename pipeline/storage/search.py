"""Full-text search in the database's own engine: SQLite FTS5, PostgreSQL tsvector + GIN.

``index_articles`` writes an article's terms (``pipeline.fulltext``) in the transaction
that stores or changes it; ``search_articles`` matches a query against them with the
same filters on both databases, ranked by relevance or by date. SQLite ranks with FTS5's
bm25 over title and text (the title counts four times); PostgreSQL with ts_rank over the
title (weight A) and the lead, a vector small enough to stay in the row: ranking by the
whole text would decompress every matching article's vector, and a common word matches
thousands (ts_rank_cd, cover density, tripled the time of such searches). Both databases
match the same terms, so a query finds the same set on each; only the order of equal
ranks and the ranking formula differ.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (Column, Connection, Engine, Float, MetaData, Select, bindparam, cast, column, func,
                        literal_column, select, table)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR

from pipeline.fulltext import index_text, parse_query, passage, to_fts5, to_tsquery, wanted_terms
from pipeline.storage.engine import storage_errors, upsert_insert
from pipeline.storage.queries import article_conditions, published_or_seen, topics_of
from pipeline.storage.schema import Article, ArticleSearch

ORDERS = ("relevance", "date")
TITLE_WEIGHT = 4.0  # a word in the title counts four times one in the text (bm25 column weight)
LANGUAGE_CACHE_SECONDS = 300.0

_FTS = table("article_search_fts", column("rowid"))
# PostgreSQL's article_search: the mapped table and the two vectors migration 0005 adds there only.
_PG_SEARCH = ArticleSearch.metadata.tables[ArticleSearch.__tablename__].to_metadata(MetaData())
_PG_SEARCH.append_column(Column("document", TSVECTOR))
_PG_SEARCH.append_column(Column("lead", TSVECTOR))
_languages_seen: dict[str, tuple[float, tuple[str, ...]]] = {}


@dataclass(frozen=True)
class SearchFilter:
    language: str | None = None
    outlet: str | None = None
    topic: str | None = None
    story_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_similarity: float | None = None
    max_similarity: float | None = None


@dataclass(frozen=True)
class SearchHit:
    id: int
    title: str
    url: str
    outlet: str
    language: str
    published_at: datetime | None
    first_seen_at: datetime
    story_id: int | None
    duplicate_of: int | None
    baseline_similarity: float | None
    topics: list[str]
    snippet: str
    rank: float
    marks: tuple[tuple[int, int], ...] = ()  # where in the snippet the query's words are


@dataclass(frozen=True)
class SearchResults:
    query: str
    total: int
    hits: list[SearchHit]


def index_articles(connection: Connection, article_ids: Iterable[int]) -> None:
    """(Re)index these articles from their stored title, text and language."""
    ids = sorted(set(article_ids))
    for start in range(0, len(ids), 200):
        rows = connection.execute(select(Article.id, Article.title, Article.text, Article.language,
                                         Article.published_at, Article.first_seen_at)
                                  .where(Article.id.in_(ids[start:start + 200]))).all()
        values = [_index_row(row, connection.dialect.name == "postgresql") for row in rows]
        if values:
            _upsert_index(connection, values)


def _index_row(row: Any, postgres: bool) -> dict[str, Any]:
    indexed = index_text(row.title or "", row.text or "", row.language)
    values = {"article_id": row.id, "language": row.language, "published_at": row.published_at or row.first_seen_at,
              "title_terms": indexed.title_terms, "body_terms": indexed.body_terms}
    if postgres:
        values.update(document=indexed.tsvector(), lead=indexed.lead_tsvector())
    return values


def _upsert_index(connection: Connection, values: list[dict[str, Any]]) -> None:
    target = _PG_SEARCH if connection.dialect.name == "postgresql" else ArticleSearch.__table__
    statement = upsert_insert(connection, target)  # executemany: compiled once, cached
    updated = {name: statement.excluded[name] for name in values[0] if name != "article_id"}
    connection.execute(statement.on_conflict_do_update(index_elements=["article_id"], set_=updated), values)


def search_articles(engine: Engine, query: str, where: SearchFilter = SearchFilter(), *,
                    order: str = "relevance", limit: int = 20, offset: int = 0) -> SearchResults:
    """Articles matching ``query`` (every article when it is blank) and ``where``: the
    total and one page of hits. Raises SearchQueryError for a malformed query."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    with storage_errors(engine.connect) as connection:
        languages = (where.language,) if where.language else searched_languages(engine, connection)
        tree = parse_query(query, languages) if query.strip() else None
        page = _page(connection, tree, where, order)
        ranked = connection.execute(page.limit(limit).offset(offset)).all()
        if ranked:
            total = ranked[0].total
        else:  # a page past the end: count on its own
            total = connection.execute(select(func.count()).select_from(page.subquery())).scalar_one()
        hits = _hits(connection, ranked, wanted_terms(tree) if tree is not None else set())
    return SearchResults(query=query, total=total, hits=hits)


def searched_languages(engine: Engine, connection: Connection) -> tuple[str, ...]:
    """The languages the articles are in (a query word is stemmed for each), kept for a
    few minutes per database."""
    key = engine.url.render_as_string(hide_password=True)
    seen = _languages_seen.get(key)
    if seen is None or time.monotonic() - seen[0] > LANGUAGE_CACHE_SECONDS:
        languages = tuple(connection.execute(select(Article.language).distinct()).scalars())
        seen = _languages_seen[key] = (time.monotonic(), languages)
    return seen[1]


def _page(connection: Connection, tree: Any, where: SearchFilter, order: str) -> Select:
    """The search as one statement: id, rank and the total of every match, in order.
    Language and dates are filtered in the index itself; ranked by relevance with no
    other filter, the matches need not meet the articles at all (ties go to the newer
    article, the larger id)."""
    if tree is None:
        statement = select(Article.id, literal_column("0.0", Float).label("rank"), _total())
        return _filtered(statement, where).order_by(*_newest())
    hits = _matches(connection, tree, where)
    rest = replace(where, language=None, since=None, until=None)  # what the index cannot filter
    if order == "relevance" and rest == SearchFilter():
        return (select(hits.c.article_id.label("id"), hits.c.rank, _total())
                .order_by(hits.c.rank.desc(), hits.c.article_id.desc()))
    statement = select(Article.id, hits.c.rank, _total()).join_from(hits, Article, Article.id == hits.c.article_id)
    ordering = (hits.c.rank.desc(), Article.id.desc()) if order == "relevance" else _newest()
    return _filtered(statement, rest).order_by(*ordering)


def _total() -> Any:
    return func.count().over().label("total")


def _newest() -> tuple[Any, Any]:
    return published_or_seen().desc(), Article.id.desc()


def _matches(connection: Connection, tree: Any, where: SearchFilter) -> Any:
    """The matching articles' ids and ranks (larger is better), from the full-text index
    alone, as a materialized CTE: they come first, then meet the articles and filters."""
    if connection.dialect.name == "postgresql":
        # PostgreSQL's planner prices a sequential scan without the cost of decompressing
        # each article's vector, and picks it for common words (10x slower than the GIN
        # index at 100,000 articles): the matches are found first, through the index.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        query = cast(bindparam("tsquery", to_tsquery(tree)), TSQUERY)
        found = (select(_PG_SEARCH.c.article_id, func.ts_rank(_PG_SEARCH.c.lead, query).label("rank"))
                 .where(_PG_SEARCH.c.document.op("@@")(query)))
        indexed: Any = _PG_SEARCH.c  # the columns the filters read: the same names in either table
    else:
        fts: Any = literal_column("article_search_fts")
        indexed = ArticleSearch.__table__.c
        found = (select(_FTS.c.rowid.label("article_id"), (-func.bm25(fts, TITLE_WEIGHT, 1.0)).label("rank"))
                 .where(fts.op("MATCH")(bindparam("fts", to_fts5(tree)))))
        if where.language or where.since or where.until:
            found = found.join(ArticleSearch, ArticleSearch.article_id == _FTS.c.rowid)
    conditions = [indexed.language == where.language if where.language else None,
                  indexed.published_at >= where.since if where.since else None,
                  indexed.published_at < where.until if where.until else None]
    return found.where(*[c for c in conditions if c is not None]).cte("hits").prefix_with("MATERIALIZED")


def _filtered(statement: Select, where: SearchFilter) -> Select:
    conditions = [
        Article.story_id == where.story_id if where.story_id is not None else None,
        Article.baseline_similarity >= where.min_similarity if where.min_similarity is not None else None,
        Article.baseline_similarity <= where.max_similarity if where.max_similarity is not None else None,
    ]
    return statement.where(*article_conditions(language=where.language, outlet=where.outlet, topic=where.topic,
                                               since=where.since, until=where.until),
                           *[c for c in conditions if c is not None])


def _hits(connection: Connection, ranked: Sequence[Any], terms: set[str]) -> list[SearchHit]:
    ids = [row.id for row in ranked]
    if not ids:
        return []
    articles = {a.id: a for a in connection.execute(select(Article.__table__).where(Article.id.in_(ids)))}
    topics = topics_of(connection, ids)
    return [_hit(articles[row.id], topics.get(row.id, []), terms, float(row.rank))
            for row in ranked if row.id in articles]  # an article deleted as the search ran


def _hit(article: Any, topics: list[str], terms: set[str], rank: float) -> SearchHit:
    shown = passage(article.text, article.language, terms)
    return SearchHit(
        id=article.id, title=article.title, url=article.url, outlet=article.outlet,
        language=article.language, published_at=article.published_at,
        first_seen_at=article.first_seen_at, story_id=article.story_id,
        duplicate_of=article.duplicate_of, baseline_similarity=article.baseline_similarity,
        topics=topics, snippet=shown.text, marks=shown.marks, rank=rank)

