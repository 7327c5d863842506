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


# What the DNS stand-in answers for a name: an address, several addresses in one answer (a tuple;
# none, for a name that does not resolve), or a list of such answers given in turn, the last one
# for every lookup after.
Answer = str | tuple[str, ...]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Answer | list[Answer]]:
    """A stand-in for DNS: the names the test puts here resolve to the addresses given, every other
    name as the machine resolves it. Change an entry, or give answers in turn, to make a name
    resolve elsewhere later."""
    names: dict[str, Answer | list[Answer]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *rest: Any, **kw: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in names:
            return real(host, port, *rest, **kw)
        given = names[name]
        if isinstance(given, list):
            answer = given.pop(0) if len(given) > 1 else given[0]
        else:
            answer = given
        if answer == ():
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        number = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, number))
            for address in ((answer,) if isinstance(answer, str) else answer)
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, int], tuple[str, int]]:
    """A stand-in for the network beyond this machine: a connection to an (address, port) put
    here reaches the local (address, port) given instead, as if the public address were there;
    every other connection is made as usual."""
    routes: dict[tuple[str, int], tuple[str, int]] = {}
    real = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple):
            address = routes.get((address[0], address[1]), address)
        real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return routes
