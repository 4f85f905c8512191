"""Feed health: is a feed failing, malformed, silent for much longer than usual, or not
polled at all?

Pure rules over a feed's recent activity. The verdict always agrees with the feed's last
poll: a feed whose last poll failed is ``failing`` however recent its last success. A 304
says the body is the one last read, so it inherits that read's verdict: a body that came
with a warning keeps the feed at ``warning``, and one that could not be read at all keeps
it ``failing``. ``newswatch feeds`` and the web app assess feeds when they are read; each
poll and the daily maintenance record the verdict on the feed. Nothing here touches the
network or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

HISTORY = timedelta(days=30)  # how far back a feed's rhythm is read (the default poll retention)
RHYTHM_POLLS = 50  # the latest polls that brought entries are enough to know a feed's rhythm
SILENCE_FACTOR = 4  # quiet for four times its usual gap between new entries
MIN_SILENCE = timedelta(hours=12)
MIN_HISTORY = 4  # polls with new entries before a feed has a "usual" rhythm


@dataclass(frozen=True)
class FeedActivity:
    name: str
    enabled: bool
    interval: float
    last_polled_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    polls_last_day: int
    active_polls: tuple[datetime, ...]  # polls that brought entries (the latest RHYTHM_POLLS), oldest first
    last_status: str | None = None  # of the last poll: ok | not_modified | error
    last_read: BodyRead | None = None  # the last poll that got the feed's body


@dataclass(frozen=True)
class BodyRead:
    """A poll that got the feed's body: whether it could be read, and its error or notes."""

    at: datetime
    readable: bool
    note: str | None = None

    @property
    def warning(self) -> str | None:
        """The parser's warning about the body (notes of a readable body start with it)."""
        return self.note if self.readable and self.note and self.note.startswith("warning: ") else None


@dataclass(frozen=True)
class FeedHealth:
    feed: str
    status: str  # ok | failing | warning | silent | unpolled | new | disabled
    note: str


def assess_feed(activity: FeedActivity, now: datetime) -> FeedHealth:
    """The verdict on one feed at ``now``."""
    name = activity.name
    if not activity.enabled:
        return FeedHealth(name, "disabled", "disabled in the feed list")
    if activity.last_polled_at is None:
        return FeedHealth(name, "new", "not polled yet")
    if activity.consecutive_failures:
        since = ("never succeeded" if activity.last_success_at is None
                 else f"no success for {format_span(now - activity.last_success_at)}")
        failures = activity.consecutive_failures
        return FeedHealth(name, "failing", f"{since} ({failures} failed poll{'s' if failures > 1 else ''} in a row)")
    if activity.polls_last_day == 0:
        return FeedHealth(name, "unpolled",
                          f"no poll in the last day (last {format_span(now - activity.last_polled_at)} ago)")
    read = activity.last_read
    if read is not None and not read.readable and activity.last_status == "not_modified":
        return FeedHealth(name, "failing", f"answers 304 since its body could not be read "
                                           f"{format_span(now - read.at)} ago: {read.note}")
    if read is not None and read.warning:
        return FeedHealth(name, "warning", f"its body, as last read {format_span(now - read.at)} ago, "
                                           f"came with a {read.warning}")
    usual = usual_gap(activity.active_polls)
    if usual is not None:
        quiet = now - activity.active_polls[-1]
        limit = max(usual * SILENCE_FACTOR, MIN_SILENCE, timedelta(seconds=4 * activity.interval))
        if quiet > limit:
            return FeedHealth(name, "silent", f"no new entry for {format_span(quiet)}; "
                                              f"usually every {format_span(usual)}")
        return FeedHealth(name, "ok", f"new entries about every {format_span(usual)}")
    return FeedHealth(name, "ok", "")


def usual_gap(active_polls: tuple[datetime, ...]) -> timedelta | None:
    """The median time between polls that brought entries, once there is enough history."""
    if len(active_polls) < MIN_HISTORY:
        return None
    gaps = [later - earlier for earlier, later in zip(active_polls, active_polls[1:])]
    return median(gaps)  # type: ignore[type-var]  # timedeltas add and halve like numbers


def format_span(span: timedelta) -> str:
    """``3 d 4 h``, ``5 h 10 min``, ``12 min``: what an operator reads at a glance."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"
