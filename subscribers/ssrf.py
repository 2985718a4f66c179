"""The SSRF guard: a webhook may only reach public addresses (CONTRACT section 1, WEBHOOK_ALLOW_PRIVATE).

Checked when a subscription is made and again before every attempt, against the addresses the
attempt then connects to, so a name that resolves elsewhere later (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """Why a URL may not receive webhooks; the message is shown to the subscriber."""


def target(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL with a host, or UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl(f"not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("the URL must be http or https")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("the URL may not hold credentials")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), which is where it leads."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    inner = embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    not_global = (address.is_loopback, address.is_private, address.is_link_local, address.is_multicast,
                  address.is_reserved, address.is_unspecified, getattr(address, "is_site_local", False))
    return address.is_global and not any(not_global)


def check_addresses(host: str, addresses: Sequence[str], *, allow_private: bool) -> list[str]:
    """The addresses, if every one is public (or private ones are allowed); else UnsafeUrl."""
    if not addresses:
        raise UnsafeUrl(f"{host} does not resolve")
    parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not allow_private:
        refused = [str(a) for a in parsed if not is_public(a)]
        if refused:
            raise UnsafeUrl(f"{host} resolves to an address that is not public ({', '.join(refused)}); "
                            "webhooks may only reach public addresses")
    return [str(a) for a in parsed]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeUrl(f"{host} does not resolve: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def resolve_public(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> list[str]:
    """The addresses an attempt to `url` may connect to; the lookup runs in a thread."""
    host, port = target(url)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        addresses = await asyncio.to_thread(resolver, host, port)
    else:
        addresses = [str(literal)]
    return check_addresses(host, addresses, allow_private=allow_private)
