"""Per-host spacing across processes: the next slot of each host lives in the database.

Airflow runs one task per feed, in parallel and perhaps on several machines; an
in-process timer cannot keep them from asking one outlet at once. Each request books
the host's next slot in a short transaction (a row lock on PostgreSQL, the write lock
on SQLite), so workers queue up behind each other in the database — no lock service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, select, update

from pipeline.storage.engine import storage_errors, upsert_insert
from pipeline.storage.schema import HostSlot


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class DatabaseHostGate:
    """A ``pipeline.fetch.HostGate`` shared by every worker using the same database."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utcnow) -> None:
        self.engine = engine
        self._clock = clock

    def reserve(self, host: str, delay: float) -> float:
        table = HostSlot.__table__
        with storage_errors(self.engine.begin) as connection:
            # The insert comes first: on SQLite it takes the write lock before anything is read.
            connection.execute(upsert_insert(connection, table).values(host=host, next_request_at=self._clock())
                               .on_conflict_do_nothing())
            booked = connection.execute(select(HostSlot.next_request_at).where(HostSlot.host == host)
                                        .with_for_update()).scalar_one()
            now = self._clock()
            slot = max(now, booked)
            connection.execute(update(HostSlot).where(HostSlot.host == host)
                               .values(next_request_at=slot + timedelta(seconds=delay)))
        return (slot - now).total_seconds()
