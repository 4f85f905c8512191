"""A poll's claim on its new entries: two runs at once never both fetch one page.

Before a poll fetches the pages of its new entries it claims their URLs
(``pipeline.storage.claims``: one short transaction, through the database's unique key,
so it holds across processes and machines). Of what it asked for, it fetches what it
now holds and nobody has stored meanwhile; an entry whose article another poll stored
between this poll's first look and its claim is linked to that article; an entry another
poll holds is left for this feed's next poll, which will find it stored (or take over
the claim, if its holder died: claims expire). The claims end right after the poll's
store, or when the poll fails.

Floor 3, beside ``pipeline.run``: it composes storage calls and touches nothing else.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from pipeline.models import FeedEntry
from pipeline.storage.claims import claim_urls, release_urls
from pipeline.storage.repository import Repository


def claim_owner() -> str:
    """A name no other poll, here or on another machine, has."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def poll_owner(feed: str, run_started: datetime | None) -> str:
    """Who claims a poll's entries. A scheduler's retry of the same run (a task whose worker
    died mid-poll, say) is the same owner, so it takes its dead try's claims over at once
    instead of leaving those pages for 30 minutes; without a run, every poll is its own."""
    if run_started is None:
        return claim_owner()
    return f"run {run_started.isoformat()}/feed {feed}"


@dataclass(frozen=True)
class EntryClaim:
    """What one poll does with its new entries, once it has claimed them."""

    owner: str
    taken: list[FeedEntry]  # claimed, to fetch
    links: list[tuple[FeedEntry, int]] = field(default_factory=list)  # stored by another poll meanwhile
    held: list[FeedEntry] = field(default_factory=list)  # another poll is fetching them: the next poll's
    waiting: list[FeedEntry] = field(default_factory=list)  # past NEWSWATCH_MAX_ENTRIES: the next poll's
    known: int = 0  # this feed's entries another poll of it stored meanwhile

    def release(self, engine: Engine) -> None:
        release_urls(engine, [entry.url for entry in self.taken], self.owner)


def claim_entries(fresh: Sequence[FeedEntry], repository: Repository, feed_id: int, limit: int,
                  now: datetime, owner: str | None = None) -> EntryClaim:
    """Claim the first ``limit`` of a poll's new entries (newest first); see the module."""
    owner = owner or claim_owner()
    wanted, waiting = list(fresh[:limit]), list(fresh[limit:])
    mine = claim_urls(repository.engine, [entry.url for entry in wanted], owner, now)
    claimed = [entry for entry in wanted if entry.url in mine]
    held = [entry for entry in wanted if entry.url not in mine]
    known = repository.known_entries(feed_id, claimed) if claimed else None
    taken: list[FeedEntry] = []
    links: list[tuple[FeedEntry, int]] = []
    seen = 0
    for entry in claimed:
        if known is not None and entry.guid in known.by_guid:
            seen += 1
        elif known is not None and entry.url in known.article_by_url:
            links.append((entry, known.article_by_url[entry.url]))
        else:
            taken.append(entry)
    claim = EntryClaim(owner, taken, links, held, waiting, seen)
    stale = [entry for entry in claimed if entry not in taken]
    if stale:
        release_urls(repository.engine, [entry.url for entry in stale], owner)
    return claim
