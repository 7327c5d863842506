"""Safety judged at every step: the gates of each action re-checked when it is taken, and the
changes that break a stage acting at once (call-off, facilitator switch), each with an urgent
review for the practitioner, in the transaction that records the change."""

import uuid
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from app import clock
from app.models.cases import Case, Consent
from tests.mediation import audit_of, case_with_rep, outcome, rep_key, reviews, tasks_of, unmet_names
from tests.records import events
from tests.stamp_guard import touch_cases
from tests.support import Api, Key, until


async def set_case(api: Api, case_id: str, **values: Any) -> None:
    """Change the case's row behind the service's back: a record written before a rule."""
    async with api.db.transaction() as session:
        await session.execute(update(Case).where(col(Case.id) == uuid.UUID(case_id)).values(**values))


async def consent_stops_counting(api: Api, case_id: str, party_id: str, scope: str) -> None:
    """A consent written before a rule that no longer counts (its grant passed on by a rep)."""
    async with api.db.transaction() as session:
        await session.execute(
            update(Consent)
            .where(col(Consent.party_id) == uuid.UUID(party_id), col(Consent.scope) == scope)
            .values(given=False)
        )
        await touch_cases(session, [uuid.UUID(case_id)])


async def withdraw_consent(api: Api, case_id: str, party_id: str, scope: str, key: Key | None = None) -> Any:
    r = await api.client.post(
        f"/cases/{case_id}/parties/{party_id}/consents",
        json={"scope": scope, "given": False, "recordedBy": "Rep Lewis", "method": "via_rep"},
        headers=(key or api.keys.practitioner).headers,
    )
    assert r.status_code == 201, r.text
    return r


class TestGatesRecheckedWhenTheyMatter:
    async def test_rearranging_a_conference_rechecks_its_gates(self, api: Api) -> None:
        case = await api.to_state("conference")
        await set_case(api, case["id"], risk_level="high")
        r = await api.client.post(
            f"/cases/{case['id']}/conference", json=api.conference(), headers=api.keys.practitioner.headers
        )
        assert unmet_names(r) == ["risk_not_high"]

    async def test_a_conference_is_not_recorded_held_without_consent_to_meet(self, api: Api) -> None:
        case = await api.to_state("conference")
        await consent_stops_counting(api, case["id"], case["parties"][1]["id"], "direct")
        assert unmet_names(await outcome(api, case["id"])) == ["every_party_consents_direct"]
        # That it did not happen can always be recorded.
        assert (await outcome(api, case["id"], held=False)).status_code == 200

    async def test_a_shuttle_contact_needs_the_partys_indirect_consent(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        first, second = (p["id"] for p in case["parties"])
        await consent_stops_counting(api, case["id"], second, "indirect")

        async def contact(party_id: str) -> Any:
            return await api.client.post(
                f"/cases/{case['id']}/contacts",
                json={
                    "kind": "shuttle",
                    "partyId": party_id,
                    "occurredAt": clock.now().isoformat(),
                    "durationMinutes": 20,
                    "summary": "passed on the message",
                },
                headers=api.keys.practitioner.headers,
            )

        assert unmet_names(await contact(second)) == ["party_consents_indirect"]
        assert (await contact(first)).status_code == 201

    async def test_a_rep_facilitates_only_a_low_risk_case(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        r = await api.client.patch(
            f"/cases/{case['id']}",
            json={"riskLevel": "medium", "facilitator": "rep"},
            headers={**api.keys.practitioner.headers, "If-Match": f'"{case["version"]}"'},
        )
        assert unmet_names(r) == ["rep_facilitates_low_risk_only"]
        after = await api.case(case["id"])
        assert (after["riskLevel"], after["facilitator"]) == ("low", "practitioner")
        await api.patch(case["id"], facilitator="rep")
        assert (await api.case(case["id"]))["facilitator"] == "rep"

    async def test_assigning_reps_rechecks_the_risk_they_would_work_at(self, api: Api) -> None:
        case = await api.to_state("assessment")
        await set_case(api, case["id"], risk_level="medium", facilitator="rep")
        rep = await api.rep()
        assert unmet_names(await api.assign(case["id"], [rep["id"]])) == ["rep_facilitates_low_risk_only"]
        await set_case(api, case["id"], risk_level="low")
        assert (await api.assign(case["id"], [rep["id"]])).status_code == 200


class TestChangesThatBreakTheStage:
    async def test_face_to_face_consent_withdrawn_after_scheduling_calls_the_conference_off(
        self, api: Api
    ) -> None:
        case = await api.to_state("conference")
        events_before = len(await events(api.db, case["id"]))
        await withdraw_consent(api, case["id"], case["parties"][0]["id"], "direct")
        after = await api.case(case["id"])
        # Indirect contact can still go on between the two: shuttle mediation.
        assert after["state"] == "shuttle_mediation"
        assert {t.status for t in await tasks_of(api, case["id"], "conference_preparation")} == {"cancelled"}
        called_off = await audit_of(api, case["id"], "case.call_off")
        assert len(called_off) == 1 and called_off[0].after["cancelledTaskIds"]
        moved = (await events(api.db, case["id"]))[events_before:]
        assert [e.payload["additionalInformation"]["trigger"] for e in moved] == ["call_off"]
        (review,) = await reviews(api, case["id"])
        assert review.due_at <= clock.now()
        assert "retaliation" in review.instructions and "under pressure" in review.instructions
        assert "without saying who withdrew" in review.instructions
        # Nothing more can be recorded of the conference.
        assert (await outcome(api, case["id"])).status_code == 409

    async def test_without_indirect_consent_a_call_off_goes_to_assessment(self, api: Api) -> None:
        case = await api.to_state("conference")
        party = case["parties"][1]["id"]
        await withdraw_consent(api, case["id"], party, "indirect")
        assert (await api.case(case["id"]))["state"] == "conference"
        await withdraw_consent(api, case["id"], party, "direct")
        assert (await api.case(case["id"]))["state"] == "assessment"

    async def test_risk_raised_to_high_in_conference_calls_it_off_to_assessment(self, api: Api) -> None:
        case = await api.to_state("conference")
        await api.patch(case["id"], riskLevel="high")
        after = await api.case(case["id"])
        assert (after["state"], after["riskLevel"]) == ("assessment", "high")
        assert len(await reviews(api, case["id"])) == 1
        r = await api.client.post(
            f"/cases/{case['id']}/conference", json=api.conference(), headers=api.keys.practitioner.headers
        )
        assert r.status_code == 409
        assert (await api.fire(case["id"], "conclude", outcome="resolved")).status_code == 409

    async def test_shuttle_losing_its_pairing_goes_to_assessment(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        await withdraw_consent(api, case["id"], case["parties"][0]["id"], "indirect")
        assert (await api.case(case["id"]))["state"] == "assessment"
        assert len(await reviews(api, case["id"])) == 1

    async def test_a_withdrawal_that_breaks_nothing_moves_nothing(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        await withdraw_consent(api, case["id"], case["parties"][0]["id"], "direct")
        assert (await api.case(case["id"]))["state"] == "shuttle_mediation"
        assert await reviews(api, case["id"]) == []

    async def test_a_retraction_calls_a_conference_off_to_assessment(self, api: Api) -> None:
        case = await api.to_state("conference")
        harmer = next(p for p in case["parties"] if p["role"] in ("harmer", "both"))
        r = await api.acknowledge(case["id"], harmer["id"], acknowledged=False)
        assert r.status_code == 201, r.text
        assert (await api.case(case["id"]))["state"] == "assessment"
        assert len(await reviews(api, case["id"])) == 1

    async def test_a_retraction_in_assessment_asks_for_a_review(self, api: Api) -> None:
        case = await api.to_state("assessment")
        harmer = next(p for p in case["parties"] if p["role"] in ("harmer", "both"))
        assert (await api.acknowledge(case["id"], harmer["id"], acknowledged=False)).status_code == 201
        assert (await api.case(case["id"]))["state"] == "assessment"
        assert len(await reviews(api, case["id"])) == 1

    async def test_a_withdrawal_while_paused_from_conference_resumes_to_assessment(self, api: Api) -> None:
        case = await api.to_state("conference")
        await api.must_fire(case["id"], "pause", until=until(hours=24), reason="cooling off")
        await withdraw_consent(api, case["id"], case["parties"][0]["id"], "direct")
        assert {t.status for t in await tasks_of(api, case["id"], "conference_preparation")} == {"cancelled"}
        resumed = await api.must_fire(case["id"], "resume")
        assert resumed["state"] == "assessment"

    async def test_raising_the_risk_while_a_rep_facilitates_switches_the_facilitator(self, api: Api) -> None:
        case, (rep,) = await case_with_rep(api, state="assessment")
        await api.patch(case["id"], facilitator="rep")
        await api.must_fire(case["id"], "start_shuttle")
        await api.patch(case["id"], riskLevel="medium")
        after = await api.case(case["id"])
        assert (after["riskLevel"], after["facilitator"]) == ("medium", "practitioner")
        visits = [t for t in await tasks_of(api, case["id"], "shuttle_visit") if t.status == "open"]
        assert all(t.assignee_type == "practitioner" for t in visits)
        assert await audit_of(api, case["id"], "case.facilitator_switched")
        assert len(await reviews(api, case["id"])) == 1


class TestCallOffByHand:
    async def test_a_practitioner_calls_off_with_a_reason(self, api: Api) -> None:
        case = await api.to_state("conference")
        r = await api.fire(case["id"], "call_off")
        assert unmet_names(r) == ["reason_given"]
        moved = await api.must_fire(case["id"], "call_off", reason="security intelligence")
        assert moved["state"] == "shuttle_mediation"

    async def test_a_rep_may_not_call_off(self, api: Api) -> None:
        case, (rep,) = await case_with_rep(api, state="conference")
        r = await api.fire(case["id"], "call_off", key=await rep_key(api, rep), reason="heard things")
        assert r.status_code == 403, r.text


class TestRepsRecordAWithdrawal:
    async def test_a_withdrawal_a_rep_heard_acts_at_once(self, api: Api) -> None:
        case, (rep,) = await case_with_rep(api, state="conference")
        await withdraw_consent(
            api, case["id"], case["parties"][0]["id"], "direct", key=await rep_key(api, rep)
        )
        assert (await api.case(case["id"]))["state"] == "shuttle_mediation"
        (review,) = await reviews(api, case["id"])
        assert review.assignee_type == "practitioner"

    async def test_a_withdrawal_a_rep_heard_is_always_reviewed(self, api: Api) -> None:
        case, (rep,) = await case_with_rep(api, state="assessment")
        await withdraw_consent(
            api, case["id"], case["parties"][0]["id"], "letters_send", key=await rep_key(api, rep)
        )
        assert (await api.case(case["id"]))["state"] == "assessment"
        assert len(await reviews(api, case["id"])) == 1


class TestResumeRechecksTheStateItReturnsTo:
    async def test_resume_goes_to_assessment_when_the_stage_no_longer_holds(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        await api.must_fire(case["id"], "pause", until=until(hours=24), reason="cooling off")
        await withdraw_consent(api, case["id"], case["parties"][0]["id"], "indirect")
        assert (await api.case(case["id"]))["state"] == "on_hold"
        resumed = await api.must_fire(case["id"], "resume")
        assert resumed["state"] == "assessment"
        (record,) = await audit_of(api, case["id"], "case.resume")
        assert record.after["unmetResumeGates"] == ["two_parties_consent_indirect"]
        (review,) = await reviews(api, case["id"])
        assert review.due_at <= clock.now() and "could not resume" in review.instructions

    async def test_resume_goes_back_when_the_stage_still_holds(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        await api.must_fire(case["id"], "pause", until=until(hours=24), reason="cooling off")
        resumed = await api.must_fire(case["id"], "resume")
        assert resumed["state"] == "shuttle_mediation"
        assert await reviews(api, case["id"]) == []


class TestAfterTheConference:
    async def test_a_withdrawal_after_the_conference_was_held_calls_nothing_off(self, api: Api) -> None:
        case = await api.to_state("conference")
        assert (await outcome(api, case["id"])).status_code == 200
        await withdraw_consent(api, case["id"], case["parties"][0]["id"], "direct")
        assert (await api.case(case["id"]))["state"] == "conference"
        assert (await api.fire(case["id"], "conclude", outcome="resolved")).status_code == 200
