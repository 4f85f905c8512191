"""The address guard: which addresses newswatch's network edges may connect to.

Only global unicast addresses pass: loopback, private, link-local, site-local
(``fec0::/10``), carrier-grade NAT, multicast, reserved, documentation and unspecified
addresses are refused, also inside IPv4-mapped, 6to4, NAT64, Teredo and IPv4-compatible
IPv6 addresses, so that a feed, a page or an alert receiver cannot point
newswatch into the network it runs in (a cloud's metadata service at 169.254.169.254, a
database, an admin page). ``NEWSWATCH_ALLOWED_PRIVATE_HOSTS`` exempts hosts by name and
addresses by range. Every address a host resolves to must pass: one private address
among public ones is refused, since a connection could reach either.

Both network edges check through here: the fetcher's transport (``pipeline.transport``)
and delivery (``pipeline.receivers``).

It never resolves names nor connects: callers give it the addresses they resolved.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from pipeline.errors import PrivateAddressError
from pipeline.settings import PrivateHostAllowance

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public_address(address: Address) -> bool:
    """True only for global unicast addresses, looking inside IPv6 forms that carry IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded:
            return all(is_public_address(inner) for inner in embedded)
        if address.is_site_local:  # fec0::/10, deprecated but still routed inside some networks
            return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_loopback
        or address.is_link_local or address.is_unspecified or address.is_private
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    if address in NAT64:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    return ()


def check_addresses(url: str, host: str, addresses: Iterable[str], allowance: PrivateHostAllowance) -> None:
    """Raise PrivateAddressError naming the first of ``host``'s addresses that is refused."""
    if allowance.allows_host(host):
        return
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])  # an IPv6 zone (fe80::1%eth0) is no part of it
        if not is_public_address(address) and not allowance.allows_address(address):
            raise PrivateAddressError(url, f"refused: {host} resolves to non-public address {address}")

