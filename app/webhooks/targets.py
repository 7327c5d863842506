"""Where the service may send webhooks: public addresses only, unless an admin setting allows more.

Checked when a subscription is made and again before every delivery (a name may resolve
elsewhere later), so a subscription cannot be used to reach the service's own network.
"""

import asyncio
import ipaddress
import socket

import httpx

from app.errors import TargetNotAllowedError


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not plain http(s), or that reach a non-public address."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise TargetNotAllowedError(f"not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise TargetNotAllowedError("a webhook URL must be http:// or https:// with a host")
    if parsed.userinfo:
        raise TargetNotAllowedError("a webhook URL must not carry a user name or password")
    if allow_private:
        return
    for address in await _addresses(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)):
        if not address.is_global or address.is_multicast:
            raise TargetNotAllowedError(
                f"{parsed.host} is {address}, a loopback, link-local, private or reserved address; "
                "webhooks go to public addresses only (RJ_WEBHOOK_ALLOW_PRIVATE_TARGETS=true allows others)"
            )


async def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise TargetNotAllowedError(f"{host} cannot be resolved") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
