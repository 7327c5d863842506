"""Conferences: keep-apart checks, arrangements, the outcome and the agreement's items."""

from datetime import date, timedelta
from typing import Any

import httpx

from app import clock
from tests.mediation import audit_of, case_with_rep, rep_key, tasks_of
from tests.standins.nonassociations import NonAssociations
from tests.support import Api


async def _ready(api: Api, reps: int = 1) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return await case_with_rep(api, state="assessment", reps=reps)


def _without_hand_check(api: Api, **kw: Any) -> dict[str, Any]:
    details = api.conference(**kw)
    del details["keepApartCheckedByHand"]
    return details


async def _schedule(api: Api, case: dict[str, Any], details: dict[str, Any]) -> httpx.Response:
    return await api.fire(case["id"], "schedule_conference", conference=details)


class TestScheduleWithNonAssociations:
    async def test_an_open_non_association_between_the_parties_refuses_the_conference(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case, _ = await _ready(api)
        a, b = (p["prisonerNumber"] for p in case["parties"])
        non_associations.add(a, b, reason="VIOLENCE", restriction="LANDING")
        r = await _schedule(api, case, _without_hand_check(api))
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "GUARD_FAILED"
        assert [g["name"] for g in r.json()["unmetGuards"]] == ["no_open_non_association"]
        assert (await api.case(case["id"]))["state"] == "assessment"
        assert await tasks_of(api, case["id"], "conference_preparation") == []

    async def test_a_practitioner_override_with_a_reason_allows_it_and_is_audited(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case, [rep] = await _ready(api)
        a, b = (p["prisonerNumber"] for p in case["parties"])
        non_associations.add(a, b, reason="VIOLENCE")
        reason = "Both asked to meet; the governor agreed a supervised meeting in the chapel."
        assert (await _schedule(api, case, _without_hand_check(api))).status_code == 409
        r = await _schedule(api, case, _without_hand_check(api, keepApartOverrideReason=reason))
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "conference"
        [record] = await audit_of(api, case["id"], "case.schedule_conference")
        assert record.after is not None
        assert record.after["conference"]["keepApartOverrideReason"] == reason
        assert record.actor["clientId"] == str(api.keys.practitioner.client_id)
        r = await api.client.get(f"/cases/{case['id']}/conference", headers=api.keys.practitioner.headers)
        assert r.json()["keepApart"] == {"overrideReason": reason, "checkedByHand": False}
        r = await api.client.get(f"/cases/{case['id']}/conference", headers=(await rep_key(api, rep)).headers)
        assert r.status_code == 200 and r.json()["keepApart"] is None

    async def test_no_non_association_needs_no_override(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case, _ = await _ready(api)
        non_associations.add(case["parties"][0]["prisonerNumber"], "Z9999ZZ")
        r = await _schedule(api, case, _without_hand_check(api))
        assert r.status_code == 200, r.text

    async def test_with_the_service_down_the_practitioner_must_check_by_hand(
        self, api: Api, non_associations_down: str
    ) -> None:
        case, _ = await _ready(api)
        r = await _schedule(api, case, _without_hand_check(api))
        assert r.status_code == 409, r.text
        assert [g["name"] for g in r.json()["unmetGuards"]] == ["no_open_non_association"]
        r = await _schedule(api, case, api.conference())
        assert r.status_code == 200, r.text
        [record] = await audit_of(api, case["id"], "case.schedule_conference")
        assert record.after is not None and record.after["conference"]["keepApartCheckedByHand"] is True
        r = await api.client.get(f"/cases/{case['id']}/conference", headers=api.keys.practitioner.headers)
        assert r.json()["keepApart"] == {"overrideReason": None, "checkedByHand": True}


class TestScheduleArrangements:
    async def test_preparation_goes_to_the_facilitator_and_each_supporting_rep(self, api: Api) -> None:
        case, [rep] = await _ready(api)
        r = await _schedule(api, case, api.conference(supportingRepIds=[rep["id"]], attendees=["Dean Walsh"]))
        assert r.status_code == 200, r.text
        tasks = await tasks_of(api, case["id"], "conference_preparation")
        assert sorted((t.assignee_type, str(t.assignee_id)) for t in tasks) == sorted(
            [("practitioner", str(api.keys.practitioner.client_id)), ("rep", rep["id"])]
        )
        r = await api.client.get(f"/cases/{case['id']}/conference", headers=api.keys.practitioner.headers)
        assert r.json()["supportingRepIds"] == [rep["id"]]
        assert r.json()["attendees"] == ["Dean Walsh"]

    async def test_a_supporting_rep_must_be_on_the_case(self, api: Api) -> None:
        case, _ = await _ready(api)
        stranger = await api.rep()
        r = await _schedule(api, case, api.conference(supportingRepIds=[stranger["id"]]))
        assert r.status_code == 422, r.text
        assert (await api.case(case["id"]))["state"] == "assessment"


class TestUpdateArrangements:
    async def test_a_new_time_reissues_the_preparation(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="conference")
        later = (clock.now() + timedelta(days=10)).isoformat()
        r = await api.client.post(
            f"/cases/{case['id']}/conference",
            json=api.conference(scheduledAt=later, location="Visits hall", supportingRepIds=[rep["id"]]),
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["location"] == "Visits hall"
        tasks = await tasks_of(api, case["id"], "conference_preparation")
        assert sorted(t.status for t in tasks) == ["cancelled", "open", "open"]
        assert all("Visits hall" in t.instructions for t in tasks if t.status == "open")
        assert [t.cancel_reason for t in tasks if t.status == "cancelled"] == [
            "The conference was rearranged."
        ]
        [record] = await audit_of(api, case["id"], "conference.arranged")
        assert record.before is not None and record.before["location"] == "MDI chapel meeting room"
        assert record.after is not None and record.after["location"] == "Visits hall"

    async def test_a_non_association_recorded_since_refuses_until_overridden(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case, _ = await _ready(api)
        assert (await _schedule(api, case, _without_hand_check(api))).status_code == 200
        non_associations.add(*(p["prisonerNumber"] for p in case["parties"]), reason="THREAT")
        r = await api.client.post(
            f"/cases/{case['id']}/conference",
            json=_without_hand_check(api),
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "KEEP_APART"
        assert "THREAT" in r.json()["detail"]
        r = await api.client.post(
            f"/cases/{case['id']}/conference",
            json=_without_hand_check(api, keepApartOverrideReason="Officers present throughout."),
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        [record] = await audit_of(api, case["id"], "conference.arranged")
        assert record.after is not None
        assert record.after["keepApartOverrideReason"] == "Officers present throughout."
        assert record.after["keepApart"] == "conflict"

    async def test_arrangements_change_only_in_conference(self, api: Api) -> None:
        case, _ = await _ready(api)
        r = await api.client.post(
            f"/cases/{case['id']}/conference", json=api.conference(), headers=api.keys.practitioner.headers
        )
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"


def _agreement(case: dict[str, Any]) -> list[dict[str, Any]]:
    due = (date.today() + timedelta(days=14)).isoformat()
    return [
        {
            "description": "Apologise in person on the wing",
            "ownerPartyId": case["parties"][1]["id"],
            "dueOn": due,
        },
        {
            "description": "Stay off B landing for a month",
            "ownerPartyId": case["parties"][0]["id"],
            "dueOn": due,
        },
    ]


def _consented(case: dict[str, Any]) -> dict[str, Any]:
    """Both parties attended and agreed."""
    return {
        "attendedPartyIds": [p["id"] for p in case["parties"]],
        "agreedBy": [{"partyId": p["id"], "method": "in_person"} for p in case["parties"]],
    }


async def _outcome(api: Api, case: dict[str, Any], **body: Any) -> httpx.Response:
    return await api.client.post(
        f"/cases/{case['id']}/conference/outcome", json=body, headers=api.keys.practitioner.headers
    )


class TestOutcome:
    async def test_a_held_conference_with_an_agreement_lets_the_case_conclude(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        refused = await api.fire(case["id"], "conclude", outcome="resolved")
        assert refused.status_code == 409
        r = await _outcome(
            api,
            case,
            held=True,
            attendees=["Dean Walsh", "Marcus Okoye"],
            agreement=_agreement(case),
            **_consented(case),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["held"] is True and body["attendedBy"] == ["Dean Walsh", "Marcus Okoye"]
        assert [(i["description"], i["status"]) for i in body["agreement"]] == [
            ("Apologise in person on the wing", "pending"),
            ("Stay off B landing for a month", "pending"),
        ]
        prep = await tasks_of(api, case["id"], "conference_preparation")
        assert {(t.status, t.cancel_reason) for t in prep} == {
            ("cancelled", "The conference's outcome was recorded.")
        }
        [record] = await audit_of(api, case["id"], "conference.outcome_recorded")
        assert record.after is not None and len(record.after["agreement"]) == 2
        assert (await api.fire(case["id"], "conclude", outcome="resolved")).status_code == 200

    async def test_a_conference_not_held_does_not_let_the_case_conclude(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        r = await _outcome(api, case, held=False)
        assert r.status_code == 200, r.text
        r = await api.fire(case["id"], "conclude", outcome="resolved")
        assert r.status_code == 409
        assert [g["name"] for g in r.json()["unmetGuards"]] == ["conference_held_if_conference"]

    async def test_nothing_is_agreed_at_a_conference_not_held(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        r = await _outcome(api, case, held=False, agreement=_agreement(case))
        assert r.status_code == 422, r.text

    async def test_an_agreement_item_is_owned_by_a_party(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="conference")
        items = _agreement(case)
        items[0]["ownerPartyId"] = rep["id"]
        r = await _outcome(api, case, held=True, agreement=items, **_consented(case))
        assert r.status_code == 422, r.text

    async def test_the_outcome_is_recorded_once(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="conference")
        assert (await _outcome(api, case, held=True)).status_code == 200
        r = await _outcome(api, case, held=True)
        assert r.status_code == 409, r.text

    async def test_a_rep_cannot_record_the_outcome(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="conference")
        r = await api.client.post(
            f"/cases/{case['id']}/conference/outcome",
            json={"held": True},
            headers=(await rep_key(api, rep)).headers,
        )
        assert r.status_code == 403, r.text


async def _held_with_agreement(api: Api) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    case, _ = await case_with_rep(api, state="conference")
    r = await _outcome(api, case, held=True, agreement=_agreement(case), **_consented(case))
    assert r.status_code == 200, r.text
    return case, list(r.json()["agreement"])


async def _mark(api: Api, case: dict[str, Any], item: dict[str, Any], **body: Any) -> httpx.Response:
    return await api.client.patch(
        f"/cases/{case['id']}/agreement-items/{item['id']}", json=body, headers=api.keys.practitioner.headers
    )


class TestAgreementItems:
    async def test_a_kept_item_needs_nothing_more(self, api: Api) -> None:
        case, items = await _held_with_agreement(api)
        r = await _mark(api, case, items[0], status="kept")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "kept" and r.json()["statusChangedAt"]
        assert await tasks_of(api, case["id"], "practitioner_review") == []
        [record] = await audit_of(api, case["id"], "agreement_item.marked")
        assert record.before == {"status": "pending", "note": None}

    async def test_a_broken_item_asks_the_practitioner_for_a_review(self, api: Api) -> None:
        case, items = await _held_with_agreement(api)
        await api.must_fire(case["id"], "conclude", outcome="resolved")
        r = await _mark(api, case, items[1], status="broken", note="Seen on B landing twice this week.")
        assert r.status_code == 200, r.text
        [task] = await tasks_of(api, case["id"], "practitioner_review")
        assert (task.assignee_type, task.assignee_id) == ("practitioner", api.keys.practitioner.client_id)
        assert "Stay off B landing" in task.instructions
        assert case["parties"][0]["firstName"] in task.instructions
        [record] = await audit_of(api, case["id"], "agreement_item.marked")
        assert record.after is not None and record.after["reviewTaskId"] == str(task.id)

    async def test_marking_broken_again_makes_no_second_review(self, api: Api) -> None:
        case, items = await _held_with_agreement(api)
        assert (await _mark(api, case, items[0], status="broken")).status_code == 200
        assert (await _mark(api, case, items[0], status="broken")).status_code == 200
        assert len(await tasks_of(api, case["id"], "practitioner_review")) == 1
        assert len(await audit_of(api, case["id"], "agreement_item.marked")) == 1

    async def test_an_item_of_another_case_is_not_found(self, api: Api) -> None:
        case, items = await _held_with_agreement(api)
        other, _ = await _held_with_agreement(api)
        r = await _mark(api, other, items[0], status="kept")
        assert r.status_code == 404, r.text

    async def test_only_kept_or_broken(self, api: Api) -> None:
        case, items = await _held_with_agreement(api)
        assert (await _mark(api, case, items[0], status="pending")).status_code == 422
