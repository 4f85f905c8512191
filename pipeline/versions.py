"""Versions: what changed between two fetches of one article, and when to look again.

Recent articles are re-checked on a decaying schedule — soon after they appear, then
at doubling intervals, until they are old enough to be left alone. A change of title or
text is a new version; what changed is kept: the title before and after, the paragraphs
added and removed. Nothing here touches the network or the database.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_CHECKS = 20


@dataclass(frozen=True)
class Change:
    title_before: str
    title_after: str
    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def title_changed(self) -> bool:
        return self.title_before != self.title_after

    def as_dict(self) -> dict:
        return {"title_before": self.title_before, "title_after": self.title_after,
                "added": list(self.added), "removed": list(self.removed)}


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def diff_versions(title_before: str, text_before: str, title_after: str, text_after: str) -> Change:
    """Paragraphs added and removed between two texts, in reading order."""
    before, after = paragraphs(text_before), paragraphs(text_after)
    added: list[str] = []
    removed: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op in ("replace", "delete"):
            removed.extend(before[a1:a2])
        if op in ("replace", "insert"):
            added.extend(after[b1:b2])
    return Change(title_before, title_after, tuple(added), tuple(removed))


def next_check_at(first_seen: datetime, checks_done: int, now: datetime, *, first: float,
                  until: float) -> datetime | None:
    """When to look at an article again after ``checks_done`` checks; None: leave it be.

    Gaps double: with ``first`` = 30 min the checks fall 30 min, 1.5 h, 3.5 h, 7.5 h …
    after the article was first seen, as long as that is within ``until`` of it.
    """
    if checks_done >= MAX_CHECKS:
        return None
    offset = timedelta(seconds=first * (2 ** (checks_done + 1) - 1))
    if offset > timedelta(seconds=until):
        return None
    return max(now, first_seen + offset)
