"""The consent ledger and the assignment of reps."""

import uuid
from typing import Any

import httpx
import pytest

from app.models.cases import Consent
from tests.mediation import case_with_rep, rep_key
from tests.records import audit_records
from tests.standins.nonassociations import NonAssociations
from tests.support import Api, Key


class TestConsentLedger:
    async def test_every_consent_given_or_withdrawn_is_kept_in_order(self, api: Api) -> None:
        case = await api.refer()
        party = case["parties"][0]["id"]
        for given in (True, False, True):
            await api.consent(case["id"], party, "direct", given=given)
        await api.consent(case["id"], party, "indirect")

        r = await api.client.get(
            f"/cases/{case['id']}/parties/{party}/consents", headers=api.keys.practitioner.headers
        )

        assert r.status_code == 200
        assert [(c["scope"], c["given"]) for c in r.json()] == [
            ("direct", True),
            ("direct", False),
            ("direct", True),
            ("indirect", True),
        ]
        # The case shows the latest per scope.
        latest = (await api.case(case["id"]))["parties"][0]["consents"]
        assert {scope: c["given"] for scope, c in latest.items()} == {"direct": True, "indirect": True}
        actions = [r.action for r in await audit_records(api.db, case["id"])]
        assert actions == ["case.referred"] + ["consent.recorded"] * 4

    async def test_consent_for_a_party_of_another_case_is_404(self, api: Api) -> None:
        case, other = await api.refer(), await api.refer()
        r = await api.client.post(
            f"/cases/{case['id']}/parties/{other['parties'][0]['id']}/consents",
            json={"scope": "direct", "given": True, "recordedBy": "Rep Lewis", "method": "written"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 404
        assert (await api.case(other["id"]))["parties"][0]["consents"] == {}


class TestRepsRecordWithdrawals:
    async def post(
        self, api: Api, case: dict[str, Any], key: Key, given: bool, method: str
    ) -> httpx.Response:
        return await api.client.post(
            f"/cases/{case['id']}/parties/{case['parties'][0]['id']}/consents",
            json={"scope": "direct", "given": given, "recordedBy": "Andre Lewis", "method": method},
            headers=key.headers,
        )

    async def test_a_rep_may_not_record_consent_given(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="referred")
        key = await rep_key(api, rep)
        records = len(await audit_records(api.db, case["id"]))
        for method in ("in_person", "written", "via_rep"):
            r = await self.post(api, case, key, True, method)
            assert r.status_code == 403, r.text
            assert r.json()["errorCode"] == "FORBIDDEN"
        assert (await api.case(case["id"]))["parties"][0]["consents"] == {}
        assert len(await audit_records(api.db, case["id"])) == records

    @pytest.mark.parametrize("method", ["in_person", "written", "via_rep"])
    async def test_a_rep_records_a_withdrawal_as_passed_on_by_a_rep(self, api: Api, method: str) -> None:
        case, [rep] = await case_with_rep(api, state="referred")
        key = await rep_key(api, rep)
        r = await self.post(api, case, key, False, method)
        assert r.status_code == 201, r.text
        assert (r.json()["given"], r.json()["method"], r.json()["recordedByRole"]) == (
            False,
            "via_rep",
            "rep",
        )
        async with api.db.transaction() as session:
            row = await session.get(Consent, uuid.UUID(r.json()["id"]))
        assert row is not None
        assert (row.method, row.recorded_by_role, row.recorded_by_client_id) == (
            "via_rep",
            "rep",
            key.client_id,
        )

    async def test_a_rep_reads_no_consent_ledger(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="referred")
        key = await rep_key(api, rep)
        r = await api.client.get(
            f"/cases/{case['id']}/parties/{case['parties'][0]['id']}/consents", headers=key.headers
        )
        assert r.status_code == 403

    async def test_a_rep_not_on_the_case_is_404(self, api: Api) -> None:
        case = await api.refer()
        key = await rep_key(api, await api.rep())
        r = await self.post(api, case, key, False, "via_rep")
        assert r.status_code == 404

    async def test_a_practitioners_entry_keeps_its_method_and_role(self, api: Api) -> None:
        case = await api.refer()
        party = case["parties"][0]["id"]
        await api.consent(case["id"], party, "direct")
        r = await api.client.get(
            f"/cases/{case['id']}/parties/{party}/consents", headers=api.keys.practitioner.headers
        )
        [entry] = r.json()
        assert (entry["method"], entry["recordedByRole"]) == ("in_person", "practitioner")


class TestAssignment:
    async def refused(self, api: Api, case: dict[str, Any], rep_id: str, refusal: str) -> httpx.Response:
        records = len(await audit_records(api.db, case["id"]))
        r = await api.assign(case["id"], [rep_id])
        assert r.status_code == 409, r.text
        body = r.json()
        assert (body["errorCode"], body["refusal"], body["repId"]) == ("ASSIGNMENT_REFUSED", refusal, rep_id)
        assert (await api.case(case["id"]))["assignment"]["repIds"] == []
        assert len(await audit_records(api.db, case["id"])) == records
        return r

    async def test_a_rep_who_is_a_party_is_refused(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(number=case["parties"][1]["prisonerNumber"])
        await self.refused(api, case, rep["id"], "rep_is_party")

    @pytest.mark.parametrize("status", ["suspended", "in_training", "left"])
    async def test_a_rep_not_active_is_refused(self, api: Api, status: str) -> None:
        case = await api.refer()
        rep = await api.rep(status=status)
        await self.refused(api, case, rep["id"], "rep_not_active")

    async def test_a_rep_at_their_limit_is_refused_until_a_case_closes(self, api: Api) -> None:
        rep = await api.rep(maxActiveCases=1)
        first, second = await api.refer(), await api.refer()
        assert (await api.assign(first["id"], [rep["id"]])).status_code == 200
        r = await self.refused(api, second, rep["id"], "rep_at_limit")
        assert "limit 1" in r.json()["detail"]
        await api.must_fire(first["id"], "decline", reason="unsuitable")
        assert (await api.assign(second["id"], [rep["id"]])).status_code == 200

    async def test_a_rep_of_a_prison_outside_the_callers_caseload_is_refused_as_unknown(
        self, api: Api
    ) -> None:
        case = await api.refer()
        rep = await api.rep(prison="LEI")
        await self.refused(api, case, rep["id"], "unknown_rep")

    async def test_a_rep_kept_apart_from_a_party_is_refused(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case = await api.refer()
        rep = await api.rep(number="R1234RR")
        non_associations.add("R1234RR", case["parties"][0]["prisonerNumber"], reason="GANG_RELATED")
        await self.refused(api, case, rep["id"], "rep_keep_apart")
        assert non_associations.requests

    async def test_an_unknown_rep_is_refused(self, api: Api) -> None:
        case = await api.refer()
        await self.refused(api, case, str(uuid.uuid4()), "unknown_rep")

    async def test_an_active_rep_is_assigned_and_audited(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep()
        r = await api.assign(case["id"], [rep["id"]])
        assert r.status_code == 200
        assert r.json()["assignment"]["repIds"] == [rep["id"]]
        record = (await audit_records(api.db, case["id"]))[-1]
        assert (record.action, record.after) == (
            "assignment.changed",
            {
                "practitionerId": None,
                "repIds": [rep["id"]],
                "keepApart": {rep["id"]: "checked by hand"},
                "tasksHandedOver": 0,
            },
        )
