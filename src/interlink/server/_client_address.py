"""The client's address: the TCP peer, or ``X-Forwarded-For`` only when the peer is a trusted
proxy.

Trusting X-Forwarded-For from anyone would let any caller pick its own address (and so slip
past IP allowlists and per-address rate limits). With trusted proxies configured, the header is
read from the right: the first address that is not itself a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .types import Scope

__all__ = ["ClientAddress"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        )

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def __call__(self, scope: Scope) -> str | None:
        client = scope.get("client")
        peer: str | None = client[0] if client else None
        if not self.trusted or peer is None or not self.is_trusted(peer):
            return peer
        forwarded: list[str] = []
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded += [part.strip() for part in value.decode("latin-1").split(",")]
        for address in reversed(forwarded):
            if address and not self.is_trusted(address):
                try:
                    return str(ipaddress.ip_address(address))
                except ValueError:
                    return peer  # garbage from a trusted proxy: fall back to the peer
        return peer
