"""One exception tree for newswatch.

Every failure that a feed, an article or the configuration can cause is raised as one
of these, with a message that names the thing (feed, URL, variable) and the reason.
The per-feed step of a cycle catches ``NewswatchError`` and records it against the
feed or article; anything else is a bug and is allowed to surface.

    NewswatchError
    ├── SettingsError            a NEWSWATCH_* variable or a seed file is invalid
    ├── FetchError               a request did not give a usable body (has ``url``)
    │   ├── PrivateAddressError      the host resolves to a refused address (feeds, pages, alert receivers)
    │   ├── RobotsDisallowedError    robots.txt forbids the URL for our User-Agent
    │   ├── RedirectError            a redirect loop, too many hops, or a bad Location
    │   ├── FetchTimeoutError        connect, read or the total deadline expired
    │   ├── TransportError           DNS, connection reset, TLS, protocol errors
    │   ├── HTTPStatusError          4xx/5xx (``status``; ``retry_after`` for 429/503)
    │   ├── BodyTooLargeError        the body (after decompression) passed the size cap
    │   ├── DecodingError            a corrupt compressed body
    │   └── ContentTypeError         a page that is not HTML (by header or by sniffing)
    ├── FeedParseError           a feed body is not a usable RSS/Atom document
    ├── ExtractionError          an article page gave no text at all
    ├── StorageError             the article database is unreachable or not migrated
    ├── BudgetSpentError         a poll's time for pages is spent: the rest waits for the next poll
    ├── SearchQueryError         a full-text query cannot be understood (has ``query``)
    └── FeedFailedError          a feed's poll failed (raised by schedulers, e.g. Airflow tasks)
        ├── TransientFeedError       worth retrying soon: timeouts, 5xx, connections, database
        └── PermanentFeedError       not worth retrying this cycle: 4xx, bad bodies, refusals
"""

from __future__ import annotations


class NewswatchError(Exception):
    """Base of every error newswatch raises on purpose."""


class SearchQueryError(NewswatchError):
    """A search query is malformed; the message quotes it and says what is wrong."""

    def __init__(self, query: str, reason: str) -> None:
        shown = query if len(query) <= 80 else query[:80] + "…"  # an over-long one is not repeated in full
        super().__init__(f"search query {shown!r}: {reason}")
        self.query = query
        self.reason = reason


class SettingsError(NewswatchError):
    """A setting or a seed file is invalid; the message names it and the bad value."""


class FetchError(NewswatchError):
    """A request failed; ``url`` is the URL that was asked for."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class PrivateAddressError(FetchError):
    pass


class RobotsDisallowedError(FetchError):
    pass


class RedirectError(FetchError):
    pass


class FetchTimeoutError(FetchError):
    pass


class TransportError(FetchError):
    pass


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int, retry_after: float | None = None) -> None:
        reason = f"HTTP {status}"
        if retry_after is not None:
            reason += f", Retry-After {retry_after:g} s"
        super().__init__(url, reason)
        self.status = status
        self.retry_after = retry_after


class BodyTooLargeError(FetchError):
    def __init__(self, url: str, limit: int) -> None:
        super().__init__(url, f"body larger than {limit} bytes after decompression, cut off")
        self.limit = limit


class DecodingError(FetchError):
    pass


class ContentTypeError(FetchError):
    pass


class FeedParseError(NewswatchError):
    """A feed body could not be used; ``feed`` names the feed."""

    def __init__(self, feed: str, reason: str) -> None:
        super().__init__(f"feed {feed!r}: {reason}")
        self.feed = feed
        self.reason = reason


class ExtractionError(NewswatchError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class StorageError(NewswatchError):
    pass


class BudgetSpentError(NewswatchError):
    """Not a failure: the poll has spent its time (``NEWSWATCH_POLL_BUDGET``) and the page
    named here is left, unfetched, for the next poll."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class FeedFailedError(NewswatchError):
    """A feed's poll failed; already recorded against the feed when this is raised."""

    def __init__(self, feed: str, reason: str) -> None:
        reason = reason.removeprefix(f"feed {feed!r}: ")
        super().__init__(f"feed {feed!r} failed: {reason}")
        self.feed = feed
        self.reason = reason


class TransientFeedError(FeedFailedError):
    pass


class PermanentFeedError(FeedFailedError):
    pass


def is_transient(error: NewswatchError) -> bool:
    """Whether trying again in a minute or two may well succeed.

    A 429 is not: the server asked us to wait, and the feed's next poll already does.
    """
    if isinstance(error, HTTPStatusError):
        return error.status >= 500
    return isinstance(error, (FetchTimeoutError, TransportError, StorageError))
