"""Work that cannot happen is cancelled, with the reason: by a practitioner
(`POST /tasks/{id}/cancel`), and by the moves that end it (the table in
`app/workflows/ended_work.py`)."""

from typing import Any

import httpx
import pytest

from tests.mediation import audit_of, case_with_rep, rep_key, tasks_of
from tests.records import audit_records, complete_wellbeing_checks, events
from tests.support import Api, Key, until


async def add(
    api: Api, case: dict[str, Any], kind: str, assignee: dict[str, Any], party: int | None = 0
) -> str:
    body: dict[str, Any] = {
        "caseId": case["id"],
        "kind": kind,
        "dueAt": until(hours=6),
        "assignee": assignee,
        "instructions": f"A {kind} added by hand",
    }
    if party is not None:
        body["partyId"] = case["parties"][party]["id"]
    r = await api.client.post("/tasks", json=body, headers=api.keys.practitioner.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def cancel(api: Api, task_id: str, body: Any, key: Key | None = None) -> httpx.Response:
    return await api.client.post(
        f"/tasks/{task_id}/cancel", json=body, headers=(key or api.keys.practitioner).headers
    )


def to_rep(rep: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rep", "id": rep["id"]}


class TestCancelByHand:
    async def test_a_practitioner_cancels_an_open_task_with_the_reason(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        task = await add(api, case, "shuttle_visit", to_rep(rep))
        events_before = await events(api.db, case["id"])

        r = await cancel(api, task, {"reason": "Marcus moved to the segregation unit"})

        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["id"], body["status"]) == (task, "cancelled")
        assert body["cancelReason"] == "Marcus moved to the segregation unit"
        assert body["cancelledAt"] is not None
        [record] = await audit_of(api, case["id"], "task.cancelled")
        assert record.entity_id == task
        assert record.after == {
            "kind": "shuttle_visit",
            "status": "cancelled",
            "reason": "Marcus moved to the segregation unit",
        }
        assert await events(api.db, case["id"]) == events_before  # audited, no event
        listed = await api.client.get(f"/reps/{rep['id']}/tasks", headers=(await rep_key(api, rep)).headers)
        assert task not in [t["id"] for t in listed.json()["tasks"]]

    async def test_a_task_outside_any_case_is_audited_on_the_global_chain(self, api: Api) -> None:
        r = await api.client.post(
            "/tasks",
            json={
                "prisonId": "MDI",
                "kind": "practitioner_review",
                "dueAt": until(hours=6),
                "assignee": {"type": "practitioner"},
                "instructions": "Review the wing's referrals",
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        task = r.json()["id"]
        r = await cancel(api, task, {"reason": "Done at the team meeting"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
        [record] = [
            a for a in await audit_records(api.db) if a.action == "task.cancelled" and a.entity_id == task
        ]
        assert record.case_id is None

    @pytest.mark.parametrize(
        "body",
        [{}, {"reason": ""}, {"reason": "x" * 1001}, {"reason": 7}, {"reason": "ok", "extra": 1}],
        ids=["missing", "empty", "too-long", "not-text", "unknown-field"],
    )
    async def test_a_reason_is_required_and_at_most_1000_characters(self, api: Api, body: Any) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        task = await add(api, case, "shuttle_visit", to_rep(rep))
        r = await cancel(api, task, body)
        assert r.status_code == 422, r.text
        assert r.json()["errorCode"] == "VALIDATION_FAILED"
        [stored] = [t for t in await tasks_of(api, case["id"], "shuttle_visit")]
        assert stored.status == "open"

    async def test_a_reason_of_1000_characters_is_taken(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        task = await add(api, case, "shuttle_visit", to_rep(rep))
        r = await cancel(api, task, {"reason": "x" * 1000})
        assert r.status_code == 200, r.text

    @pytest.mark.parametrize("status", ["done", "cancelled"])
    async def test_a_task_that_is_not_open_is_409(self, api: Api, status: str) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        task = await add(api, case, "wellbeing_check", to_rep(rep))
        if status == "done":
            r = await api.client.post(
                f"/tasks/{task}/complete",
                json={"outcome": "fine", "durationMinutes": 10},
                headers=api.keys.practitioner.headers,
            )
        else:
            r = await cancel(api, task, {"reason": "first time"})
        assert r.status_code == 200, r.text

        r = await cancel(api, task, {"reason": "again"})

        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"
        assert len(await audit_of(api, case["id"], "task.cancelled")) == (status == "cancelled")

    async def test_a_safeguarding_check_is_never_cancelled(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="shuttle_mediation")
        task = await add(api, case, "safeguarding_check", {"type": "practitioner"})
        r = await cancel(api, task, {"reason": "looks fine now"})
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"
        assert "safeguarding check" in r.json()["detail"]
        [stored] = await tasks_of(api, case["id"], "safeguarding_check")
        assert stored.status == "open"


class TestMovesEndTheirWork:
    async def test_decline_ends_everything_but_the_checks_which_go_to_the_practitioner(
        self, api: Api
    ) -> None:
        case, [rep] = await case_with_rep(api, state="assessment")
        review = await add(api, case, "practitioner_review", {"type": "practitioner"}, party=None)
        check = await add(api, case, "wellbeing_check", to_rep(rep))
        urgent = await add(api, case, "safeguarding_check", to_rep(rep))
        visits = {str(t.id) for t in await tasks_of(api, case["id"], "assessment_visit")}

        await api.must_fire(case["id"], "decline", reason="consent_refused")

        stored = {str(t.id): t for t in await tasks_of(api, case["id"])}
        for ended in (*visits, review):
            assert (stored[ended].status, stored[ended].cancel_reason) == (
                "cancelled",
                "The case was declined.",
            )
        for kept in (check, urgent):
            assert stored[kept].status == "open"
            assert (stored[kept].assignee_type, stored[kept].assignee_id) == (
                "practitioner",
                api.keys.practitioner.client_id,
            )
        [record] = await audit_of(api, case["id"], "case.decline")
        assert record.after is not None
        assert set(record.after["cancelledTaskIds"]) == {*visits, review}
        assert set(record.after["toPractitionerTaskIds"]) == {check, urgent}

    async def test_conclude_ends_visits_deliveries_and_preparation_but_not_checks(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        shuttle = await add(api, case, "shuttle_visit", to_rep(rep))
        delivery = await add(api, case, "letter_delivery", to_rep(rep), party=1)
        review = await add(api, case, "practitioner_review", {"type": "practitioner"}, party=None)
        urgent = await add(api, case, "safeguarding_check", to_rep(rep))

        await api.must_fire(case["id"], "conclude", outcome="resolved")

        stored = {str(t.id): t for t in await tasks_of(api, case["id"])}
        for ended in (shuttle, delivery):
            assert (stored[ended].status, stored[ended].cancel_reason) == (
                "cancelled",
                "The intervention was concluded.",
            )
        assert {t.status for t in stored.values() if t.kind == "assessment_visit"} == {"cancelled"}
        for kept in (review, urgent):
            assert stored[kept].status == "open"
        # The rep keeps the checks of a case still in follow-up.
        assert stored[urgent].assignee_type == "rep"
        assert {t.status for t in stored.values() if t.kind == "wellbeing_check"} == {"open"}

    async def test_close_ends_what_is_left_and_gives_the_rest_to_the_practitioner(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="follow_up")
        await complete_wellbeing_checks(api.client, api.db, api.keys.practitioner, case["id"])
        review = await add(api, case, "practitioner_review", {"type": "practitioner"}, party=None)
        urgent = await add(api, case, "safeguarding_check", to_rep(rep))

        await api.must_fire(case["id"], "close")

        stored = {str(t.id): t for t in await tasks_of(api, case["id"])}
        assert (stored[review].status, stored[review].cancel_reason) == ("cancelled", "The case was closed.")
        assert stored[urgent].status == "open" and stored[urgent].assignee_type == "practitioner"

    async def test_a_move_that_ends_nothing_leaves_the_tasks_alone(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="assessment")
        before = {(str(t.id), t.status) for t in await tasks_of(api, case["id"])}
        await api.must_fire(case["id"], "start_shuttle")
        assert {(str(t.id), t.status) for t in await tasks_of(api, case["id"])} == before
        assert rep


class TestLeavingAConference:
    """Leaving `conference` other than by its own ending: the preparation cannot go on."""

    async def test_start_shuttle_ends_the_preparation(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        preparation = {str(t.id) for t in await tasks_of(api, case["id"], "conference_preparation")}
        assert preparation

        await api.must_fire(case["id"], "start_shuttle")

        ended = await tasks_of(api, case["id"], "conference_preparation")
        assert {(t.status, t.cancel_reason) for t in ended} == {
            ("cancelled", "The conference gave way to shuttle mediation.")
        }
        [record] = await audit_of(api, case["id"], "case.start_shuttle")
        assert record.after is not None
        assert set(record.after["cancelledTaskIds"]) == preparation

    async def test_a_pause_past_the_conference_ends_its_preparation(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        preparation = {str(t.id) for t in await tasks_of(api, case["id"], "conference_preparation")}
        visits = {(str(t.id), t.status) for t in await tasks_of(api, case["id"], "assessment_visit")}

        await api.must_fire(case["id"], "pause", until=until(days=4), reason="Tempers high on the wing")

        ended = await tasks_of(api, case["id"], "conference_preparation")
        assert {(t.status, t.cancel_reason) for t in ended} == {
            ("cancelled", "The case was paused past the conference's date.")
        }
        assert all(t.cancelled_at is not None for t in ended)
        # Nothing else ends with it.
        assert {(str(t.id), t.status) for t in await tasks_of(api, case["id"], "assessment_visit")} == visits
        [record] = await audit_of(api, case["id"], "case.pause")
        assert record.after is not None
        assert set(record.after["cancelledTaskIds"]) == preparation
        assert (await api.case(case["id"]))["state"] == "on_hold"

    async def test_a_pause_ending_before_the_conference_keeps_its_preparation(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")

        await api.must_fire(case["id"], "pause", until=until(days=2), reason="Tempers high on the wing")

        assert {t.status for t in await tasks_of(api, case["id"], "conference_preparation")} == {"open"}
        [record] = await audit_of(api, case["id"], "case.pause")
        assert record.after is not None
        assert "cancelledTaskIds" not in record.after


class TestReopenedCase:
    async def test_cancelled_work_stays_cancelled(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="assessment")
        await api.must_fire(case["id"], "decline", reason="unsuitable")
        await api.must_fire(case["id"], "reopen", reason="new information from the wing")
        assert {t.status for t in await tasks_of(api, case["id"], "assessment_visit")} == {"cancelled"}
