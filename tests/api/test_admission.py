"""Admission: at most so many requests in hand per server process, the rest in arrival order."""

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.api.admission import Admission
from app.api.app import create_app
from app.api.middleware import RequestMiddleware
from app.config import Settings
from app.db import Database
from tests.support import Api


class Held:
    """An application whose requests stay inside until the test lets them go, by path."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    def gate(self, path: str) -> asyncio.Event:
        return self.gates.setdefault(path, asyncio.Event())

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered.append(scope["path"])
        await self.gate(scope["path"]).wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})


def admitting(limit: int, wait_seconds: float = 30) -> tuple[Held, Admission]:
    inner = Held()
    return inner, Admission(inner, limit=limit, wait_seconds=wait_seconds)


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def bounded(test: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A test that fails after 10 s rather than hang, should requests wait for ever."""

    @functools.wraps(test)
    async def run() -> None:
        await asyncio.wait_for(test(), 10)

    return run


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def arrive(client: httpx.AsyncClient, path: str) -> "asyncio.Task[httpx.Response]":
    """Send a request and let it reach the gate (inside or waiting) before the next one."""
    task = asyncio.create_task(client.get(path))
    await settle()
    return task


@bounded
async def test_no_more_than_the_limit_inside_and_the_rest_in_arrival_order() -> None:
    inner, gate = admitting(2)
    async with client_for(gate) as client:
        sent = [await arrive(client, f"/r{n}") for n in range(6)]
        assert inner.entered == ["/r0", "/r1"]
        assert gate.in_hand == 2 and len(gate.waiting) == 4
        for n in (1, 0, 2, 3, 4, 5):
            inner.gate(f"/r{n}").set()
            await settle()
        answers = await asyncio.gather(*sent)
    assert [r.status_code for r in answers] == [200] * 6
    assert inner.entered == ["/r0", "/r1", "/r2", "/r3", "/r4", "/r5"]
    assert gate.in_hand == 0 and not gate.waiting


@bounded
async def test_a_new_arrival_does_not_overtake_a_waiting_request() -> None:
    inner, gate = admitting(1)
    async with client_for(gate) as client:
        first = await arrive(client, "/first")
        second = await arrive(client, "/second")
        # The place is freed and a third request arrives before the waiting one has run again.
        inner.gate("/first").set()
        third = await arrive(client, "/third")
        assert inner.entered == ["/first", "/second"]
        inner.gate("/second").set()
        inner.gate("/third").set()
        await asyncio.gather(first, second, third)
    assert inner.entered == ["/first", "/second", "/third"]


@bounded
async def test_a_request_that_waits_too_long_is_answered_503_having_done_nothing() -> None:
    inner, admission = admitting(1, 0.2)
    gate = RequestMiddleware(admission, max_body_bytes=1000)
    async with client_for(gate) as client:
        holder = await arrive(client, "/holder")
        turned_away = await client.post("/cases", json={"a": 1}, headers={"X-Request-ID": "req-busy-1"})
        inner.gate("/holder").set()
        assert (await holder).status_code == 200
        after = asyncio.create_task(client.get("/after"))
        inner.gate("/after").set()
        assert (await after).status_code == 200
    assert turned_away.status_code == 503
    assert turned_away.headers["retry-after"] == "1"
    assert turned_away.headers["content-type"] == "application/problem+json"
    assert turned_away.headers["x-request-id"] == "req-busy-1"
    assert turned_away.headers["x-content-type-options"] == "nosniff"
    body = turned_away.json()
    assert body["errorCode"] == "SERVICE_BUSY" and body["status"] == 503
    assert inner.entered == ["/holder", "/after"]


@bounded
async def test_a_waiter_cancelled_leaves_the_queue_and_the_places_add_up() -> None:
    inner, gate = admitting(1)
    async with client_for(gate) as client:
        holder = await arrive(client, "/holder")
        gone = asyncio.create_task(client.get("/gone"))
        kept = await arrive(client, "/kept")
        gone.cancel()
        await settle()
        assert len(gate.waiting) == 1
        inner.gate("/holder").set()
        inner.gate("/kept").set()
        await asyncio.gather(holder, kept)
        with pytest.raises(asyncio.CancelledError):
            await gone
    assert inner.entered == ["/holder", "/kept"]
    assert gate.in_hand == 0 and not gate.waiting


@bounded
async def test_probes_and_metrics_are_answered_while_every_place_is_taken() -> None:
    inner, gate = admitting(1, 0.2)
    for path in ("/health/ping", "/metrics", "/workflow"):
        inner.gate(path).set()
    async with client_for(gate) as client:
        holder = await arrive(client, "/cases")
        for path in ("/health/ping", "/metrics", "/workflow"):
            assert (await client.get(path)).status_code == 200
        assert gate.in_hand == 1
        inner.gate("/cases").set()
        await holder


@bounded
async def test_the_workflow_diagram_waits_its_turn_like_other_work() -> None:
    inner, gate = admitting(1, 0.2)
    inner.gate("/workflow").set()
    async with client_for(gate) as client:
        holder = await arrive(client, "/cases")
        turned_away = await client.get("/workflow/diagram?format=svg")
        table = await client.get("/workflow")
        inner.gate("/cases").set()
        await holder
    assert turned_away.status_code == 503
    assert turned_away.json()["errorCode"] == "SERVICE_BUSY"
    assert table.status_code == 200
    assert inner.entered == ["/cases", "/workflow"]


def _stack(app: Any) -> list[type]:
    app.middleware_stack = app.build_middleware_stack()
    layers, layer = [], app.middleware_stack
    while layer is not None:
        layers.append(type(layer))
        layer = getattr(layer, "app", None)
    return layers


async def test_the_application_admits_from_settings(settings: Settings, db: Database) -> None:
    layers = _stack(create_app(settings, database=db))
    assert layers.index(Admission) == layers.index(RequestMiddleware) + 1
    unlimited = _stack(create_app(settings.model_copy(update={"max_in_flight": 0}), database=db))
    assert Admission not in unlimited


async def test_more_requests_than_places_are_all_answered(api: Api, settings: Settings) -> None:
    """Through the whole application with its default limit: forty reads at once, all answered."""
    assert 0 < settings.max_in_flight < 40
    case = await api.refer()
    headers = api.keys.practitioner.headers
    answers = await asyncio.gather(
        *(api.client.get(f"/cases/{case['id']}", headers=headers) for _ in range(40))
    )
    assert {r.status_code for r in answers} == {200}
