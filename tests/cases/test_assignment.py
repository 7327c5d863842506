"""PUT /cases/{id}/assignment: every refusal is a 409 that says which, and tasks follow the reps."""

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from app.models.cases import CaseRep
from app.models.reps import Rep
from tests.mediation import audit_of, case_with_rep, tasks_of
from tests.standins.nonassociations import NonAssociations
from tests.statements import work_of
from tests.support import Api, make_key


async def _reps_on(api: Api, case_id: str) -> set[str]:
    async with api.db.transaction() as session:
        rows = await session.execute(
            select(col(CaseRep.rep_id)).where(col(CaseRep.case_id) == uuid.UUID(case_id))
        )
        return {str(r) for r in rows.scalars()}


async def _assert_refused(api: Api, r: httpx.Response, case_id: str, refusal: str) -> dict[str, Any]:
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["errorCode"] == "ASSIGNMENT_REFUSED"
    assert body["refusal"] == refusal
    assert await _reps_on(api, case_id) == set()
    assert await audit_of(api, case_id, "assignment.changed") == []
    return dict(body)


class TestAssignmentRefusals:
    async def test_rep_in_training_is_refused(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(status="in_training")
        body = await _assert_refused(
            api, await api.assign(case["id"], [rep["id"]]), case["id"], "rep_not_active"
        )
        assert "in training, not active" in body["detail"]

    async def test_suspended_rep_is_refused(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(status="suspended")
        body = await _assert_refused(
            api, await api.assign(case["id"], [rep["id"]]), case["id"], "rep_not_active"
        )
        assert "suspended" in body["detail"]

    async def test_rep_who_left_is_refused(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(status="left")
        await _assert_refused(api, await api.assign(case["id"], [rep["id"]]), case["id"], "rep_not_active")

    async def test_rep_in_another_prison_of_the_callers_caseload_is_refused(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(prison="LEI")
        both = await make_key(api.db, role="practitioner", prisons=["MDI", "LEI"])
        r = await api.client.put(
            f"/cases/{case['id']}/assignment",
            json={"repIds": [rep["id"]], "keepApartCheckedByHand": True},
            headers=both.headers,
        )
        body = await _assert_refused(api, r, case["id"], "rep_in_other_prison")
        assert "LEI" in body["detail"] and "MDI" in body["detail"]

    async def test_rep_outside_the_callers_caseload_is_refused_as_an_unknown_rep(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(prison="LEI", firstName="Hidden", lastName="Person")
        missing = str(uuid.uuid4())
        unknown = await _assert_refused(
            api, await api.assign(case["id"], [missing]), case["id"], "unknown_rep"
        )
        hidden = await _assert_refused(
            api, await api.assign(case["id"], [rep["id"]]), case["id"], "unknown_rep"
        )
        assert (unknown.pop("repId"), hidden.pop("repId")) == (missing, rep["id"])
        assert hidden == unknown
        assert hidden["detail"] == "no such rep in your caseload"
        for secret in ("LEI", "Hidden", "Person"):
            assert secret not in json.dumps(hidden)

    async def test_rep_outside_the_callers_caseload_costs_what_an_unknown_rep_costs(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(prison="LEI")

        async def assign(rep_id: str) -> None:
            r = await api.assign(case["id"], [rep_id])
            assert r.status_code == 409, r.text

        missing = str(uuid.uuid4())
        await assign(missing)  # anything a first request alone prepares is prepared
        assert await work_of(api.db, lambda: assign(rep["id"])) == await work_of(
            api.db, lambda: assign(missing)
        )

    async def test_rep_who_is_a_party_is_refused(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(number=case["parties"][1]["prisonerNumber"])
        body = await _assert_refused(
            api, await api.assign(case["id"], [rep["id"]]), case["id"], "rep_is_party"
        )
        assert "party to the case" in body["detail"]

    async def test_rep_at_their_limit_is_refused(self, api: Api) -> None:
        first = await api.refer()
        second = await api.refer()
        rep = await api.rep(maxActiveCases=1)
        assert (await api.assign(first["id"], [rep["id"]])).status_code == 200
        body = await _assert_refused(
            api, await api.assign(second["id"], [rep["id"]]), second["id"], "rep_at_limit"
        )
        assert "1 active cases (limit 1)" in body["detail"]

    async def test_closed_cases_do_not_count_towards_the_limit(self, api: Api) -> None:
        first = await api.refer()
        second = await api.refer()
        rep = await api.rep(maxActiveCases=1)
        assert (await api.assign(first["id"], [rep["id"]])).status_code == 200
        await api.must_fire(first["id"], "decline", reason="unsuitable")
        assert (await api.assign(second["id"], [rep["id"]])).status_code == 200

    async def test_unknown_rep_is_refused(self, api: Api) -> None:
        case = await api.refer()
        body = await _assert_refused(
            api, await api.assign(case["id"], [str(uuid.uuid4())]), case["id"], "unknown_rep"
        )
        assert body["detail"] == "no such rep in your caseload"

    async def test_rep_kept_apart_from_a_party_is_refused(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case = await api.refer()
        rep = await api.rep(number="K1111KK")
        non_associations.add("K1111KK", case["parties"][0]["prisonerNumber"], reason="GANG_RELATED")
        r = await api.client.put(
            f"/cases/{case['id']}/assignment",
            json={"repIds": [rep["id"]]},
            headers=api.keys.practitioner.headers,
        )
        body = await _assert_refused(api, r, case["id"], "rep_keep_apart")
        assert "GANG_RELATED" in body["detail"]
        assert sorted(non_associations.requests[0]) == sorted(
            ["K1111KK", *(p["prisonerNumber"] for p in case["parties"])]
        )

    async def test_closed_non_association_does_not_refuse(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case = await api.refer()
        rep = await api.rep(number="K2222KK")
        non_associations.add("K2222KK", case["parties"][0]["prisonerNumber"], closed=True)
        r = await api.client.put(
            f"/cases/{case['id']}/assignment",
            json={"repIds": [rep["id"]]},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        [record] = await audit_of(api, case["id"], "assignment.changed")
        assert record.after is not None and record.after["keepApart"] == {rep["id"]: "clear"}

    async def test_service_down_needs_a_check_by_hand(self, api: Api, non_associations_down: str) -> None:
        case = await api.refer()
        rep = await api.rep()
        r = await api.client.put(
            f"/cases/{case['id']}/assignment",
            json={"repIds": [rep["id"]]},
            headers=api.keys.practitioner.headers,
        )
        body = await _assert_refused(api, r, case["id"], "keep_apart_unchecked")
        assert "could not be reached" in body["detail"]

    async def test_service_down_with_a_check_by_hand_assigns_and_records_it(
        self, api: Api, non_associations_down: str
    ) -> None:
        case = await api.refer()
        rep = await api.rep()
        r = await api.assign(case["id"], [rep["id"]])
        assert r.status_code == 200, r.text
        assert r.json()["assignment"]["repIds"] == [rep["id"]]
        [record] = await audit_of(api, case["id"], "assignment.changed")
        assert record.after is not None and record.after["keepApart"] == {rep["id"]: "checked by hand"}

    async def test_service_not_configured_needs_a_check_by_hand(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep()
        r = await api.client.put(
            f"/cases/{case['id']}/assignment",
            json={"repIds": [rep["id"]]},
            headers=api.keys.practitioner.headers,
        )
        body = await _assert_refused(api, r, case["id"], "keep_apart_unchecked")
        assert "not configured" in body["detail"]

    async def test_a_rep_already_on_the_case_is_not_checked_again(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="referred")
        other = await api.rep()
        async with api.db.transaction() as session:
            row = await session.get(Rep, uuid.UUID(rep["id"]))
            assert row is not None
            row.status = "suspended"
        r = await api.assign(case["id"], [rep["id"], other["id"]])
        assert r.status_code == 200, r.text
        assert sorted(r.json()["assignment"]["repIds"]) == sorted([rep["id"], other["id"]])


class TestAssignmentMovesTasks:
    async def test_first_reps_take_the_visits_the_practitioner_held(self, api: Api) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "accept")
        visits = await tasks_of(api, case["id"], "assessment_visit")
        assert {t.assignee_type for t in visits} == {"practitioner"}
        rep = await api.rep()
        assert (await api.assign(case["id"], [rep["id"]])).status_code == 200
        visits = await tasks_of(api, case["id"], "assessment_visit")
        assert [(t.assignee_type, str(t.assignee_id)) for t in visits] == [("rep", rep["id"])] * 2

    async def test_a_rep_taken_off_the_case_keeps_none_of_its_tasks(self, api: Api) -> None:
        case, [a, b] = await case_with_rep(api, reps=2)
        assert {str(t.assignee_id) for t in await tasks_of(api, case["id"], "assessment_visit")} == {
            a["id"],
            b["id"],
        }
        r = await api.assign(case["id"], [b["id"]])
        assert r.status_code == 200, r.text
        visits = await tasks_of(api, case["id"], "assessment_visit")
        assert {str(t.assignee_id) for t in visits} == {b["id"]}
        record = (await audit_of(api, case["id"], "assignment.changed"))[-1]
        assert record.after is not None and record.after["tasksHandedOver"] == 1

    async def test_with_no_rep_left_the_practitioner_takes_the_tasks(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        assert (await api.assign(case["id"], [])).status_code == 200
        visits = await tasks_of(api, case["id"], "assessment_visit")
        assert {(t.assignee_type, t.assignee_id) for t in visits} == {
            ("practitioner", api.keys.practitioner.client_id)
        }
