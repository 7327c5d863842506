"""Inbound events: each sender's own, and, for admins, only those about their caseload's prisons."""

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from app.db import Database
from app.models.events import InboundEvent
from tests.statements import work_of
from tests.support import Api, Key, make_key

INBOUND = "/events/inbound"


def movement(number: str, prison: str | None, event_id: str | None = None) -> dict[str, Any]:
    """A prisoner's release from `prison`, as the prison estate's offender events carry it."""
    info: dict[str, Any] = {"nomsNumber": number, "reason": "RELEASED"}
    if prison is not None:
        info["prisonId"] = prison
    return {
        "eventType": "prison-offender-events.prisoner.released",
        "version": 1,
        "occurredAt": "2026-11-21T09:05:00+00:00",
        "description": "A prisoner has been released from prison",
        "additionalInformation": info,
        "personReference": {"identifiers": [{"type": "NOMS", "value": number}]},
        **({"eventId": event_id} if event_id else {}),
    }


async def send(client: httpx.AsyncClient, key: Key, event: dict[str, Any]) -> httpx.Response:
    return await client.post(INBOUND, json=event, headers=key.headers)


async def received(client: httpx.AsyncClient, key: Key, event: dict[str, Any]) -> str:
    r = await send(client, key, event)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


class TestOncePerSender:
    async def test_another_senders_event_of_the_same_id_is_received_and_acted_on(
        self, api: Api, db: Database
    ) -> None:
        case = await api.refer()  # A1234BC is a party at MDI
        first_sender = await make_key(db, role="referrer", prisons=["MDI"], name="first sender")
        # The first sender takes the id first, for a prisoner of no case here.
        taken = await send(api.client, first_sender, movement("Z9999ZZ", "MDI", event_id="rel-77"))
        assert taken.status_code == 202, taken.text
        r = await send(api.client, api.keys.referrer, movement("A1234BC", "MDI", event_id="rel-77"))
        assert r.status_code == 202, r.text
        assert r.json()["id"] != taken.json()["id"]
        assert r.json()["caseIds"] == [case["id"]]
        assert [f["prisonerNumber"] for f in (await api.case(case["id"]))["flags"]] == ["A1234BC"]
        async with db.transaction() as session:
            senders = (
                await session.execute(
                    select(col(InboundEvent.sender_client_id)).where(col(InboundEvent.event_id) == "rel-77")
                )
            ).scalars()
            assert set(senders) == {first_sender.client_id, api.keys.referrer.client_id}

    async def test_the_same_sender_sending_it_again_is_answered_with_the_first(self, api: Api) -> None:
        first = await send(api.client, api.keys.referrer, movement("Z9999ZZ", "MDI", event_id="rel-78"))
        again = await send(api.client, api.keys.referrer, movement("Z9999ZZ", "MDI", event_id="rel-78"))
        assert (first.status_code, again.status_code) == (202, 200)
        assert again.json()["id"] == first.json()["id"]

    async def test_the_same_event_sent_at_once_by_one_sender_is_recorded_once(
        self, api: Api, db: Database
    ) -> None:
        event = movement("Z9999ZZ", "MDI", event_id="rel-79")
        answers = await asyncio.gather(*(send(api.client, api.keys.referrer, event) for _ in range(4)))
        assert sorted(r.status_code for r in answers) == [200, 200, 200, 202]
        assert len({r.json()["id"] for r in answers}) == 1
        async with db.transaction() as session:
            rows = (
                await session.execute(select(InboundEvent).where(col(InboundEvent.event_id) == "rel-79"))
            ).all()
        assert len(rows) == 1


class TestAdminsSeeTheirCaseload:
    async def seeded(self, api: Api) -> dict[str, str]:
        sender = api.keys.referrer  # of MDI and LEI
        return {
            "mdi": await received(api.client, sender, movement("Z1111ZZ", "MDI")),
            "lei": await received(api.client, sender, movement("Z2222ZZ", "LEI")),
            # A type this service does not act on, naming no prison.
            "none": await received(
                api.client,
                sender,
                {
                    "eventType": "prison.something.else",
                    "version": 1,
                    "occurredAt": "2026-11-21T09:05:00+00:00",
                },
            ),
        }

    async def test_the_prison_an_event_is_about_is_shown(self, api: Api) -> None:
        seen = await self.seeded(api)
        for name, prison in (("mdi", "MDI"), ("lei", "LEI"), ("none", None)):
            r = await api.client.get(f"{INBOUND}/{seen[name]}", headers=api.keys.admin.headers)
            assert r.json()["prisonId"] == prison

    async def test_a_caseload_admin_lists_only_its_prisons_events(self, api: Api, db: Database) -> None:
        seen = await self.seeded(api)
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        r = await api.client.get(INBOUND, headers=mdi_admin.headers)
        assert r.status_code == 200, r.text
        assert [e["id"] for e in r.json()["content"]] == [seen["mdi"]]
        assert r.json()["totalElements"] == 1
        national = await api.client.get(INBOUND, headers=api.keys.admin.headers)
        assert {e["id"] for e in national.json()["content"]} == set(seen.values())

    async def test_another_prisons_event_and_one_of_no_prison_are_not_found(
        self, api: Api, db: Database
    ) -> None:
        seen = await self.seeded(api)
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        assert (
            await api.client.get(f"{INBOUND}/{seen['mdi']}", headers=mdi_admin.headers)
        ).status_code == 200
        for name in ("lei", "none"):
            r = await api.client.get(f"{INBOUND}/{seen[name]}", headers=mdi_admin.headers)
            assert r.status_code == 404, r.text
            assert r.json()["errorCode"] == "NOT_FOUND"

    async def test_another_prisons_event_is_not_found_to_replay(self, api: Api, db: Database) -> None:
        rejected = await received(api.client, api.keys.referrer, movement("not-a-number", "LEI"))
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        r = await api.client.post(f"{INBOUND}/{rejected}/replay", headers=mdi_admin.headers)
        assert r.status_code == 404, r.text
        async with db.transaction() as session:
            record = await session.get(InboundEvent, uuid.UUID(rejected))
            assert record is not None and record.attempts == 1
        # An admin of LEI replays it (it is rejected again: the number is still not one).
        lei_admin = await make_key(db, role="admin", prisons=["LEI"])
        r = await api.client.post(f"{INBOUND}/{rejected}/replay", headers=lei_admin.headers)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["attempts"]) == ("rejected", 2)

    async def test_another_prisons_event_costs_what_a_missing_one_costs(self, api: Api, db: Database) -> None:
        seen = await self.seeded(api)
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])

        async def read(inbound_id: str) -> None:
            r = await api.client.get(f"{INBOUND}/{inbound_id}", headers=mdi_admin.headers)
            assert r.status_code == 404, r.text

        missing = str(uuid.uuid4())
        await read(missing)
        assert await work_of(db, lambda: read(seen["lei"])) == await work_of(db, lambda: read(missing))
