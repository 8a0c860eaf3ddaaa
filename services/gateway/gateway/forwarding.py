"""Which address a request came from: the peer of the connection, or, only when that peer is a proxy named in
FORWARDED_ALLOW_IPS, the client it names in X-Forwarded-For.

Every other X-Forwarded-For is ignored: a client that writes its own header must not pick the address its limits
are counted against (gateway.limits, the sign-in throttle). Uvicorn's own proxy-header handling is switched off
(`python -m gateway`), so this is the one place that reads the header.
"""

from __future__ import annotations

import functools
import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """`FORWARDED_ALLOW_IPS`: addresses or networks (CIDR), comma-separated; empty trusts no proxy. ValueError
    names an entry that is neither."""
    networks = []
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        if entry == "*":
            raise ValueError("'*' would let any client choose its own address; name the proxy's address")
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (e.g. 172.18.0.1 or 10.0.0.0/8)") from None
    return tuple(networks)


class TrustedProxies:
    def __init__(self, networks: tuple[Network, ...]) -> None:
        self.networks = networks

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client_address(self, peer: str | None, forwarded_for: str | None) -> str:
        """The peer, unless it is a trusted proxy: then the nearest hop in X-Forwarded-For that is not one (each
        proxy appends the address it saw, so hops right of that one were written by proxies we trust)."""
        if peer is None:
            return "unknown"
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer


@functools.lru_cache(maxsize=8)
def trusted_proxies(spec: str) -> TrustedProxies:
    return TrustedProxies(parse_networks(spec))
