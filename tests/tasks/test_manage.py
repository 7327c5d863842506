"""Practitioners add, reassign and reschedule tasks; completing records the outcome."""

from datetime import timedelta
from typing import Any

import httpx

from app import clock
from tests.mediation import at, audit_of, case_with_rep, rep_key, tasks_of
from tests.support import Api, Key


def _task(case: dict[str, Any] | None, assignee: dict[str, Any], **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "shuttle_visit",
        "dueAt": (clock.now() + timedelta(hours=6)).isoformat(),
        "assignee": assignee,
        "instructions": "Take Dean's answer back to Marcus and ask whether he will meet.",
        **kw,
    }
    if case is not None:
        body["caseId"] = case["reference"]
    return body


async def _add(api: Api, body: dict[str, Any], key: Key | None = None) -> httpx.Response:
    return await api.client.post("/tasks", json=body, headers=(key or api.keys.practitioner).headers)


class TestAddTask:
    async def test_a_practitioner_adds_a_shuttle_visit_for_the_rep(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        party = case["parties"][1]
        r = await _add(api, _task(case, {"type": "rep", "id": rep["id"]}, partyId=party["id"]))
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["kind"], body["status"], body["caseReference"]) == (
            "shuttle_visit",
            "open",
            case["reference"],
        )
        assert body["assignee"] == {"type": "rep", "id": rep["id"]}
        assert body["party"] == {
            "name": f"{party['firstName']} {party['lastName']}",
            "location": party["location"],
        }
        [record] = await audit_of(api, case["id"], "task.added")
        assert record.entity_id == body["id"]

    async def test_a_rep_not_on_the_case_cannot_be_given_its_task(self, api: Api) -> None:
        case, _ = await case_with_rep(api)
        stranger = await api.rep()
        r = await _add(api, _task(case, {"type": "rep", "id": stranger["id"]}))
        assert r.status_code == 422, r.text
        assert "not assigned" in r.json()["detail"]

    async def test_a_task_outside_any_case_needs_a_prison_in_the_callers_caseload(self, api: Api) -> None:
        r = await _add(api, _task(None, {"type": "practitioner"}))
        assert r.status_code == 422, r.text
        r = await _add(api, _task(None, {"type": "practitioner"}, prisonId="LEI"))
        assert r.status_code == 403, r.text
        r = await _add(api, _task(None, {"type": "practitioner"}, prisonId="MDI", kind="practitioner_review"))
        assert r.status_code == 201, r.text
        assert r.json()["caseId"] is None

    async def test_a_case_outside_the_callers_caseload_is_not_found(self, api: Api) -> None:
        case, _ = await case_with_rep(api)
        r = await _add(api, _task(case, {"type": "practitioner"}), api.keys.practitioner_lei)
        assert r.status_code == 404, r.text

    async def test_a_rep_cannot_add_tasks(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        r = await _add(api, _task(case, {"type": "rep", "id": rep["id"]}), await rep_key(api, rep))
        assert r.status_code == 403, r.text


class TestReassign:
    async def test_an_open_task_goes_to_another_rep_on_the_case(self, api: Api) -> None:
        case, [a, b] = await case_with_rep(api, reps=2)
        task = next(
            t for t in await tasks_of(api, case["id"], "assessment_visit") if str(t.assignee_id) == a["id"]
        )
        r = await api.client.post(
            f"/tasks/{task.id}/reassign",
            json={"assignee": {"type": "rep", "id": b["id"]}, "reason": "Andre is on a course this week"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["assignee"] == {"type": "rep", "id": b["id"]}
        [record] = await audit_of(api, case["id"], "task.reassigned")
        assert record.before == {"assigneeType": "rep", "assigneeId": a["id"]}
        assert record.after is not None and record.after["reason"] == "Andre is on a course this week"
        r = await api.client.get(f"/tasks/{task.id}", headers=(await rep_key(api, a)).headers)
        assert r.status_code == 404

    async def test_a_done_task_stays_with_whoever_did_it(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        task = (await tasks_of(api, case["id"], "assessment_visit"))[0]
        r = await api.client.post(
            f"/tasks/{task.id}/complete",
            json={"outcome": "willing", "durationMinutes": 20},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        r = await api.client.post(
            f"/tasks/{task.id}/reassign",
            json={"assignee": {"type": "practitioner"}, "reason": "x"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 409, r.text


class TestReschedule:
    async def test_the_due_time_moves_with_its_reason_recorded(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        task = (await tasks_of(api, case["id"], "assessment_visit"))[0]
        new_due = clock.now() + timedelta(days=4)
        r = await api.client.post(
            f"/tasks/{task.id}/reschedule",
            json={"dueAt": new_due.isoformat(), "reason": "Wing on lockdown"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        assert at(r.json()["dueAt"]) == new_due
        [record] = await audit_of(api, case["id"], "task.rescheduled")
        assert record.after is not None and record.after["reason"] == "Wing on lockdown"
        [moved] = [t for t in await tasks_of(api, case["id"], "assessment_visit") if t.id == task.id]
        assert moved.due_at == new_due

    async def test_a_rep_cannot_reschedule_even_their_own_task(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api)
        task = (await tasks_of(api, case["id"], "assessment_visit"))[0]
        r = await api.client.post(
            f"/tasks/{task.id}/reschedule",
            json={"dueAt": (clock.now() + timedelta(days=4)).isoformat(), "reason": "busy"},
            headers=(await rep_key(api, rep)).headers,
        )
        assert r.status_code == 403, r.text

    async def test_a_reason_is_required(self, api: Api) -> None:
        case, _ = await case_with_rep(api)
        task = (await tasks_of(api, case["id"], "assessment_visit"))[0]
        r = await api.client.post(
            f"/tasks/{task.id}/reschedule",
            json={"dueAt": (clock.now() + timedelta(days=4)).isoformat()},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text


class TestComplete:
    async def test_a_wellbeing_check_records_its_outcome_and_the_visit(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="follow_up")
        check = (await tasks_of(api, case["id"], "wellbeing_check"))[0]
        r = await api.client.post(
            f"/tasks/{check.id}/complete",
            json={
                "outcome": "settled, no concerns",
                "notes": "Working in the gardens now.",
                "durationMinutes": 15,
            },
            headers=(await rep_key(api, rep)).headers,
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["outcome"]) == ("done", "settled, no concerns")
        r = await api.client.get(f"/cases/{case['id']}/contacts", headers=api.keys.practitioner.headers)
        [contact] = r.json()
        assert (contact["kind"], contact["repId"], contact["taskId"], contact["durationMinutes"]) == (
            "wellbeing",
            rep["id"],
            str(check.id),
            15,
        )
        assert contact["summary"] == "settled, no concerns\nWorking in the gardens now."

    async def test_a_task_is_completed_once(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="follow_up")
        check = (await tasks_of(api, case["id"], "wellbeing_check"))[0]
        body = {"outcome": "fine", "durationMinutes": 5}
        key = await rep_key(api, rep)
        assert (
            await api.client.post(f"/tasks/{check.id}/complete", json=body, headers=key.headers)
        ).status_code == 200
        r = await api.client.post(f"/tasks/{check.id}/complete", json=body, headers=key.headers)
        assert r.status_code == 409, r.text

    async def test_a_concern_needs_a_person(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        [prep] = await tasks_of(api, case["id"], "conference_preparation")
        r = await api.client.post(
            f"/tasks/{prep.id}/complete",
            json={"outcome": "done", "durationMinutes": 30, "concern": {"category": "other", "detail": "x"}},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text
        assert (await tasks_of(api, case["id"], "conference_preparation"))[0].status == "open"
