"""The network edge: every HTTP request newswatch makes goes through ``Fetcher``.

It asks politely (one User-Agent, robots.txt for every article page, per-host spacing,
conditional GET) and defensively: every connection, on every hop of a redirect chain,
goes through ``pipeline.transport``, which resolves the host once, refuses non-global
addresses and connects to the address it checked; a total deadline bounds every attempt
(connect, headers and body, however slowly a server trickles them); bodies are
decompressed here, in bounded steps, so a compressed bomb is cut off at the size cap
instead of being inflated. Retries back off exponentially with jitter and honour
``Retry-After``.

It never parses feeds or pages and never touches the database.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from contextlib import contextmanager
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from pipeline.bodies import BoundedDecoder, check_html
from pipeline.errors import (
    BodyTooLargeError,
    BudgetSpentError,
    DecodingError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    PrivateAddressError,
    RedirectError,
    RobotsDisallowedError,
    TransportError,
)
from pipeline.models import FetchResult
from pipeline.settings import Settings
from pipeline.addresses import is_public_address  # noqa: F401  (the guard's rule, for callers)
from pipeline.transport import GuardedTransport, Resolver, request_deadline, resolve_host

log = logging.getLogger(__name__)

FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_TTL = 3600.0
MAX_CRAWL_DELAY = 30.0

def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class Fetcher:
    """An HTTP client for one cycle; use it as a context manager."""

    def __init__(self, settings: Settings, *, gate: HostGate | None = None,
                 transport: httpx.BaseTransport | None = None,
                 resolver: Resolver = resolve_host, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 jitter: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._client = httpx.Client(
            # The guarded transport checks every address it connects to; an injected one
            # (a unit test's MockTransport) is trusted as it is.
            transport=transport or GuardedTransport(settings.allowed_private_hosts, resolver),
            follow_redirects=False, trust_env=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._gate = gate or LocalHostGate(clock)
        self._robots: dict[str, tuple[float, RobotFileParser | bool]] = {}
        self.requests = 0  # how many requests went out (for summaries and benchmarks)
        self._counting = threading.Lock()  # one fetcher serves a process's lanes (pipeline.concurrency)

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch_feed(self, url: str, *, etag: str | None = None,
                   last_modified: str | None = None) -> FetchResult:
        """GET a feed, conditionally when a validator from the last poll is given."""
        headers = _conditional({"Accept": FEED_ACCEPT}, etag, last_modified)
        # A feed the operator subscribed to is fetched without consulting robots.txt, as
        # feed readers do: polling N unchanged feeds costs exactly N conditional requests.
        return self._fetch_with_retries(url, headers, robots=False)

    def fetch_page(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                   budget: Budget | None = None) -> FetchResult:
        """GET an article page (conditionally, on a re-check); refuse anything not HTML.

        With a ``budget``, BudgetSpentError instead of waiting for the host past its end,
        and no retry that would start after it."""
        result = self._fetch_with_retries(url, _conditional({"Accept": PAGE_ACCEPT}, etag, last_modified),
                                          robots=True, budget=budget)
        if not result.not_modified:
            check_html(result)
        return result

    def _fetch_with_retries(self, url: str, headers: dict[str, str], *, robots: bool,
                            budget: Budget | None = None) -> FetchResult:
        attempt = 0
        while True:
            try:
                return self._fetch_once(url, headers, robots=robots, budget=budget)
            except (FetchTimeoutError, TransportError, HTTPStatusError) as error:
                delay = self._retry_delay(error, attempt)
                if delay is None or (budget is not None and budget.remaining() < delay):
                    raise
                log.info("retry url=%s reason=%r in=%.1fs", url, error.reason, delay)
                self._sleep(delay)
                attempt += 1

    def _retry_delay(self, error: FetchError, attempt: int) -> float | None:
        """Seconds before the next attempt, or None when it is not worth retrying."""
        if attempt >= self.settings.fetch_retries:
            return None
        if isinstance(error, HTTPStatusError):
            if error.status not in RETRY_STATUSES:
                return None
            if error.retry_after is not None:
                # A server asking for more patience than one cycle has is not waited for
                # here; the feed's next poll is put after it instead.
                return error.retry_after if error.retry_after <= self.settings.max_retry_after else None
        base = self.settings.retry_backoff * (2 ** attempt)
        return base * (0.5 + 0.5 * self._jitter())

    def _fetch_once(self, url: str, headers: dict[str, str], *, robots: bool,
                    limit: int | None = None, budget: Budget | None = None) -> FetchResult:
        limit = limit or self.settings.max_body_bytes
        deadline = self._clock() + self.settings.fetch_timeout
        started = self._clock()
        chain: list[str] = []
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            check_url(current)
            if robots:
                self._check_robots(current)
            self._wait_for_host(current, budget)
            with self._stream(current, headers, deadline) as response:
                status = response.status_code
                if status in REDIRECT_STATUSES:
                    chain.append(current)
                    current = self._next_hop(current, response, chain)
                    continue
                if status == 304:
                    log.info("fetch url=%s status=304", current)
                    return FetchResult(url, current, 304, not_modified=True,
                                       etag=response.headers.get("etag"),
                                       last_modified=response.headers.get("last-modified"),
                                       elapsed=self._clock() - started, redirects=tuple(chain))
                if status >= 400:
                    log.info("fetch url=%s status=%d", current, status)
                    raise HTTPStatusError(current, status,
                                          parse_retry_after(response.headers.get("retry-after")))
                body = self._read_body(response, current, deadline, limit)
                log.info("fetch url=%s status=%d bytes=%d", current, status, len(body))
                return FetchResult(
                    url, current, status, body,
                    content_type=response.headers.get("content-type", ""),
                    charset=response.charset_encoding,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                    elapsed=self._clock() - started, redirects=tuple(chain))
        raise RedirectError(url, f"more than {self.settings.max_redirects} redirects")

    @contextmanager
    def _stream(self, url: str, headers: dict[str, str], deadline: float) -> Iterator[httpx.Response]:
        remaining = max(0.001, deadline - self._clock())
        timeout = httpx.Timeout(remaining, connect=min(self.settings.connect_timeout, remaining))
        with self._counting:
            self.requests += 1
        with _httpx_errors(url), request_deadline(remaining), \
                self._client.stream("GET", url, headers=headers, timeout=timeout) as response:
            yield response

    def _next_hop(self, current: str, response: httpx.Response, chain: list[str]) -> str:
        location = response.headers.get("location")
        if not location:
            raise RedirectError(current, f"HTTP {response.status_code} without a Location header")
        target = urljoin(current, location.strip())
        if urlsplit(target).scheme not in ("http", "https"):
            raise RedirectError(current, f"redirect to a non-HTTP URL {target!r}")
        if target in chain:
            raise RedirectError(chain[0], f"redirect loop at {target}")
        log.debug("redirect url=%s to=%s status=%d", current, target, response.status_code)
        return target

    def _wait_for_host(self, url: str, budget: Budget | None = None) -> None:
        delay = max(self.settings.host_delay, self._crawl_delay(url))
        if delay <= 0:
            return
        for _ in range(3):
            wait = self._gate.reserve(urlsplit(url).netloc.lower(), delay)
            if wait <= 0:
                return
            if budget is not None and budget.remaining() < wait:
                raise BudgetSpentError(url, f"the poll's time is spent before the host's next slot in {wait:.0f} s")
            due = time.monotonic() + wait
            self._sleep(wait)
            if time.monotonic() - due < delay / 4:
                return
            # Woke too late (a busy machine): the next worker's slot may be now; book again.

    def _robots_key(self, url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.lower()}"

    def _robots_rules(self, url: str) -> RobotFileParser | bool:
        """Parsed rules for the URL's site; True = allow all, False = disallow all."""
        key = self._robots_key(url)
        cached = self._robots.get(key)
        if cached and self._clock() - cached[0] < ROBOTS_TTL:
            return cached[1]
        rules: RobotFileParser | bool
        try:
            result = self._fetch_once(key + "/robots.txt", {"Accept": "text/plain"},
                                      robots=False, limit=ROBOTS_MAX_BYTES)
            rules = RobotFileParser()
            rules.parse(result.body.decode("utf-8", "replace").splitlines())
        except HTTPStatusError as error:
            # RFC 9309: a 4xx means there are no rules; a 5xx means assume everything is disallowed.
            rules = error.status < 500
        except BodyTooLargeError:
            rules = True
        except (FetchTimeoutError, TransportError, RedirectError, DecodingError):
            rules = False
        self._robots[key] = (self._clock(), rules)
        return rules

    def _check_robots(self, url: str) -> None:
        rules = self._robots_rules(url)
        allowed = rules if isinstance(rules, bool) else rules.can_fetch(self.settings.user_agent, url)
        if not allowed:
            raise RobotsDisallowedError(url, "disallowed by robots.txt")

    def _crawl_delay(self, url: str) -> float:
        cached = self._robots.get(self._robots_key(url))
        if not cached or isinstance(cached[1], bool):
            return 0.0
        delay = cached[1].crawl_delay(self.settings.user_agent)
        return min(float(delay), MAX_CRAWL_DELAY) if delay else 0.0

    def _read_body(self, response: httpx.Response, url: str, deadline: float, limit: int) -> bytes:
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if declared.isdigit() and encoding in ("", "identity") and int(declared) > limit:
            raise BodyTooLargeError(url, limit)
        decoder = BoundedDecoder(encoding, url, limit)
        for chunk in response.iter_raw():
            if self._clock() > deadline:
                raise FetchTimeoutError(url, f"body not complete within {self.settings.fetch_timeout:g} s")
            decoder.feed(chunk)
        return decoder.finish()


@dataclass(frozen=True)
class Budget:
    """How long one poll may go on fetching pages (a ``time.monotonic`` deadline)."""

    until: float

    @classmethod
    def of(cls, seconds: float) -> "Budget":
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.until - time.monotonic()

    def is_spent(self) -> bool:
        return self.remaining() <= 0


class HostGate(Protocol):
    """Spaces requests to one host; shared by every fetcher that uses the same gate."""

    def reserve(self, host: str, delay: float) -> float:
        """Book the host's next slot, ``delay`` seconds after the last; seconds to wait for it."""


class LocalHostGate:
    """Spacing within one process (``pipeline.storage.hostgate`` spaces across processes)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._next: dict[str, float] = {}

    def reserve(self, host: str, delay: float) -> float:
        now = self._clock()
        slot = max(now, self._next.get(host, now))
        self._next[host] = slot + delay
        return slot - now


def check_url(url: str) -> None:
    """Raise FetchError unless ``url`` is an http(s) URL with a host (addresses are checked
    by the transport, on the very address it connects to)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(url, "not an http(s) URL")


def _conditional(headers: dict[str, str], etag: str | None, last_modified: str | None) -> dict[str, str]:
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


@contextmanager
def _httpx_errors(url: str) -> Iterator[None]:
    """Turn httpx's exceptions into ours, naming the URL."""
    try:
        yield
    except PrivateAddressError as error:  # raised by the transport, naming only the host
        raise PrivateAddressError(url, error.reason) from None
    except httpx.TimeoutException as error:
        raise FetchTimeoutError(url, f"timed out ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise TransportError(url, f"{type(error).__name__}: {error}") from None
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        raise FetchError(url, f"{type(error).__name__}: {error}") from None
