"""Agreements seen through: who agreed, items monitored past closure, the person harmed told."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from app import clock
from app.timed_work.runner import run_once
from tests.mediation import audit_of, case_with_rep, events_of, rep_key, tasks_of
from tests.records import complete_wellbeing_checks
from tests.support import Api

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = date(2026, 3, 9)
OVERDUE = "restorative-justice.agreement-item.overdue"


def _harmed(case: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in case["parties"] if p["role"] == "harmed")


def _harmer(case: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in case["parties"] if p["role"] == "harmer")


def _items(case: dict[str, Any], n: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "description": f"Repay {i + 1} phone credit(s)",
            "ownerPartyId": _harmer(case)["id"],
            "dueOn": str(DUE),
        }
        for i in range(n)
    ]


def _everyone(case: dict[str, Any], method: str = "in_person") -> list[dict[str, Any]]:
    return [{"partyId": p["id"], "method": method} for p in case["parties"]]


async def _record(api: Api, case: dict[str, Any], **body: Any) -> httpx.Response:
    return await api.client.post(
        f"/cases/{case['id']}/agreement", json=body, headers=api.keys.practitioner.headers
    )


async def _outcome(api: Api, case: dict[str, Any], **body: Any) -> httpx.Response:
    return await api.client.post(
        f"/cases/{case['id']}/conference/outcome",
        json={"held": True, **body},
        headers=api.keys.practitioner.headers,
    )


async def _mark(api: Api, case: dict[str, Any], item_id: str, status: str) -> httpx.Response:
    return await api.client.patch(
        f"/cases/{case['id']}/agreement-items/{item_id}",
        json={"status": status},
        headers=api.keys.practitioner.headers,
    )


async def _agreed_by_shuttle(api: Api, items: int = 1) -> tuple[dict[str, Any], list[str]]:
    case, _ = await case_with_rep(api, state="shuttle_mediation")
    r = await _record(api, case, items=_items(case, items), agreedBy=_everyone(case))
    assert r.status_code == 201, r.text
    return case, [i["id"] for i in r.json()["items"]]


async def _to_follow_up(api: Api, case: dict[str, Any]) -> None:
    await api.must_fire(case["id"], "conclude", outcome="resolved")
    await complete_wellbeing_checks(api.client, api.db, api.keys.practitioner, case["id"])


async def _closed_and_monitored(api: Api, items: int = 1) -> tuple[dict[str, Any], list[str]]:
    case, item_ids = await _agreed_by_shuttle(api, items)
    await _to_follow_up(api, case)
    await api.must_fire(case["id"], "close", monitoring="continue")
    return case, item_ids


def _field_errors(r: httpx.Response) -> list[str]:
    return [e["field"] for e in r.json().get("errors", [])]


class TestConsentToTheOutcome:
    async def test_every_attendee_must_agree(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        r = await _outcome(
            api,
            case,
            attendedPartyIds=[p["id"] for p in case["parties"]],
            agreement=_items(case),
            agreedBy=[{"partyId": _harmer(case)["id"], "method": "in_person"}],
        )
        assert r.status_code == 422, r.text
        assert r.json()["errorCode"] == "VALIDATION_FAILED"
        assert _field_errors(r) == ["agreedBy"]
        assert _harmed(case)["firstName"] in r.json()["detail"]
        assert await tasks_of(api, case["id"], "agreement_check") == []

    async def test_attendance_is_required_with_an_agreement(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        r = await _outcome(api, case, agreement=_items(case), agreedBy=_everyone(case))
        assert r.status_code == 422, r.text
        assert _field_errors(r) == ["attendedPartyIds"]

    async def test_unknown_parties_are_refused(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="conference")
        attended = [p["id"] for p in case["parties"]]
        r = await _outcome(
            api,
            case,
            attendedPartyIds=attended,
            agreement=_items(case),
            agreedBy=[*_everyone(case), {"partyId": rep["id"], "method": "written"}],
        )
        assert r.status_code == 422 and _field_errors(r) == ["agreedBy"], r.text
        r = await _outcome(
            api,
            case,
            attendedPartyIds=[*attended, rep["id"]],
            agreement=_items(case),
            agreedBy=_everyone(case),
        )
        assert r.status_code == 422 and _field_errors(r) == ["attendedPartyIds"], r.text

    async def test_only_those_who_attended_are_asked(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        harmer = _harmer(case)["id"]
        r = await _outcome(
            api,
            case,
            attendedPartyIds=[harmer],
            agreement=_items(case),
            agreedBy=[{"partyId": harmer, "method": "written"}],
        )
        assert r.status_code == 200, r.text
        assert r.json()["attendedPartyIds"] == [harmer]
        assert r.json()["agreedBy"] == [{"partyId": harmer, "method": "written"}]
        [agreement] = (
            await api.client.get(f"/cases/{case['id']}/agreements", headers=api.keys.practitioner.headers)
        ).json()
        assert agreement["madeIn"] == "conference" and agreement["conferenceId"] == r.json()["id"]
        assert [i["id"] for i in agreement["items"]] == [i["id"] for i in r.json()["agreement"]]


class TestAgreementOutsideAConference:
    async def test_recorded_in_shuttle_with_a_check_at_each_due_date(self, api: Api) -> None:
        clock.freeze(NOW)
        case, _ = await case_with_rep(api, state="shuttle_mediation")
        r = await _record(api, case, items=_items(case, 2), agreedBy=_everyone(case, "written"))
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["madeIn"] == "shuttle_mediation" and body["conferenceId"] is None
        assert [i["status"] for i in body["items"]] == ["pending", "pending"]
        assert body["agreedBy"] == _everyone(case, "written")
        checks = await tasks_of(api, case["id"], "agreement_check")
        assert sorted(str(t.agreement_item_id) for t in checks) == sorted(i["id"] for i in body["items"])
        # The end of the due day in the prisons' local time (London keeps GMT in early March).
        assert {(t.assignee_type, t.assignee_id, t.due_at) for t in checks} == {
            ("practitioner", api.keys.practitioner.client_id, datetime(2026, 3, 10, tzinfo=UTC))
        }
        [record] = await audit_of(api, case["id"], "agreement.recorded")
        assert record.after is not None and len(record.after["agreement"]) == 2
        listed = await api.client.get(
            f"/cases/{case['id']}/agreements", headers=api.keys.practitioner.headers
        )
        assert listed.json() == [body]

    async def test_in_letter_exchange_too(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="letter_exchange")
        r = await _record(api, case, items=_items(case), agreedBy=_everyone(case))
        assert r.status_code == 201, r.text
        assert r.json()["madeIn"] == "letter_exchange"

    async def test_every_party_taking_part_must_agree(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="shuttle_mediation")
        r = await _record(
            api, case, items=_items(case), agreedBy=[{"partyId": _harmer(case)["id"], "method": "in_person"}]
        )
        assert r.status_code == 422, r.text
        assert _field_errors(r) == ["agreedBy"]

    async def test_not_in_other_states(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="assessment")
        r = await _record(api, case, items=_items(case), agreedBy=_everyone(case))
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"

    async def test_a_rep_may_not_record_one(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        r = await api.client.post(
            f"/cases/{case['id']}/agreement",
            json={"items": _items(case), "agreedBy": _everyone(case)},
            headers=(await rep_key(api, rep)).headers,
        )
        assert r.status_code == 403, r.text


class TestClosingWithPendingItems:
    async def test_close_is_refused_while_an_item_is_pending(self, api: Api) -> None:
        case, _ = await _agreed_by_shuttle(api)
        await _to_follow_up(api, case)
        r = await api.fire(case["id"], "close")
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "GUARD_FAILED"
        assert [g["name"] for g in r.json()["unmetGuards"]] == ["agreement_settled_or_monitored"]
        options = await api.client.get(
            f"/cases/{case['id']}/transitions", headers=api.keys.practitioner.headers
        )
        close = next(t for t in options.json()["triggers"] if t["trigger"] == "close")
        assert close["allowed"] is False
        assert [g["name"] for g in close["unmetGuards"]] == ["agreement_settled_or_monitored"]
        assert (await api.case(case["id"]))["state"] == "follow_up"

    async def test_monitoring_continue_closes_and_keeps_the_checks(self, api: Api) -> None:
        case, _ = await _closed_and_monitored(api)
        assert (await api.case(case["id"]))["state"] == "closed"
        [check] = await tasks_of(api, case["id"], "agreement_check")
        assert (check.status, check.assignee_type) == ("open", "practitioner")
        [record] = await audit_of(api, case["id"], "case.close")
        assert record.after is not None and record.after["monitoring"] == "continue"

    async def test_monitoring_is_ignored_when_nothing_is_pending(self, api: Api) -> None:
        case, [item] = await _agreed_by_shuttle(api)
        assert (await _mark(api, case, item, "kept")).status_code == 200
        await _to_follow_up(api, case)
        await api.must_fire(case["id"], "close", monitoring="continue")

    async def test_monitoring_goes_with_close_only(self, api: Api) -> None:
        case, _ = await _agreed_by_shuttle(api)
        r = await api.fire(case["id"], "conclude", outcome="resolved", monitoring="continue")
        assert r.status_code == 422, r.text
        assert _field_errors(r) == ["monitoring"]
        r = await api.fire(case["id"], "close", monitoring="stop")
        assert r.status_code == 422, r.text
        assert (await api.case(case["id"]))["state"] == "shuttle_mediation"

    async def test_the_workflow_lists_the_guard(self, api: Api) -> None:
        r = await api.client.get("/workflow", headers=api.keys.practitioner.headers)
        close = next(t for t in r.json()["transitions"] if t["trigger"] == "close")
        assert "agreement_settled_or_monitored" in [g["name"] for g in close["guards"]]


class TestAfterClosure:
    async def test_items_marked_after_closure_tell_the_person_harmed(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [first, second] = await _closed_and_monitored(api, items=2)
        r = await _mark(api, case, first, "kept")
        assert r.status_code == 200, r.text
        # A kept item that is not the last tells nobody yet.
        assert await tasks_of(api, case["id"], "outcome_feedback") == []
        checks = {str(t.agreement_item_id): t for t in await tasks_of(api, case["id"], "agreement_check")}
        assert (checks[first].status, checks[first].cancel_reason) == (
            "cancelled",
            "The agreement item was marked kept.",
        )
        assert checks[second].status == "open"

        r = await _mark(api, case, second, "broken")
        assert r.status_code == 200, r.text
        assert {t.status for t in await tasks_of(api, case["id"], "agreement_check")} == {"cancelled"}
        # Broken and the last: one task for the person harmed, due at once, practitioner's.
        [feedback] = await tasks_of(api, case["id"], "outcome_feedback")
        assert feedback.party_id is not None and str(feedback.party_id) == _harmed(case)["id"]
        assert (feedback.assignee_type, feedback.due_at) == ("practitioner", NOW)
        assert "not kept" in feedback.instructions and "now settled" in feedback.instructions
        record = (await audit_of(api, case["id"], "agreement_item.marked"))[-1]
        assert record.after is not None and record.after["outcomeFeedbackTaskIds"] == [str(feedback.id)]
        assert (await api.case(case["id"]))["state"] == "closed"

    async def test_the_last_kept_item_tells_them_once(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [item] = await _closed_and_monitored(api)
        assert (await _mark(api, case, item, "kept")).status_code == 200
        [feedback] = await tasks_of(api, case["id"], "outcome_feedback")
        assert feedback.due_at == NOW + timedelta(days=2)
        assert "every commitment of the agreement is now settled" in feedback.instructions
        # Marked again: no new task.
        assert (await _mark(api, case, item, "kept")).status_code == 200
        assert len(await tasks_of(api, case["id"], "outcome_feedback")) == 1

    async def test_telling_them_is_recorded_with_what_was_said(self, api: Api) -> None:
        case, [item] = await _closed_and_monitored(api)
        assert (await _mark(api, case, item, "broken")).status_code == 200
        [feedback] = await tasks_of(api, case["id"], "outcome_feedback")
        url = f"/tasks/{feedback.id}/complete"
        r = await api.client.post(
            url, json={"outcome": "told", "durationMinutes": 10}, headers=api.keys.practitioner.headers
        )
        assert r.status_code == 422, r.text
        assert _field_errors(r) == ["notes"]
        r = await api.client.post(
            url,
            json={
                "outcome": "told",
                "notes": "Told Dean the credits were not repaid.",
                "durationMinutes": 10,
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "done"

    async def test_no_rep_is_given_a_closed_case_task(self, api: Api) -> None:
        case, [item] = await _closed_and_monitored(api)
        [rep_id] = (await api.case(case["id"]))["assignment"]["repIds"]
        [check] = await tasks_of(api, case["id"], "agreement_check")
        r = await api.client.post(
            f"/tasks/{check.id}/reassign",
            json={"assignee": {"type": "rep", "id": rep_id}, "reason": "The rep sees him daily"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"

    async def test_feedback_a_rep_held_goes_to_the_practitioner_at_closure(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [item] = await _agreed_by_shuttle(api)
        assert (await _mark(api, case, item, "broken")).status_code == 200
        [feedback] = await tasks_of(api, case["id"], "outcome_feedback")
        [rep_id] = (await api.case(case["id"]))["assignment"]["repIds"]
        r = await api.client.post(
            f"/tasks/{feedback.id}/reassign",
            json={"assignee": {"type": "rep", "id": rep_id}, "reason": "He sees Dean at work daily"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        await _to_follow_up(api, case)
        await api.must_fire(case["id"], "close")
        [feedback] = await tasks_of(api, case["id"], "outcome_feedback")
        assert (feedback.status, feedback.assignee_type) == ("open", "practitioner")
        rep = (await api.client.get(f"/reps/{rep_id}", headers=api.keys.practitioner.headers)).json()
        day = await api.client.get("/reps/me/tasks", headers=(await rep_key(api, rep)).headers)
        assert day.status_code == 200, day.text
        assert str(feedback.id) not in [t["id"] for t in day.json()["tasks"]]


class TestOptingOut:
    async def test_a_party_who_opted_out_is_not_told(self, api: Api) -> None:
        case, [item] = await _agreed_by_shuttle(api)
        harmed = _harmed(case)
        r = await api.client.patch(
            f"/cases/{case['id']}/parties/{harmed['id']}",
            json={"outcomeUpdates": False},
            headers={
                **api.keys.practitioner.headers,
                "If-Match": f'"{(await api.case(case["id"]))["version"]}"',
            },
        )
        assert r.status_code == 200, r.text
        party = next(p for p in r.json()["parties"] if p["id"] == harmed["id"])
        assert party["outcomeUpdates"] is False
        assert all(p["outcomeUpdates"] for p in r.json()["parties"] if p["id"] != harmed["id"])
        assert (await _mark(api, case, item, "broken")).status_code == 200
        assert await tasks_of(api, case["id"], "outcome_feedback") == []

    async def test_opting_out_after_closure_cancels_the_open_feedback(self, api: Api) -> None:
        case, [item] = await _closed_and_monitored(api)
        assert (await _mark(api, case, item, "broken")).status_code == 200
        harmed = _harmed(case)
        version = (await api.case(case["id"]))["version"]
        url = f"/cases/{case['id']}/parties/{harmed['id']}"
        headers = {**api.keys.practitioner.headers, "If-Match": f'"{version}"'}
        r = await api.client.patch(url, json={"followUp": "no_contact"}, headers=headers)
        assert r.status_code == 409, r.text
        r = await api.client.patch(url, json={"outcomeUpdates": False}, headers=headers)
        assert r.status_code == 200, r.text
        [feedback] = await tasks_of(api, case["id"], "outcome_feedback")
        assert (feedback.status, feedback.cancel_reason) == (
            "cancelled",
            "The party asked not to be told what became of the agreement.",
        )


class TestOverdueItems:
    async def test_an_item_past_its_due_date_is_announced_once(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [item, settled] = await _closed_and_monitored(api, items=2)
        assert (await _mark(api, case, settled, "kept")).status_code == 200
        clock.freeze(datetime(2026, 3, 9, 23, 59, tzinfo=UTC))
        assert (await run_once(api.db))["agreementItemsOverdue"] == 0
        clock.freeze(datetime(2026, 3, 10, 0, 1, tzinfo=UTC))
        assert (await run_once(api.db))["agreementItemsOverdue"] == 1
        assert (await run_once(api.db))["agreementItemsOverdue"] == 0
        [event] = await events_of(api, OVERDUE)
        info = event.payload["additionalInformation"]
        assert info["agreementItemId"] == item and info["dueOn"] == str(DUE)
        assert info["caseId"] == case["id"] and info["state"] == "closed"
        assert event.payload["personReference"]["identifiers"] == [
            {"type": "NOMS", "value": _harmer(case)["prisonerNumber"]}
        ]
        [record] = await audit_of(api, case["id"], "agreement_item.overdue")
        assert record.after is not None and record.after["agreementItemId"] == item
