"""Where the service may send webhooks: public addresses only, unless an admin setting allows more.

Checked when a subscription is made and again before every delivery (a name may resolve
elsewhere later), so a subscription cannot be used to reach the service's own network. A delivery
looks its host up once and connects to an address it judged (`Target`): the name is not looked up
again to connect, where it could answer otherwise (DNS rebinding).
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_network
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL and the addresses its host was found at, each judged: where to connect."""

    url: httpx.URL
    addresses: tuple[Address, ...]

    def request_to(self, address: Address) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        """The URL with `address` as its host, the `Host` header naming the URL's own host (and
        port), and over https the request extension that has TLS name that host (`sni_hostname`:
        httpcore gives it to the handshake as `server_hostname`, used both for SNI and to check
        the certificate), so that the receiver sees the request the URL names."""
        pinned = self.url.copy_with(host=str(address))
        extensions = {"sni_hostname": self.url.raw_host.decode("ascii")} if self.url.scheme == "https" else {}
        return pinned, {"host": self.url.netloc.decode("ascii")}, extensions


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not plain http(s), or whose host is or resolves to any address that
    is not public (or does not resolve)."""
    parsed = _parse(url)
    if allow_private:
        return
    try:
        await _judged(parsed)
    except OSError:
        raise _refuse(f"{parsed.host} cannot be resolved") from None


async def resolve_target(url: str, *, allow_private: bool) -> Target:
    """The URL and every address its host is or resolves to now, looked up once and refused as
    `check_target` refuses; OSError when the host cannot be looked up now (to try again later)."""
    parsed = _parse(url)
    addresses = await (_addresses(parsed) if allow_private else _judged(parsed))
    return Target(parsed, tuple(dict.fromkeys(addresses)))


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise _refuse(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _refuse("a webhook URL must be http:// or https:// with a host")
    if parsed.userinfo:
        raise _refuse("a webhook URL must not carry a user name or password")
    return parsed


async def _judged(url: httpx.URL) -> list[Address]:
    """The host's addresses, each public, or the refusal naming the first that is not."""
    addresses = await _addresses(url)
    for address in addresses:
        if not is_public(address):
            raise _refuse(
                f"{url.host} is {address}, a loopback, link-local, private or reserved address, or "
                "one that carries such an IPv4 address; webhooks go to public addresses only "
                "(RJ_WEBHOOK_ALLOW_PRIVATE_TARGETS=true allows others)"
            )
    return addresses


async def _addresses(url: httpx.URL) -> list[Address]:
    """The addresses the URL's host is or resolves to (looked up by its ASCII name, as a
    connection to the name would look it up)."""
    host = url.raw_host.decode("ascii")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    port = url.port or (443 if url.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} has no address")
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
