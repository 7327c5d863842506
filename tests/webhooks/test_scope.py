"""Webhook subscriptions belong to their creator's caseload: they receive only its prisons'
events, and only callers whose caseload covers their prisons manage them."""

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.db import Database
from app.events.service import emit
from app.models.webhooks import WebhookDelivery
from app.timed_work.runner import run_once
from tests.servers import LocalServer, WebhookReceiver
from tests.statements import work_of
from tests.support import Api, Key, make_key
from tests.webhooks.conftest import ALL_TYPES, SECRET

PATH = "/webhook-subscriptions"


async def subscribe_as(client: httpx.AsyncClient, key: Key, url: str) -> dict[str, Any]:
    r = await client.post(
        PATH, json={"url": url, "eventTypes": ALL_TYPES, "secret": SECRET}, headers=key.headers
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def prisoners_delivered(hook: WebhookReceiver) -> set[str]:
    return {i["value"] for p in hook.payloads.values() for i in p["personReference"]["identifiers"]}


async def delivered_events(db: Database, subscription_id: str) -> list[uuid.UUID]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(col(WebhookDelivery.event_id)).where(
                col(WebhookDelivery.subscription_id) == uuid.UUID(subscription_id)
            )
        )
        return list(rows.scalars())


class TestSubscribe:
    async def test_a_caseload_admins_subscription_is_for_its_prisons(
        self, client: httpx.AsyncClient, db: Database, allow_private: None
    ) -> None:
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        made = await subscribe_as(client, mdi_admin, "http://127.0.0.1:9/hook")
        assert (made["allPrisons"], made["prisons"]) == (False, ["MDI"])

    async def test_a_national_admins_subscription_is_for_every_prison(
        self, client: httpx.AsyncClient, db: Database, allow_private: None
    ) -> None:
        national = await make_key(db, role="admin", prisons=[])
        made = await subscribe_as(client, national, "http://127.0.0.1:9/hook")
        assert (made["allPrisons"], made["prisons"]) == (True, [])


class TestDeliveryWithinPrisons:
    async def test_an_event_of_another_prison_never_reaches_a_caseload_subscription(
        self, api: Api, db: Database, receiver: tuple[WebhookReceiver, LocalServer]
    ) -> None:
        hook, server = receiver
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        await subscribe_as(api.client, mdi_admin, server.url + "/hook")
        await api.refer(
            key=api.keys.practitioner_lei,
            prison="LEI",
            parties=[("L1111LL", "Lee", "Ash", "harmed"), ("L2222LL", "Max", "Oak", "harmer")],
        )
        await api.refer(parties=[("M1111MM", "Ian", "Elm", "harmed"), ("M2222MM", "Ray", "Fir", "harmer")])
        done = await run_once(db)
        assert done["delivered"] == 1
        assert prisoners_delivered(hook) == {"M1111MM", "M2222MM"}
        assert [p["additionalInformation"]["prisonId"] for p in hook.payloads.values()] == ["MDI"]

    async def test_a_national_subscription_receives_every_prisons_events(
        self, api: Api, db: Database, receiver: tuple[WebhookReceiver, LocalServer]
    ) -> None:
        hook, server = receiver
        national = await make_key(db, role="admin", prisons=[])
        await subscribe_as(api.client, national, server.url + "/hook")
        await api.refer(key=api.keys.practitioner_lei, prison="LEI")
        await api.refer()
        done = await run_once(db)
        assert done["delivered"] == 2
        assert sorted(p["additionalInformation"]["prisonId"] for p in hook.payloads.values()) == [
            "LEI",
            "MDI",
        ]

    async def test_an_event_of_no_prison_goes_only_to_subscriptions_of_every_prison(
        self, api: Api, db: Database, allow_private: None
    ) -> None:
        mdi = await subscribe_as(
            api.client, await make_key(db, role="admin", prisons=["MDI"]), "http://127.0.0.1:9/a"
        )
        every = await subscribe_as(
            api.client, await make_key(db, role="admin", prisons=[]), "http://127.0.0.1:9/b"
        )
        async with db.transaction() as session:
            event = emit(
                session,
                event_type="restorative-justice.task.overdue",
                description="A task of no prison is overdue",
                prisoner_numbers=["A1234BC"],
                detail_url=None,
                additional={},
            )
        await api.client.get("/events", headers=api.keys.admin.headers)  # reading the feed publishes
        assert await delivered_events(db, mdi["id"]) == []
        assert await delivered_events(db, every["id"]) == [event.event_id]


class TestManagingWithinCaseload:
    async def test_another_caseloads_subscription_is_not_listed(
        self, client: httpx.AsyncClient, db: Database, allow_private: None
    ) -> None:
        national = await make_key(db, role="admin", prisons=[])
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        lei_admin = await make_key(db, role="admin", prisons=["LEI"])
        both = await make_key(db, role="admin", prisons=["MDI", "LEI"])
        of_every = await subscribe_as(client, national, "http://127.0.0.1:9/every")
        of_mdi = await subscribe_as(client, mdi_admin, "http://127.0.0.1:9/mdi")

        async def listed(key: Key) -> list[str]:
            r = await client.get(PATH, headers=key.headers)
            assert r.status_code == 200, r.text
            return [s["id"] for s in r.json()["content"]]

        assert await listed(national) == [of_every["id"], of_mdi["id"]]
        assert await listed(mdi_admin) == [of_mdi["id"]]
        assert await listed(both) == [of_mdi["id"]]
        assert await listed(lei_admin) == []

    async def test_another_caseloads_subscription_is_not_found_to_read_list_deliveries_or_remove(
        self, client: httpx.AsyncClient, db: Database, allow_private: None
    ) -> None:
        national = await make_key(db, role="admin", prisons=[])
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        theirs = await subscribe_as(client, national, "http://127.0.0.1:9/every")
        delivery = WebhookDelivery(
            subscription_id=uuid.UUID(theirs["id"]),
            event_id=uuid.uuid4(),
            event_type=ALL_TYPES[0],
            status="dead",
            attempts=8,
            next_attempt_at=clock.now(),
            created_at=clock.now(),
        )
        async with db.transaction() as session:
            session.add(delivery)
        one = f"{PATH}/{theirs['id']}"
        for method, path in [
            ("GET", one),
            ("GET", f"{one}/deliveries"),
            ("POST", f"{one}/deliveries/{delivery.id}/redeliver"),
            ("DELETE", one),
        ]:
            r = await client.request(method, path, headers=mdi_admin.headers)
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["errorCode"] == "NOT_FOUND"
        # Still there, untouched, for its own admin.
        r = await client.get(f"{one}/deliveries", headers=national.headers)
        assert [(d["id"], d["status"]) for d in r.json()["content"]] == [(str(delivery.id), "dead")]
        assert (await client.get(one, headers=national.headers)).json()["active"] is True

    async def test_a_subscription_of_the_callers_prisons_is_managed_by_the_caller(
        self, client: httpx.AsyncClient, db: Database, allow_private: None
    ) -> None:
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        both = await make_key(db, role="admin", prisons=["MDI", "LEI"])
        mine = await subscribe_as(client, mdi_admin, "http://127.0.0.1:9/mdi")
        assert (await client.get(f"{PATH}/{mine['id']}", headers=both.headers)).status_code == 200
        assert (await client.delete(f"{PATH}/{mine['id']}", headers=mdi_admin.headers)).status_code == 204

    async def test_another_caseloads_subscription_costs_what_a_missing_one_costs(
        self, client: httpx.AsyncClient, db: Database, allow_private: None
    ) -> None:
        national = await make_key(db, role="admin", prisons=[])
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        theirs = await subscribe_as(client, national, "http://127.0.0.1:9/every")

        async def read(subscription_id: str) -> None:
            r = await client.get(f"{PATH}/{subscription_id}", headers=mdi_admin.headers)
            assert r.status_code == 404, r.text

        missing = str(uuid.uuid4())
        await read(missing)
        assert await work_of(db, lambda: read(theirs["id"])) == await work_of(db, lambda: read(missing))
