"""Which address a request comes from (gateway.forwarding): X-Forwarded-For counts only from a proxy named in
FORWARDED_ALLOW_IPS, so a client cannot choose the address its limits are counted against."""

from __future__ import annotations

import pytest
from gateway.forwarding import TrustedProxies, parse_networks

NO_PROXY = TrustedProxies(parse_networks(""))
BEHIND_TWO = TrustedProxies(parse_networks("172.30.86.1, 10.1.0.0/16"))


@pytest.mark.parametrize("header", [None, "", "192.0.2.1", "192.0.2.1, 198.51.100.2", "not an address"])
def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header(header: str | None) -> None:
    assert NO_PROXY.client_address("127.0.0.1", header) == "127.0.0.1"
    assert BEHIND_TWO.client_address("203.0.113.9", header) == "203.0.113.9"  # an untrusted peer


def test_a_trusted_proxy_names_the_nearest_hop_it_does_not_trust() -> None:
    assert BEHIND_TWO.client_address("172.30.86.1", "192.0.2.1") == "192.0.2.1"
    # What the client wrote itself is left of what the proxies appended: it cannot pick its address.
    assert BEHIND_TWO.client_address("172.30.86.1", "6.6.6.6, 192.0.2.1, 10.1.4.4") == "192.0.2.1"
    assert BEHIND_TWO.client_address("172.30.86.1", None) == "172.30.86.1"
    assert BEHIND_TWO.client_address("172.30.86.1", "10.1.0.2") == "10.1.0.2"  # only proxies: the farthest
    assert BEHIND_TWO.client_address(None, "192.0.2.1") == "unknown"


@pytest.mark.parametrize("spec", ["*", "proxy.example.org", "10.0.0.0/33", "1.2.3"])
def test_a_wrong_entry_is_refused_by_name(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_networks(f"10.0.0.1,{spec}")
