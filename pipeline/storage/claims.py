"""Fetch claims: two polls at once never both fetch one page.

Before a poll fetches the pages of its new entries, it claims their URLs in one short
transaction: a URL nobody holds, or one whose claim is older than ``CLAIM_TTL`` (its
poller died), becomes the poll's; a URL another poll holds is left for the next poll,
which will find its article stored. The poll's claims end when its articles are stored
(or it fails); a crashed poller's expire. Coordination goes through the database's
unique key, so it holds across processes and machines — no lock service.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, update

from pipeline.storage.engine import storage_errors, upsert_insert
from pipeline.storage.schema import FetchClaim

CLAIM_TTL = timedelta(minutes=30)  # longer than a poll's budget and its last page


def claim_urls(engine: Engine, urls: Sequence[str], owner: str, now: datetime) -> set[str]:
    """The URLs of ``urls`` this poll may fetch: unclaimed, expired, or already its own."""
    if not urls:
        return set()
    mine: set[str] = set()
    table = FetchClaim.__table__
    with storage_errors(engine.begin) as connection:
        for chunk in _chunks(sorted(set(urls))):  # sorted: two polls lock rows in one order
            inserted = connection.execute(upsert_insert(connection, table)
                                          .values([{"url": u, "owner": owner, "claimed_at": now} for u in chunk])
                                          .on_conflict_do_nothing().returning(table.c.url))
            mine.update(inserted.scalars())
            taken = connection.execute(update(FetchClaim).where(
                FetchClaim.url.in_([u for u in chunk if u not in mine]),
                (FetchClaim.claimed_at < now - CLAIM_TTL) | (FetchClaim.owner == owner))
                .values(owner=owner, claimed_at=now).returning(FetchClaim.url))
            mine.update(taken.scalars())
    return mine


def release_urls(engine: Engine, urls: Iterable[str], owner: str) -> None:
    """Give up this poll's claims (its articles are stored, or it gave up)."""
    urls = sorted(set(urls))
    with storage_errors(engine.begin) as connection:
        for chunk in _chunks(urls):
            connection.execute(delete(FetchClaim).where(FetchClaim.url.in_(chunk), FetchClaim.owner == owner))


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
