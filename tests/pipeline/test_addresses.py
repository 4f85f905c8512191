"""The address guard's rule, shared by the network edges: every address must pass."""

from __future__ import annotations

import pytest

from pipeline.addresses import check_addresses
from pipeline.errors import PrivateAddressError
from pipeline.settings import Settings

NONE = Settings.load(environ={}).allowed_private_hosts
RELAY = Settings.load(environ={}, allowed_private_hosts="relay.internal, 10.0.0.0/24").allowed_private_hosts


@pytest.mark.parametrize("case, host, addresses, allowance, refused", [
    ("public", "hooks.example.test", ["93.184.216.34", "2606:2800:220:1::1"], NONE, None),
    ("cloud metadata", "169.254.169.254", ["169.254.169.254"], NONE, "169.254.169.254"),
    ("one private among public", "mixed.example.test", ["93.184.216.34", "10.0.0.7"], NONE, "10.0.0.7"),
    ("IPv4-mapped loopback", "mapped.example.test", ["::ffff:127.0.0.1"], NONE, "::ffff:7f00:1"),
    ("IPv6 link-local with a zone", "fe80::1", ["fe80::1%eth0"], NONE, "fe80::1"),
    ("a range allowed", "hooks.internal", ["10.0.0.25"], RELAY, None),
    ("outside the allowed range", "hooks.internal", ["10.0.1.25"], RELAY, "10.0.1.25"),
    ("a host allowed by name", "relay.internal", ["192.168.1.5"], RELAY, None),
])
def test_every_address_of_a_host_must_pass(case, host, addresses, allowance, refused):
    if refused is None:
        check_addresses(f"json://{host}/hook", host, addresses, allowance)
        return
    with pytest.raises(PrivateAddressError) as error:
        check_addresses(f"json://{host}/hook", host, addresses, allowance)
    assert error.value.reason == f"refused: {host} resolves to non-public address {refused}"
