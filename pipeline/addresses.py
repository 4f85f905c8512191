"""The address guard: which addresses newswatch's network edges may connect to.

Loopback, private, link-local, multicast, reserved and unspecified addresses (IPv4, IPv6,
IPv4-mapped) are refused, so that a feed, a page or an alert receiver cannot point
newswatch into the network it runs in (a cloud's metadata service at 169.254.169.254, a
database, an admin page). ``NEWSWATCH_ALLOWED_PRIVATE_HOSTS`` exempts hosts by name and
addresses by range. Every address a host resolves to must pass: one private address
among public ones is refused, since a connection could reach either.

Delivery (``pipeline.receivers``) checks through here. The fetcher's
``Fetcher.check_address`` applies the same rule with its own copy of this loop and can
adopt this module; ``is_public_address`` lives in ``pipeline.fetch`` until it does.

It never resolves names nor connects: callers give it the addresses they resolved.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from pipeline.errors import PrivateAddressError
from pipeline.fetch import is_public_address
from pipeline.settings import PrivateHostAllowance


def check_addresses(url: str, host: str, addresses: Iterable[str], allowance: PrivateHostAllowance) -> None:
    """Raise PrivateAddressError naming the first of ``host``'s addresses that is refused."""
    if allowance.allows_host(host):
        return
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])  # an IPv6 zone (fe80::1%eth0) is no part of it
        if not is_public_address(address) and not allowance.allows_address(address):
            raise PrivateAddressError(url, f"refused: {host} resolves to non-public address {address}")

