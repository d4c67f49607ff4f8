"""Where a callback may go: the URL rules and the address check against SSRF, pure.

A callback URL comes from the caller, so the server must not become the caller's way into
the server's own network. A destination is refused when any address its host resolves to is
loopback, private, link-local (which includes the cloud metadata address 169.254.169.254),
multicast, reserved, unspecified, or an IPv6 form of one of those (IPv4-mapped, NAT64,
6to4, Teredo) — unless a network the site allows contains it. The worker checks the addresses
after resolving the name and connects to the checked address itself, so a name that resolves
differently a moment later (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

__all__ = [
    "AddressPolicy",
    "DestinationRefused",
    "Network",
    "check_url",
    "parse_networks",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_URL_LENGTH = 2048
METADATA = (ipaddress.ip_network("169.254.169.254/32"), ipaddress.ip_network("fd00:ec2::254/128"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(ValueError):
    """A callback destination that may not be used (bad URL, or a refused address)."""


def parse_networks(text: str | Iterable[str] | None) -> tuple[Network, ...]:
    """``"127.0.0.0/8, ::1"`` (or a list) -> networks; a bad entry raises ValueError naming it."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not a network (CIDR such as 127.0.0.0/8)") from None
    return tuple(out)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _refused_reason(address: Address) -> str | None:
    if any(address in n for n in METADATA if n.version == address.version):
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            reason = _refused_reason(inner)
            return None if reason is None else f"{reason} (inside an IPv6 address)"
    for attribute, reason in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_private", "a private address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, attribute):
            return reason
    if not address.is_global:
        return "not a public address"
    return None


class AddressPolicy:
    """Which addresses callbacks may reach: public ones, plus the ``allowed`` networks."""

    def __init__(self, allowed: Iterable[Network | str] | str | None = ()) -> None:
        if isinstance(allowed, str) or allowed is None:
            self.allowed: tuple[Network, ...] = parse_networks(allowed)
        else:
            # A list may mix networks and CIDR text (Callbacks(api, allowed_networks=[...])).
            items = tuple(allowed)
            texts = [item for item in items if isinstance(item, str)]
            self.allowed = tuple(item for item in items if not isinstance(item, str)) + parse_networks(texts)

    def check_address(self, address: str | Address) -> Address:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
            raise DestinationRefused(f"{ip} has a zone; refused")
        if any(ip.version == n.version and ip in n for n in self.allowed):
            return ip
        reason = _refused_reason(ip)
        if reason is not None:
            raise DestinationRefused(
                f"{ip} is {reason}; refused (allow it with INTERLINK_CALLBACK_ALLOWED_NETWORKS)"
            )
        return ip

    def check_addresses(self, addresses: Sequence[str]) -> Address:
        """Every address a name resolves to must pass (else an attacker's name could list one
        good and one internal address); the one returned is the one to connect to."""
        if not addresses:
            raise DestinationRefused("the host name resolves to no address")
        checked = [self.check_address(a) for a in addresses]
        # IPv4 first: a name like localhost lists ::1 first, where many servers do not listen.
        return next((a for a in checked if a.version == 4), checked[0])


def check_url(url: object, policy: AddressPolicy | None = None) -> tuple[str, str, int]:
    """The URL's (scheme, host, port) if it may be a destination; literal IP hosts are checked
    against ``policy`` now, names when they are resolved. Raise :class:`DestinationRefused`.
    ``url`` is whatever a caller or an expression produced: anything but a string is refused."""
    if not isinstance(url, str) or not url:
        raise DestinationRefused("a callback URL is required")
    if len(url) > MAX_URL_LENGTH:
        raise DestinationRefused(f"a callback URL is at most {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise DestinationRefused("a callback URL may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise DestinationRefused(f"not a valid URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise DestinationRefused("a callback URL must be http:// or https://")
    host = parts.hostname
    if not host:
        raise DestinationRefused("a callback URL needs a host")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("a callback URL may not carry credentials")
    if parts.fragment:
        raise DestinationRefused("a callback URL may not have a fragment")
    port = port or (443 if scheme == "https" else 80)
    if policy is not None:
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            policy.check_address(literal)
        elif host.rstrip(".").lower() in ("localhost",) or host.lower().endswith(".localhost"):
            # Resolves to loopback everywhere; say so now rather than at delivery.
            if not any(n.version == 4 and ipaddress.ip_address("127.0.0.1") in n for n in policy.allowed):
                raise DestinationRefused("localhost is a loopback address; refused (allow it with INTERLINK_CALLBACK_ALLOWED_NETWORKS)")
    return scheme, host, port
