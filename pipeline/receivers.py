"""Alert receivers at arm's length: how far one delivery lets a receiver take newswatch.

Apprise's plugins open their connections themselves — HTTP through ``requests``
(``requests.post``, a session of their own per call), mail through ``smtplib`` — and would
follow any redirect, read a whole answer into memory and wait as long as a receiver
trickles bytes. While ``guard_delivery`` is open, the connections made in its context
(this thread, and the Apprise workers it starts, which inherit the context) are ours:

- the receiver's host is resolved once (at most ``RESOLVE_TIMEOUT``), refused if any of its
  addresses is not public (``pipeline.addresses``; ``NEWSWATCH_ALLOWED_PRIVATE_HOSTS``
  exempts, as for the fetcher), and the connection goes to the very address that was
  checked (Apprise's ``HTTPPolicy`` pins it and checks the peer);
- a redirect is never followed: a 3xx answer fails the delivery, saying where it pointed;
- at most ``MAX_ANSWER_BYTES`` of an answer are read (any API's reply, an error's start);
- every connection is shut down when ``NEWSWATCH_DELIVERY_TIMEOUT`` is over, so connecting,
  headers and body together (or a mail server's whole dialogue) cannot outlast it;
- no proxy from the environment is used: it would resolve and connect where we cannot look.

Services that speak neither HTTP nor SMTP (XMPP, MQTT, IRC, …) open sockets we cannot
reach: Apprise stops waiting for them at the deadline, and nothing more.

The hooks: ``requests.Session.send`` and ``smtplib.SMTP._get_socket`` (where smtplib opens
its socket, for plain SMTP and SMTP over TLS alike) are swapped for routers while at least
one delivery is guarded, and put back when the last one ends (counted under a lock). A
router takes a connection made in a guarded context to its guard, and any other — other
code, other threads — to the library's own function, untouched.

It never composes messages, picks targets or touches the database.
"""

from __future__ import annotations

import contextlib
import contextvars
import smtplib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests
from apprise.utils.http import ConnectionTracker, HTTPPolicy, HTTPPolicySession, track_connections
from requests.hooks import dispatch_hook

from pipeline.addresses import check_addresses
from pipeline.delivery import redact_url
from pipeline.errors import PrivateAddressError
from pipeline.settings import PrivateHostAllowance, Settings

MAX_ANSWER_BYTES = 64 * 1024
RESOLVE_TIMEOUT = 5.0  # at most; never past the deadline

_GUARD: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("newswatch_delivery_guard", default=None)


@dataclass
class Guard:
    """One delivery's limits, and what a receiver did that broke them."""

    allowance: PrivateHostAllowance
    timeout: float
    deadline: float  # on time.monotonic()'s clock
    tracker: ConnectionTracker = field(default_factory=ConnectionTracker)  # HTTP connections, cut by Apprise
    refusals: list[str] = field(default_factory=list)
    mail_sockets: list[socket.socket] = field(default_factory=list)  # copies, to shut mail connections down
    watchdog: threading.Timer | None = None  # cuts the mail connections at the deadline
    mail_cut: bool = False

    @property
    def reason(self) -> str | None:
        """Why the delivery failed whatever the service made of it; None if nothing broke a limit."""
        if self.refusals:
            return self.refusals[0]
        if self.tracker.expired or self.mail_cut:
            return self.overtime()
        return None

    def overtime(self) -> str:
        return f"no complete answer within {self.timeout:g} s (NEWSWATCH_DELIVERY_TIMEOUT); cut off"

    def remaining(self) -> float:
        """Seconds left; none left is a refusal (the service sees a timeout)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.refusals.append(self.overtime())
            raise socket.timeout(self.overtime())
        return left

    def send(self, request: requests.PreparedRequest, options: dict[str, Any]) -> requests.Response:
        """Send one HTTP request a service made, within the limits."""
        try:
            remaining = self.remaining()
        except socket.timeout as error:
            raise requests.exceptions.Timeout(str(error), request=request) from None
        with HTTPPolicySession(_CheckedPolicy(self, min(RESOLVE_TIMEOUT, remaining))) as session:
            # The adapter itself, not Session.send: that would read a whole redirect's body
            # to release its connection, even when it is not to follow it.
            adapter = session.get_adapter(request.url or "")
            response = adapter.send(request, stream=True, timeout=_within(options.get("timeout"), remaining),
                                    verify=options.get("verify", True), cert=options.get("cert"), proxies={})
            self._read_answer(response)
        if 300 <= response.status_code < 400:
            self.refusals.append(_redirect_reason(request.url or "", response))
        return dispatch_hook("response", request.hooks, response)

    def _read_answer(self, response: requests.Response) -> None:
        """Read at most MAX_ANSWER_BYTES, then close; what was read becomes the answer's content."""
        kept: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=16 * 1024):
                kept.append(chunk[:MAX_ANSWER_BYTES - size])
                size += len(kept[-1])
                if size >= MAX_ANSWER_BYTES:
                    break
                if time.monotonic() >= self.deadline:
                    self.refusals.append(self.overtime())
                    raise requests.exceptions.Timeout(self.overtime(), request=response.request)
        finally:
            response.close()  # unread bytes go with the connection, never drained
        response._content = b"".join(kept)  # as requests keeps a body it has read itself
        response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag, not in its stubs

    def open_mail_socket(self, host: str, port: int, timeout: float | None) -> socket.socket:
        """Connect to a mail server as ``socket.create_connection`` would, within the limits."""
        remaining = self.remaining()
        policy = _CheckedPolicy(self, min(RESOLVE_TIMEOUT, remaining))
        sock = policy.create_connection(host, port, timeout=min(timeout or remaining, remaining))
        # A copy reaches the connection even once smtplib has wrapped the socket in TLS.
        self.mail_sockets.append(sock.dup())
        if self.mail_cut:  # opened as the deadline passed: too late
            self.cut_mail()
        elif self.watchdog is None:
            self.watchdog = threading.Timer(max(0.0, self.deadline - time.monotonic()), self.cut_mail)
            self.watchdog.daemon = True
            self.watchdog.start()
        return sock

    def cut_mail(self) -> None:
        """Shut every mail connection down: a read waiting on one ends at once."""
        self.mail_cut = True
        for copy in self.mail_sockets:
            with contextlib.suppress(OSError):  # already closed by its owner: nothing left to cut
                copy.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        for copy in self.mail_sockets:
            copy.close()


@contextmanager
def guard_delivery(settings: Settings) -> Iterator[Guard]:
    """Hold every connection made in this context to the limits until the block ends."""
    guard = Guard(settings.allowed_private_hosts, settings.delivery_timeout,
                  time.monotonic() + settings.delivery_timeout)
    token = _GUARD.set(guard)
    try:
        with _HOOKS, track_connections(guard.tracker, guard.deadline):
            yield guard
    finally:
        guard.close()
        _GUARD.reset(token)


def is_guarded(service: Any) -> bool:
    """Whether the guard reaches an Apprise service's connections: HTTP (its class, or a
    class it is built on, uses ``requests``) or mail (it has an SMTP server)."""
    return bool(getattr(service, "smtp_host", None)) or any(
        getattr(sys.modules.get(cls.__module__), "requests", None) is requests for cls in type(service).__mro__)


def _route_send(session: requests.Session, request: requests.PreparedRequest,
                **options: Any) -> requests.Response:
    guard = _GUARD.get()
    if guard is None:
        return _HOOKS.originals["send"](session, request, **options)
    return guard.send(request, options)


def _route_mail(smtp: smtplib.SMTP, host: str, port: int, timeout: float | None) -> socket.socket:
    guard = _GUARD.get()
    if guard is None:
        return _HOOKS.originals["mail"](smtp, host, port, timeout)
    return guard.open_mail_socket(host, port, timeout)


class _Hooks:
    """The routers in place while any delivery is guarded, the libraries' own functions
    otherwise. Used as a context manager, once per guarded delivery."""

    PLACES = {"send": (requests.Session, "send", _route_send), "mail": (smtplib.SMTP, "_get_socket", _route_mail)}

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self.originals = {name: getattr(owner, attribute) for name, (owner, attribute, _) in self.PLACES.items()}

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                for name, (owner, attribute, router) in self.PLACES.items():
                    self.originals[name] = getattr(owner, attribute)
                    setattr(owner, attribute, router)
            self._users += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                for name, (owner, attribute, router) in self.PLACES.items():
                    if getattr(owner, attribute) is router:  # not replaced since by someone else
                        setattr(owner, attribute, self.originals[name])


_HOOKS = _Hooks()


class _CheckedPolicy(HTTPPolicy):
    """Apprise's pinning policy under newswatch's rule: every address of the host must pass."""

    def __init__(self, guard: Guard, resolve_timeout: float) -> None:
        super().__init__(resolve_timeout=resolve_timeout)
        self.guard = guard

    def resolve(self, host: str, port: int) -> list:
        answers = super().resolve(host, port)
        try:
            check_addresses(f"{host}:{port}", host, [answer[4][0] for answer in answers], self.guard.allowance)
        except PrivateAddressError as error:
            self.guard.refusals.append(error.reason)
            raise socket.gaierror(socket.EAI_NONAME, error.reason) from None
        return answers


def _within(timeout: Any, remaining: float) -> tuple[float, float]:
    """A service's (connect, read) timeouts, none of them past the deadline."""
    if isinstance(timeout, (int, float)):
        timeout = (timeout, timeout)
    connect, read = timeout if isinstance(timeout, tuple) else (None, None)
    return min(connect or remaining, remaining), min(read or remaining, remaining)


def _redirect_reason(url: str, response: requests.Response) -> str:
    location = response.headers.get("location")
    if not location:
        return f"receiver answered HTTP {response.status_code} (a redirect with no Location); not followed"
    return (f"receiver redirected to {redact_url(urljoin(url, location.strip()))} "
            f"(HTTP {response.status_code}); not followed")
