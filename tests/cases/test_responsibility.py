"""The responsibility ledger: who may record what, where it shows, and that it never leaves the
service."""

import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from app.models.cases import Responsibility
from tests.mediation import case_with_rep, rep_key
from tests.records import audit_records, events
from tests.support import Api, Key


def harmer_of(case: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in case["parties"] if p["role"] == "harmer")


def harmed_of(case: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in case["parties"] if p["role"] == "harmed")


async def ledger_rows(api: Api, party_id: str) -> list[Responsibility]:
    async with api.db.transaction() as session:
        rows = await session.execute(
            select(Responsibility)
            .where(col(Responsibility.party_id) == uuid.UUID(party_id))
            .order_by(col(Responsibility.audit_seq))
        )
        return list(rows.scalars())


async def ledger(api: Api, case_id: str, party_id: str, key: Key | None = None) -> Any:
    r = await api.client.get(
        f"/cases/{case_id}/parties/{party_id}/responsibility",
        headers=(key or api.keys.practitioner).headers,
    )
    return r


class TestLedger:
    async def test_every_entry_is_kept_in_order_and_the_case_shows_the_latest(self, api: Api) -> None:
        case = await api.refer()
        harmer = harmer_of(case)
        for acknowledged in (True, False, True):
            r = await api.acknowledge(case["id"], harmer["id"], acknowledged)
            assert r.status_code == 201, r.text
        entry = r.json()
        assert entry["partyId"] == harmer["id"]
        assert (entry["acknowledged"], entry["method"], entry["recordedBy"]) == (
            True,
            "in_person",
            "Helen Ashworth",
        )
        assert entry["recordedByRole"] == "practitioner"
        assert r.headers["ETag"] == f'"{(await api.case(case["id"]))["version"]}"'

        r = await ledger(api, case["id"], harmer["id"])
        assert r.status_code == 200
        assert [e["acknowledged"] for e in r.json()] == [True, False, True]
        assert r.json()[-1] == entry

        shown = {p["id"]: p for p in (await api.case(case["id"]))["parties"]}
        assert shown[harmer["id"]]["responsibility"] == {
            "acknowledged": True,
            "recordedAt": entry["recordedAt"],
        }
        assert shown[harmed_of(case)["id"]]["responsibility"] is None

    async def test_each_entry_is_audited_with_the_recording_client(self, api: Api) -> None:
        case = await api.refer()
        harmer = harmer_of(case)
        r = await api.client.post(
            f"/cases/{case['id']}/parties/{harmer['id']}/responsibility",
            json={
                "acknowledged": True,
                "method": "written",
                "recordedBy": "Helen Ashworth",
                "note": "Accepts he started it; wants to say sorry.",
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        [row] = await ledger_rows(api, harmer["id"])
        assert row.recorded_by_client_id == api.keys.practitioner.client_id
        assert row.recorded_by_role == "practitioner"
        records = await audit_records(api.db, case["id"])
        assert records[-1].action == "responsibility.recorded"
        assert records[-1].seq == row.audit_seq
        assert records[-1].after is not None
        assert records[-1].after["acknowledged"] is True
        # The note is proved by its length and hash, never copied where auditors read.
        note = "Accepts he started it; wants to say sorry."
        assert "note" not in records[-1].after
        assert records[-1].after["noteLength"] == len(note)
        assert records[-1].after["noteSha256"] == hashlib.sha256(note.encode()).hexdigest()
        assert records[-1].actor["clientId"] == str(api.keys.practitioner.client_id)

    @pytest.mark.parametrize("role", ["harmer", "both"])
    async def test_harmers_and_both_take_entries(self, api: Api, role: str) -> None:
        case = await api.refer(
            parties=[("A1234BC", "Dean", "Walsh", "harmed"), ("B2345CD", "Marcus", "Okoye", role)]
        )
        r = await api.acknowledge(case["id"], case["parties"][1]["id"])
        assert r.status_code == 201, r.text

    async def test_a_harmed_party_is_never_asked(self, api: Api) -> None:
        case = await api.refer()
        records = len(await audit_records(api.db, case["id"]))
        r = await api.acknowledge(case["id"], harmed_of(case)["id"])
        assert r.status_code == 422, r.text
        assert r.json()["errorCode"] == "VALIDATION_FAILED"
        assert "harmer or both" in r.json()["detail"]
        assert await ledger_rows(api, harmed_of(case)["id"]) == []
        assert len(await audit_records(api.db, case["id"])) == records

    async def test_a_party_of_another_case_is_404(self, api: Api) -> None:
        case, other = await api.refer(), await api.refer()
        r = await api.acknowledge(case["id"], harmer_of(other)["id"])
        assert r.status_code == 404
        assert (await ledger(api, case["id"], harmer_of(other)["id"])).status_code == 404

    async def test_a_closed_case_takes_no_entries(self, api: Api) -> None:
        case = await api.to_state("closed")
        r = await api.acknowledge(case["id"], harmer_of(case)["id"])
        assert r.status_code == 409
        assert r.json()["errorCode"] == "INVALID_STATE"

    async def test_a_stale_if_match_is_refused(self, api: Api) -> None:
        case = await api.refer()
        r = await api.client.post(
            f"/cases/{case['id']}/parties/{harmer_of(case)['id']}/responsibility",
            json={"acknowledged": True, "method": "in_person", "recordedBy": "Helen Ashworth"},
            headers={**api.keys.practitioner.headers, "If-Match": f'"{case["version"] + 5}"'},
        )
        assert r.status_code == 412
        assert await ledger_rows(api, harmer_of(case)["id"]) == []

    @pytest.mark.parametrize(
        "body",
        [
            {"acknowledged": "yes", "method": "in_person", "recordedBy": "H"},
            {"acknowledged": True, "method": "via_rep", "recordedBy": "H"},
            {"acknowledged": True, "method": "in_person"},
            {"acknowledged": True, "method": "in_person", "recordedBy": "H", "recordedByRole": "rep"},
        ],
    )
    async def test_bad_bodies_are_422(self, api: Api, body: dict[str, Any]) -> None:
        case = await api.refer()
        r = await api.client.post(
            f"/cases/{case['id']}/parties/{harmer_of(case)['id']}/responsibility",
            json=body,
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text


class TestReps:
    async def test_an_assigned_rep_records_a_retraction_never_an_acknowledgement(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        key = await rep_key(api, rep)
        harmer = harmer_of(case)

        r = await api.acknowledge(case["id"], harmer["id"], True, key=key)
        assert r.status_code == 403, r.text
        assert r.json()["errorCode"] == "FORBIDDEN"
        assert [e.acknowledged for e in await ledger_rows(api, harmer["id"])] == [True]

        r = await api.acknowledge(case["id"], harmer["id"], False, key=key)
        assert r.status_code == 201, r.text
        rows = await ledger_rows(api, harmer["id"])
        assert [(e.acknowledged, e.recorded_by_role) for e in rows] == [
            (True, "practitioner"),
            (False, "rep"),
        ]
        assert rows[-1].recorded_by_client_id == key.client_id

    async def test_a_rep_not_on_the_case_is_404(self, api: Api) -> None:
        case = await api.to_state("assessment")
        rep = await api.rep()
        key = await rep_key(api, rep)
        kept = len(await ledger_rows(api, harmer_of(case)["id"]))
        r = await api.acknowledge(case["id"], harmer_of(case)["id"], False, key=key)
        assert r.status_code == 404
        assert len(await ledger_rows(api, harmer_of(case)["id"])) == kept

    async def test_a_rep_reads_neither_the_ledger_nor_the_status(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        key = await rep_key(api, rep)
        assert (await ledger(api, case["id"], harmer_of(case)["id"], key=key)).status_code == 403
        seen = await api.case(case["id"], key=key)
        assert seen["view"] == "rep"
        assert all("responsibility" not in p for p in seen["parties"])


class TestStaysInside:
    async def test_only_practitioners_read_the_ledger(self, api: Api) -> None:
        case = await api.to_state("assessment")
        harmer = harmer_of(case)
        for key in (api.keys.manager, api.keys.admin, api.keys.referrer, api.keys.auditor):
            assert (await ledger(api, case["id"], harmer["id"], key=key)).status_code == 403

    async def test_staff_see_the_latest_entry_and_referrers_nothing(self, api: Api) -> None:
        case = await api.refer(key=api.keys.referrer)
        await api.must_fire(case["id"], "accept")
        await api.acknowledge_all(case["id"])
        for key in (api.keys.practitioner, api.keys.manager, api.keys.admin):
            seen = await api.case(case["id"], key=key)
            assert harmer_of(seen)["responsibility"]["acknowledged"] is True
        seen = await api.case(case["id"], key=api.keys.referrer)
        assert seen["view"] == "referrer"
        assert "parties" not in seen

    async def test_no_event_carries_it(self, api: Api) -> None:
        case = await api.to_state("assessment")
        before = await events(api.db, case["id"])
        r = await api.acknowledge(case["id"], harmer_of(case)["id"], False)
        assert r.status_code == 201
        assert await events(api.db, case["id"]) == before
        await api.acknowledge_all(case["id"])
        await api.must_fire(case["id"], "start_shuttle")
        for event in await events(api.db, case["id"]):
            assert "acknowledg" not in str(event.payload).lower()
            assert "responsib" not in str(event.payload).lower()
