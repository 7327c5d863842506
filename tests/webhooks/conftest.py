"""Webhook tests send to a real receiver on 127.0.0.1, so private targets are allowed here."""

import base64
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.config import get_settings
from tests.servers import LocalServer, WebhookReceiver
from tests.support import Keys

SECRET = "whsec_" + base64.b64encode(b"a receiver's secret, 32 bytes!!!").decode()
ALL_TYPES = [
    "restorative-justice.case.created",
    "restorative-justice.case.state-changed",
    "restorative-justice.case.closed",
    "restorative-justice.safeguarding.raised",
    "restorative-justice.task.overdue",
]


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """RJ_WEBHOOK_ALLOW_PRIVATE_TARGETS=true, with quick retries."""
    monkeypatch.setenv("RJ_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    monkeypatch.setenv("RJ_WEBHOOK_BACKOFF_BASE_SECONDS", "10")
    monkeypatch.setenv("RJ_WEBHOOK_TIMEOUT_SECONDS", "5")
    get_settings.cache_clear()


@pytest.fixture
def receiver(allow_private: None) -> Iterator[tuple[WebhookReceiver, LocalServer]]:
    """A webhook receiver on 127.0.0.1 that checks signatures."""
    hook = WebhookReceiver(SECRET)
    server = LocalServer(hook).start()
    yield hook, server
    if hook.hold is not None:
        hook.hold.set()
    server.stop()


async def subscribe(
    client: httpx.AsyncClient, keys: Keys, url: str, event_types: list[str] | None = None
) -> dict[str, Any]:
    """Subscribe `url` as the admin."""
    r = await client.post(
        "/webhook-subscriptions",
        json={"url": url, "eventTypes": event_types or ALL_TYPES, "secret": SECRET},
        headers=keys.admin.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A stand-in for DNS: the names the test puts here resolve to the address given, every other
    name as the machine resolves it. Change an entry to make a name resolve elsewhere later."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *rest: Any, **kw: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in names:
            return real(host, port, *rest, **kw)
        address, number = names[name], int(port or 0)
        if ":" in address:
            return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names
