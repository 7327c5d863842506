"""Where the service may send webhooks: public addresses only, unless an admin setting allows more.

Checked when a subscription is made and again before every delivery (a name may resolve
elsewhere later), so a subscription cannot be used to reach the service's own network.
"""

import asyncio
import ipaddress
import socket
from ipaddress import IPv4Address, IPv6Address, ip_network

import httpx

from app.errors import TargetNotAllowedError

Address = IPv4Address | IPv6Address

# Ranges Python 3.11's `is_global` counts global that no webhook receiver is in: not globally
# reachable in IANA's special-purpose registries (192.0.0.0/24 IETF protocol assignments,
# 64:ff9b:1::/48 NAT64 for local use, 3fff::/20 documentation, 5f00::/16 segment routing) or
# deprecated (192.88.99.0/24 6to4 relays, fec0::/10 site-local).
NOT_GLOBAL = tuple(
    ip_network(n)
    for n in ("192.0.0.0/24", "192.88.99.0/24", "64:ff9b:1::/48", "3fff::/20", "5f00::/16", "fec0::/10")
)
NAT64 = ip_network("64:ff9b::/96")


def embedded_ipv4(address: IPv6Address) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-compatible (::/96), IPv4-mapped
    (::ffff:0:0/96), SIIT (::ffff:0:0:0/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16) and Teredo
    (2001::/32: its server, and its client with the bits inverted)."""
    value = int(address)
    low = IPv4Address(value & 0xFFFFFFFF)
    found = []
    if value >> 32 in (0, 0xFFFF, 0xFFFF0000) or address in NAT64:
        found.append(low)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def is_public(address: Address) -> bool:
    """Whether a webhook may go to `address`: globally reachable, not multicast, and every IPv4
    address it carries the same (the standard library alone calls ::127.0.0.1, 64:ff9b::a9fe:a9fe
    and 2002:7f00:1:: global, and a gateway would take each to the address inside it)."""
    if not address.is_global or address.is_multicast:
        return False
    if any(address.version == network.version and address in network for network in NOT_GLOBAL):
        return False
    return isinstance(address, IPv4Address) or all(is_public(inner) for inner in embedded_ipv4(address))


def _refuse(message: str) -> TargetNotAllowedError:
    return TargetNotAllowedError(
        message, extra={"errors": [{"field": "url", "message": message, "type": "target_not_allowed"}]}
    )


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not plain http(s), or whose host is or resolves to any address that
    is not public."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise _refuse(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _refuse("a webhook URL must be http:// or https:// with a host")
    if parsed.userinfo:
        raise _refuse("a webhook URL must not carry a user name or password")
    if allow_private:
        return
    for address in await _addresses(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)):
        if not is_public(address):
            raise _refuse(
                f"{parsed.host} is {address}, a loopback, link-local, private or reserved address, or "
                "one that carries such an IPv4 address; webhooks go to public addresses only "
                "(RJ_WEBHOOK_ALLOW_PRIVATE_TARGETS=true allows others)"
            )


async def _addresses(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise _refuse(f"{host} cannot be resolved") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
