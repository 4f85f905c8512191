"""The connection layer under ``Fetcher``: which addresses may be reached, and how long a
request may take.

Every connection resolves its host once, checks each address it got against the address
guard (``pipeline.addresses``: nothing that is not global unicast), and connects to the
address it checked — never to whatever a second lookup says — so
neither DNS rebinding nor a difference between two IDNA encodings can slip a request
past the check. The host name itself still goes into TLS (SNI) and the Host header.

Every socket operation of a request (connect, TLS handshake, sending, each read of the
headers and the body) waits at most until the request's deadline: a server that sends one
byte at a time cannot stretch a request past ``NEWSWATCH_FETCH_TIMEOUT``.

It makes no request of its own and knows nothing of feeds, pages or the database.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

from pipeline.addresses import Address, check_addresses
from pipeline.errors import PrivateAddressError  # noqa: F401  (raised through check_addresses)
from pipeline.settings import PrivateHostAllowance

Resolver = Callable[[str, int], list[str]]

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("newswatch_deadline", default=None)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@contextmanager
def request_deadline(seconds: float) -> Iterator[float]:
    """Bound every socket operation inside the block to ``seconds`` from now (monotonic)."""
    deadline = time.monotonic() + seconds
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """The socket timeout for one operation: the caller's, cut to what the deadline leaves."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the request's total deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


class GuardedStream(httpcore.NetworkStream):
    """A socket whose every operation respects the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout))
        return GuardedStream(inner)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Resolves once, refuses what the allowance does not permit, connects to the checked address."""

    def __init__(self, allowance: PrivateHostAllowance, resolver: Resolver = resolve_host) -> None:
        self._allowance = allowance
        self._resolve = resolver
        self._plain = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in self.checked_addresses(host, port):
            try:  # an address literal: the plain backend connects to it without another lookup
                stream = self._plain.connect_tcp(str(address), port, _bounded(timeout, httpcore.ConnectTimeout),
                                                 local_address, socket_options)
            except httpcore.ConnectError as error:
                last = error
                continue
            return GuardedStream(stream)
        raise httpcore.ConnectError(f"cannot connect to {host}: {last}")

    def checked_addresses(self, host: str, port: int) -> list[Address]:
        """The addresses of ``host``, each allowed; PrivateAddressError if any is not (its
        ``url`` is the host: the fetcher names the URL)."""
        bare = host.strip("[]")
        try:
            addresses: list[Address] = [ipaddress.ip_address(bare)]
        except ValueError:
            try:
                addresses = _unique(ipaddress.ip_address(a.split("%")[0]) for a in self._resolve(bare, port))
            except (OSError, UnicodeError, ValueError) as error:
                raise httpcore.ConnectError(f"cannot resolve {bare}: {error}") from None
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {bare}: no addresses")
        check_addresses(bare, bare, [str(a) for a in addresses], self._allowance)
        return addresses

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _unique(addresses: Iterable[Address]) -> list[Address]:
    return list(dict.fromkeys(addresses))


class GuardedTransport(httpx.BaseTransport):
    """httpx's way into the guarded backend: a connection pool whose every connection
    is checked and whose every socket operation keeps to the request's deadline."""

    def __init__(self, allowance: PrivateHostAllowance, resolver: Resolver = resolve_host) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=20, max_keepalive_connections=10,
            keepalive_expiry=5.0, network_backend=GuardedBackend(allowance, resolver))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _as_httpx_errors():
            response = self._pool.handle_request(core)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_ResponseBody(response), extensions=response.extensions)

    def close(self) -> None:
        self._pool.close()


class _ResponseBody(httpx.SyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._response.iter_stream()

    def close(self) -> None:
        self._response.close()


_HTTPCORE_TO_HTTPX: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as the httpx ones the fetcher already understands."""
    try:
        yield
    except httpcore.TimeoutException as error:
        raise _translate(error, httpx.TimeoutException) from None
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
        raise _translate(error, httpx.TransportError) from None


def _translate(error: Exception, fallback: type[httpx.HTTPError]) -> httpx.HTTPError:
    for core, ours in _HTTPCORE_TO_HTTPX:
        if isinstance(error, core):
            return ours(str(error))
    return fallback(str(error))
