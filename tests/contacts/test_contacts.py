"""Contacts: recorded per party and rep; shuttle rounds numbered so the back-and-forth shows."""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.models.contacts import Contact
from tests.mediation import audit_of, case_with_rep, rep_key
from tests.support import Api, Key


def contact(party_id: str, kind: str = "assessment", **kw: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "partyId": party_id,
        "occurredAt": (clock.now() - timedelta(hours=1)).isoformat(),
        "durationMinutes": 30,
        "summary": "Explained restorative justice; willing to exchange messages.",
        **kw,
    }


async def _contacts_in_db(api: Api, case_id: str) -> list[Contact]:
    async with api.db.transaction() as session:
        rows = await session.execute(
            select(Contact)
            .where(col(Contact.case_id) == uuid.UUID(case_id))
            .order_by(col(Contact.created_at))
        )
        return list(rows.scalars())


class TestRecordContact:
    async def test_practitioner_records_a_reps_visit(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        party = case["parties"][0]
        r = await api.client.post(
            f"/cases/{case['id']}/contacts",
            json=contact(party["id"], repId=rep["id"]),
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["kind"] == "assessment"
        assert body["partyId"] == party["id"]
        assert body["partyName"] == f"{party['firstName']} {party['lastName']}"
        assert body["repId"] == rep["id"]
        assert body["durationMinutes"] == 30
        assert body["shuttleRound"] is None
        [row] = await _contacts_in_db(api, case["id"])
        assert str(row.id) == body["id"] and row.recorded_by_client_id == api.keys.practitioner.client_id
        [record] = await audit_of(api, case["id"], "contact.recorded")
        assert record.entity_id == body["id"]
        assert record.after is not None and record.after["repId"] == rep["id"]

    async def test_a_rep_records_their_own_contact_by_default(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        key = await rep_key(api, rep)
        r = await api.client.post(
            f"/cases/{case['id']}/contacts",
            json=contact(case["parties"][1]["id"], "support"),
            headers=key.headers,
        )
        assert r.status_code == 201, r.text
        assert r.json()["repId"] == rep["id"]
        assert r.json()["summary"].startswith("Explained")

    async def test_a_rep_cannot_record_for_another_rep(self, api: Api) -> None:
        case, [a, b] = await case_with_rep(api, reps=2)
        key = await rep_key(api, a)
        r = await api.client.post(
            f"/cases/{case['id']}/contacts",
            json=contact(case["parties"][0]["id"], repId=b["id"]),
            headers=key.headers,
        )
        assert r.status_code == 403, r.text
        assert await _contacts_in_db(api, case["id"]) == []

    async def test_a_rep_not_on_the_case_is_refused(self, api: Api) -> None:
        case, _ = await case_with_rep(api)
        stranger = await api.rep()
        r = await api.client.post(
            f"/cases/{case['id']}/contacts",
            json=contact(case["parties"][0]["id"], repId=stranger["id"]),
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text
        assert "not assigned" in r.json()["detail"]

    async def test_a_person_not_party_to_the_case_is_refused(self, api: Api) -> None:
        case, _ = await case_with_rep(api)
        other = await api.refer(
            parties=[("C3456DE", "Ian", "Moss", "both"), ("D4567EF", "Joe", "Bell", "both")]
        )
        r = await api.client.post(
            f"/cases/{case['id']}/contacts",
            json=contact(other["parties"][0]["id"]),
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text
        assert await _contacts_in_db(api, case["id"]) == []

    async def test_a_contact_in_the_future_is_refused(self, api: Api) -> None:
        case, _ = await case_with_rep(api)
        body = contact(case["parties"][0]["id"], occurredAt=(clock.now() + timedelta(hours=2)).isoformat())
        r = await api.client.post(
            f"/cases/{case['id']}/contacts", json=body, headers=api.keys.practitioner.headers
        )
        assert r.status_code == 422, r.text
        assert "future" in r.json()["detail"]

    async def test_a_closed_case_takes_no_contacts(self, api: Api) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "decline", reason="unsuitable")
        r = await api.client.post(
            f"/cases/{case['id']}/contacts",
            json=contact(case["parties"][0]["id"]),
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"

    async def test_the_round_number_cannot_be_set_by_the_client(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="shuttle_mediation")
        r = await api.client.post(
            f"/cases/{case['id']}/contacts",
            json=contact(case["parties"][0]["id"], "shuttle", shuttleRound=7),
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text


class TestShuttleRounds:
    async def _record(
        self, api: Api, case: dict[str, Any], key: Key, party: int, kind: str, minutes_ago: int
    ) -> Any:
        r = await api.client.post(
            f"/cases/{case['id']}/contacts",
            json=contact(
                case["parties"][party]["id"],
                kind,
                occurredAt=(clock.now() - timedelta(minutes=minutes_ago)).isoformat(),
                summary=f"{kind} visit to party {party}",
            ),
            headers=key.headers,
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def test_rounds_are_numbered_per_case_and_listed_in_order(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        other_case, _ = await case_with_rep(api, state="shuttle_mediation")
        key = await rep_key(api, rep)
        await self._record(api, case, key, 0, "shuttle", 300)
        await self._record(api, case, key, 1, "shuttle", 240)
        await self._record(api, case, key, 1, "support", 200)
        await self._record(api, case, key, 0, "shuttle", 120)
        await self._record(api, other_case, api.keys.practitioner, 0, "shuttle", 60)
        r = await api.client.get(f"/cases/{case['id']}/contacts", headers=api.keys.practitioner.headers)
        assert r.status_code == 200
        listed = [(c["kind"], c["partyId"], c["shuttleRound"]) for c in r.json()]
        p0, p1 = case["parties"][0]["id"], case["parties"][1]["id"]
        assert listed == [
            ("shuttle", p0, 1),
            ("shuttle", p1, 2),
            ("support", p1, None),
            ("shuttle", p0, 3),
        ]
        r = await api.client.get(f"/cases/{other_case['id']}/contacts", headers=api.keys.practitioner.headers)
        assert [c["shuttleRound"] for c in r.json()] == [1]


class TestListContacts:
    async def test_a_rep_reads_only_their_own_notes(self, api: Api) -> None:
        case, [a, b] = await case_with_rep(api, reps=2)
        key_a, key_b = await rep_key(api, a), await rep_key(api, b)
        for key in (key_a, key_b):
            r = await api.client.post(
                f"/cases/{case['id']}/contacts", json=contact(case["parties"][0]["id"]), headers=key.headers
            )
            assert r.status_code == 201, r.text
        r = await api.client.get(f"/cases/{case['id']}/contacts", headers=key_a.headers)
        assert r.status_code == 200
        seen = {c["repId"]: c["summary"] for c in r.json()}
        assert seen[a["id"]] is not None and seen[b["id"]] is None
        r = await api.client.get(f"/cases/{case['id']}/contacts", headers=api.keys.practitioner.headers)
        assert all(c["summary"] for c in r.json())
