"""Each guard of the contract's workflow table, shown blocking (409 GUARD_FAILED naming it) and passing."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from app import clock
from app.common.enums import CONCLUDE_OUTCOMES, DeclineReason
from app.models.cases import Case, Consent
from app.workflows.case_workflow import GUARDS
from tests.mediation import case_with_rep, rep_key
from tests.records import (
    acknowledge_concern,
    audit_records,
    complete_wellbeing_checks,
    conference_row,
    mark_conference_held,
    raise_concern,
    tasks_of,
)
from tests.stamp_guard import touch_cases
from tests.standins.nonassociations import NonAssociations
from tests.support import Api, Key, until

CLOSE_OUTCOME = {
    "unsuitable": "unsuitable",
    "duplicate": "unsuitable",
    "out_of_scope": "unsuitable",
    "parties_unavailable": "withdrawn",
    "consent_refused": "withdrawn",
}


async def refused(
    api: Api, case_id: str, trigger: str, unmet: list[str], key: Key | None = None, **body: Any
) -> dict[str, Any]:
    """Fire `trigger`, expecting exactly the `unmet` guards to refuse it; nothing may change."""
    before = await api.case(case_id)
    records = len(await audit_records(api.db, case_id))
    r = await api.fire(case_id, trigger, key=key, **body)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = r.json()
    assert problem["errorCode"] == "GUARD_FAILED"
    assert [g["name"] for g in problem["unmetGuards"]] == unmet
    for name in unmet:
        assert GUARDS[name].description in problem["detail"]
    after = await api.case(case_id)
    assert (after["state"], after["version"]) == (before["state"], before["version"])
    assert len(await audit_records(api.db, case_id)) == records
    return problem


async def moved(api: Api, case_id: str, trigger: str, to: str, key: Key | None = None, **body: Any) -> Any:
    """Fire `trigger`, expecting the case to move to `to`."""
    r = await api.fire(case_id, trigger, key=key, **body)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == to
    return r.json()


async def accepted(api: Api, *, acknowledged: bool = True, **patch: Any) -> dict[str, Any]:
    """A referred case, accepted into assessment, with `patch` applied and (unless told) the
    person who caused harm acknowledging it."""
    case = await api.refer()
    await api.must_fire(case["id"], "accept")
    if patch:
        await api.patch(case["id"], **patch)
    if acknowledged:
        await api.acknowledge_all(case["id"])
    return await api.case(case["id"])


async def ready_to_meet(api: Api) -> dict[str, Any]:
    """An accepted low-risk case whose parties all agreed to meet."""
    case = await accepted(api, riskLevel="low")
    await api.consent_all(case["id"], ("direct",))
    return case


def party_ids(case: dict[str, Any]) -> tuple[str, str]:
    return case["parties"][0]["id"], case["parties"][1]["id"]


class TestDeclineReason:
    @pytest.mark.parametrize("reason", [None, "bored", "UNSUITABLE", ""])
    async def test_missing_or_unknown_reason_is_refused(self, api: Api, reason: str | None) -> None:
        case = await api.refer()
        body = {} if reason is None else {"reason": reason}
        await refused(api, case["id"], "decline", ["decline_reason_valid"], **body)

    @pytest.mark.parametrize("reason", [r.value for r in DeclineReason])
    async def test_each_contract_reason_closes_the_case(self, api: Api, reason: str) -> None:
        case = await api.refer()
        closed = await moved(api, case["id"], "decline", "closed", reason=reason)
        assert closed["declineReason"] == reason
        assert closed["outcome"] == CLOSE_OUTCOME[reason]
        assert closed["closedAt"] is not None


class TestRiskAssessed:
    async def test_start_shuttle_without_risk_level_is_refused(self, api: Api) -> None:
        case = await accepted(api, facilitator="practitioner")
        await api.consent_all(case["id"], ("indirect",))
        await refused(api, case["id"], "start_shuttle", ["risk_assessed"])
        await api.patch(case["id"], riskLevel="medium")
        await moved(api, case["id"], "start_shuttle", "shuttle_mediation")

    async def test_start_letters_without_risk_level_is_refused(self, api: Api) -> None:
        case = await accepted(api)
        await api.consent_all(case["id"], ("letters_send", "letters_receive"))
        await refused(api, case["id"], "start_letters", ["risk_assessed"])
        await api.patch(case["id"], riskLevel="high")
        await moved(api, case["id"], "start_letters", "letter_exchange")

    async def test_schedule_conference_without_risk_level_is_refused(self, api: Api) -> None:
        case = await accepted(api)
        await api.consent_all(case["id"], ("direct",))
        conference = api.conference()
        await refused(api, case["id"], "schedule_conference", ["risk_assessed"], conference=conference)
        await api.patch(case["id"], riskLevel="low")
        await moved(api, case["id"], "schedule_conference", "conference", conference=conference)


class TestTwoPartiesConsentIndirect:
    async def test_one_party_consenting_is_not_enough(self, api: Api) -> None:
        case = await accepted(api, riskLevel="low", facilitator="practitioner")
        first, second = party_ids(case)
        await api.consent(case["id"], first, "indirect")
        await api.consent(case["id"], second, "direct")
        await refused(api, case["id"], "start_shuttle", ["two_parties_consent_indirect"])
        await api.consent(case["id"], second, "indirect")
        await moved(api, case["id"], "start_shuttle", "shuttle_mediation")

    async def test_a_withdrawn_consent_no_longer_counts(self, api: Api) -> None:
        case = await accepted(api, riskLevel="low", facilitator="practitioner")
        first, second = party_ids(case)
        await api.consent(case["id"], first, "indirect")
        await api.consent(case["id"], second, "indirect")
        await api.consent(case["id"], second, "indirect", given=False)
        await refused(api, case["id"], "start_shuttle", ["two_parties_consent_indirect"])

    async def test_two_people_who_both_did_the_harm_are_not_a_pair(self, api: Api) -> None:
        case = await api.refer(
            parties=[
                ("A1234BC", "Dean", "Walsh", "harmer"),
                ("B2345CD", "Marcus", "Okoye", "harmer"),
                ("C3456DE", "Ryan", "Hale", "harmed"),
            ]
        )
        await api.must_fire(case["id"], "accept")
        await api.patch(case["id"], riskLevel="low", facilitator="practitioner")
        await api.acknowledge_all(case["id"])
        first, second, harmed = (p["id"] for p in (await api.case(case["id"]))["parties"])
        await api.consent(case["id"], first, "indirect")
        await api.consent(case["id"], second, "indirect")
        await refused(api, case["id"], "start_shuttle", ["two_parties_consent_indirect"])
        await api.consent(case["id"], harmed, "indirect")
        await moved(api, case["id"], "start_shuttle", "shuttle_mediation")


class TestFacilitatorSet:
    async def test_start_shuttle_without_facilitator_is_refused(self, api: Api) -> None:
        case = await accepted(api, riskLevel="low")
        await api.consent_all(case["id"], ("indirect",))
        await refused(api, case["id"], "start_shuttle", ["facilitator_set"])
        await api.patch(case["id"], facilitator="rep")
        await moved(api, case["id"], "start_shuttle", "shuttle_mediation")


class TestRepFacilitatesOnlyLowRisk:
    @pytest.mark.parametrize("risk", ["medium", "high"])
    async def test_rep_may_not_facilitate_a_riskier_case(self, api: Api, risk: str) -> None:
        case = await accepted(api, riskLevel="low", facilitator="rep")
        # Written before the risk was gated on every change (a PATCH now switches the facilitator).
        async with api.db.transaction() as session:
            await session.execute(
                update(Case).where(col(Case.id) == uuid.UUID(case["id"])).values(risk_level=risk)
            )
        await api.consent_all(case["id"], ("indirect",))
        await refused(api, case["id"], "start_shuttle", ["rep_facilitates_low_risk_only"])
        await api.patch(case["id"], facilitator="practitioner")
        await moved(api, case["id"], "start_shuttle", "shuttle_mediation")

    async def test_rep_facilitates_a_low_risk_case(self, api: Api) -> None:
        case = await accepted(api, riskLevel="low", facilitator="rep")
        await api.consent_all(case["id"], ("indirect",))
        shuttle = await moved(api, case["id"], "start_shuttle", "shuttle_mediation")
        assert shuttle["facilitator"] == "rep"


class TestLetterWriterAndRecipientConsent:
    async def test_writer_without_a_willing_recipient_is_refused(self, api: Api) -> None:
        case = await accepted(api, riskLevel="medium")
        writer, recipient = party_ids(case)
        await api.consent(case["id"], writer, "letters_send")
        await api.consent(case["id"], recipient, "indirect")
        await refused(
            api, case["id"], "start_letters", ["letter_writer_and_recipient_consent"], partyId=writer
        )
        await api.consent(case["id"], recipient, "letters_receive")
        await moved(api, case["id"], "start_letters", "letter_exchange", partyId=writer)

    async def test_named_writer_must_have_consented_to_write(self, api: Api) -> None:
        case = await accepted(api, riskLevel="medium")
        writer, other = party_ids(case)
        await api.consent(case["id"], writer, "letters_send")
        await api.consent(case["id"], other, "letters_receive")
        # The other party is willing to receive, not to write.
        await refused(
            api, case["id"], "start_letters", ["letter_writer_and_recipient_consent"], partyId=other
        )

    async def test_without_a_named_writer_any_willing_pair_will_do(self, api: Api) -> None:
        case = await accepted(api, riskLevel="medium")
        writer, other = party_ids(case)
        await api.consent(case["id"], other, "letters_send")
        await api.consent(case["id"], writer, "letters_receive")
        await moved(api, case["id"], "start_letters", "letter_exchange")


class TestRiskNotHigh:
    async def test_high_risk_case_cannot_meet_face_to_face(self, api: Api) -> None:
        case = await accepted(api, riskLevel="high")
        await api.consent_all(case["id"], ("direct",))
        conference = api.conference()
        await refused(api, case["id"], "schedule_conference", ["risk_not_high"], conference=conference)
        await api.patch(case["id"], riskLevel="medium")
        await moved(api, case["id"], "schedule_conference", "conference", conference=conference)


class TestEveryPartyConsentsDirect:
    async def test_one_party_unwilling_to_meet_is_refused(self, api: Api) -> None:
        case = await accepted(api, riskLevel="low")
        first, second = party_ids(case)
        await api.consent(case["id"], first, "direct")
        await api.consent(case["id"], second, "indirect")
        conference = api.conference()
        await refused(
            api, case["id"], "schedule_conference", ["every_party_consents_direct"], conference=conference
        )
        await api.consent(case["id"], second, "direct")
        await moved(api, case["id"], "schedule_conference", "conference", conference=conference)

    async def test_a_party_added_later_must_consent_too(self, api: Api) -> None:
        case = await accepted(api, riskLevel="low")
        await api.consent_all(case["id"], ("direct",))
        r = await api.client.post(
            f"/cases/{case['id']}/parties",
            json={"prisonerNumber": "C3456DE", "firstName": "Liam", "lastName": "Byrne", "role": "both"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        # A party in both roles must also acknowledge their part.
        await refused(
            api,
            case["id"],
            "schedule_conference",
            ["every_party_consents_direct", "responsibility_acknowledged"],
            conference=api.conference(),
        )


class TestFaceToFaceConsent:
    """A face-to-face consent counts only given in person or in writing and recorded by a
    practitioner; one passed on by a rep counts for indirect contact and letters only."""

    async def direct_consents(self, api: Api, method: str) -> dict[str, Any]:
        case = await accepted(api, riskLevel="low")
        for party in case["parties"]:
            r = await api.client.post(
                f"/cases/{case['id']}/parties/{party['id']}/consents",
                json={"scope": "direct", "given": True, "recordedBy": "Helen Ashworth", "method": method},
                headers=api.keys.practitioner.headers,
            )
            assert r.status_code == 201, r.text
        return case

    async def test_passed_on_by_a_rep_does_not_count(self, api: Api) -> None:
        case = await self.direct_consents(api, "via_rep")
        await refused(
            api,
            case["id"],
            "schedule_conference",
            ["every_party_consents_direct"],
            conference=api.conference(),
        )

    @pytest.mark.parametrize("method", ["in_person", "written"])
    async def test_in_person_or_in_writing_counts(self, api: Api, method: str) -> None:
        case = await self.direct_consents(api, method)
        await moved(api, case["id"], "schedule_conference", "conference", conference=api.conference())

    @pytest.mark.parametrize("role", ["rep", None])
    async def test_recorded_by_anyone_but_a_practitioner_does_not_count(
        self, api: Api, role: str | None
    ) -> None:
        # The recorder's role is what counts, not the name given: an entry recorded in person by
        # someone else (or whose recorder is not known) is not a practitioner's.
        case = await self.direct_consents(api, "in_person")
        second = uuid.UUID(case["parties"][1]["id"])
        async with api.db.transaction() as session:
            await session.execute(
                update(Consent)
                .where(col(Consent.party_id) == second, col(Consent.scope) == "direct")
                .values(recorded_by_role=role)
            )
            await touch_cases(session, [uuid.UUID(case["id"])])
        await refused(
            api,
            case["id"],
            "schedule_conference",
            ["every_party_consents_direct"],
            conference=api.conference(),
        )

    async def test_passed_on_by_a_rep_counts_for_indirect_contact_and_letters(self, api: Api) -> None:
        case = await accepted(api, riskLevel="low", facilitator="practitioner")
        for party in case["parties"]:
            for scope in ("indirect", "letters_send", "letters_receive"):
                r = await api.client.post(
                    f"/cases/{case['id']}/parties/{party['id']}/consents",
                    json={"scope": scope, "given": True, "recordedBy": "Rep Lewis", "method": "via_rep"},
                    headers=api.keys.practitioner.headers,
                )
                assert r.status_code == 201, r.text
        await moved(api, case["id"], "start_shuttle", "shuttle_mediation")
        await moved(api, case["id"], "start_letters", "letter_exchange")

    async def test_a_withdrawal_a_rep_heard_stops_the_meeting(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, risk="low")
        key = await rep_key(api, rep)
        r = await api.client.post(
            f"/cases/{case['id']}/parties/{case['parties'][1]['id']}/consents",
            json={"scope": "direct", "given": False, "recordedBy": "Andre Lewis", "method": "via_rep"},
            headers=key.headers,
        )
        assert r.status_code == 201, r.text
        await refused(
            api,
            case["id"],
            "schedule_conference",
            ["every_party_consents_direct"],
            conference=api.conference(),
        )


class TestResponsibilityAcknowledged:
    async def unacknowledged(self, api: Api, **patch: Any) -> dict[str, Any]:
        """An accepted case ready for every intervention but the harmer's acknowledgement."""
        case = await accepted(api, acknowledged=False, **patch)
        await api.consent_all(case["id"])
        return case

    async def test_start_shuttle_waits_for_it(self, api: Api) -> None:
        case = await self.unacknowledged(api, riskLevel="low", facilitator="practitioner")
        await refused(api, case["id"], "start_shuttle", ["responsibility_acknowledged"])
        await api.acknowledge_all(case["id"])
        await moved(api, case["id"], "start_shuttle", "shuttle_mediation")

    async def test_start_letters_waits_for_it(self, api: Api) -> None:
        case = await self.unacknowledged(api, riskLevel="medium")
        await refused(api, case["id"], "start_letters", ["responsibility_acknowledged"])
        await api.acknowledge_all(case["id"])
        await moved(api, case["id"], "start_letters", "letter_exchange")

    async def test_schedule_conference_waits_for_it(self, api: Api) -> None:
        case = await self.unacknowledged(api, riskLevel="low")
        conference = api.conference()
        await refused(
            api, case["id"], "schedule_conference", ["responsibility_acknowledged"], conference=conference
        )
        await api.acknowledge_all(case["id"])
        await moved(api, case["id"], "schedule_conference", "conference", conference=conference)

    async def test_a_later_retraction_counts_as_none(self, api: Api) -> None:
        case = await self.unacknowledged(api, riskLevel="low", facilitator="practitioner")
        harmer = case["parties"][1]["id"]
        assert (await api.acknowledge(case["id"], harmer)).status_code == 201
        assert (await api.acknowledge(case["id"], harmer, acknowledged=False)).status_code == 201
        await refused(api, case["id"], "start_shuttle", ["responsibility_acknowledged"])

    async def test_every_party_in_both_roles_acknowledges(self, api: Api) -> None:
        case = await api.refer(
            parties=[
                ("A1234BC", "Dean", "Walsh", "both"),
                ("B2345CD", "Marcus", "Okoye", "both"),
                ("C3456DE", "Liam", "Byrne", "harmed"),
            ]
        )
        await api.must_fire(case["id"], "accept")
        await api.patch(case["id"], riskLevel="low", facilitator="practitioner")
        await api.consent_all(case["id"])
        first, second, harmed = (p["id"] for p in case["parties"])
        assert (await api.acknowledge(case["id"], first)).status_code == 201
        await refused(api, case["id"], "start_shuttle", ["responsibility_acknowledged"])
        # The harmed party is never asked.
        assert (await api.acknowledge(case["id"], harmed)).status_code == 422
        assert (await api.acknowledge(case["id"], second)).status_code == 201
        await moved(api, case["id"], "start_shuttle", "shuttle_mediation")

    async def test_shown_with_the_triggers_it_blocks(self, api: Api) -> None:
        case = await self.unacknowledged(api, riskLevel="low", facilitator="practitioner")
        r = await api.client.get(f"/cases/{case['id']}/transitions", headers=api.keys.practitioner.headers)
        blocked = {
            t["trigger"]
            for t in r.json()["triggers"]
            if "responsibility_acknowledged" in [g["name"] for g in t["unmetGuards"]]
        }
        assert blocked == {"start_shuttle", "start_letters", "schedule_conference"}


class TestConferenceDetailsGiven:
    async def test_without_conference_details_is_refused(self, api: Api) -> None:
        case = await ready_to_meet(api)
        # Without details nobody has checked non-associations by hand either.
        await refused(
            api, case["id"], "schedule_conference", ["conference_details_given", "no_open_non_association"]
        )

    @pytest.mark.parametrize("missing", ["scheduledAt", "location", "facilitatorId"])
    async def test_without_a_time_a_place_or_a_facilitator_is_refused(self, api: Api, missing: str) -> None:
        case = await ready_to_meet(api)
        conference = api.conference()
        del conference[missing]
        await refused(
            api, case["id"], "schedule_conference", ["conference_details_given"], conference=conference
        )

    @pytest.mark.parametrize("who", ["manager", "referrer", "practitioner_lei", "unknown"])
    async def test_facilitator_must_be_a_practitioner_of_the_prison(self, api: Api, who: str) -> None:
        case = await ready_to_meet(api)
        facilitator = uuid.uuid4() if who == "unknown" else getattr(api.keys, who).client_id
        conference = api.conference(facilitatorId=str(facilitator))
        await refused(
            api, case["id"], "schedule_conference", ["conference_details_given"], conference=conference
        )

    async def test_a_rep_cannot_facilitate_a_conference(self, api: Api) -> None:
        case = await ready_to_meet(api)
        rep = await api.rep()
        rep_key = await api.keys.rep(uuid.UUID(rep["id"]))
        conference = api.conference(facilitatorId=str(rep_key.client_id))
        await refused(
            api, case["id"], "schedule_conference", ["conference_details_given"], conference=conference
        )

    async def test_details_given_schedule_the_conference(self, api: Api) -> None:
        case = await ready_to_meet(api)
        conference = api.conference()
        await moved(api, case["id"], "schedule_conference", "conference", conference=conference)
        saved = await conference_row(api.db, case["id"])
        assert saved.location == conference["location"]
        assert saved.facilitator_id == api.keys.practitioner.client_id
        assert saved.scheduled_at == datetime.fromisoformat(conference["scheduledAt"])
        assert saved.held is None
        prep = await tasks_of(api.db, case["id"], kind="conference_preparation")
        assert [(t.assignee_type, t.assignee_id) for t in prep] == [
            ("practitioner", api.keys.practitioner.client_id)
        ]


class TestNoOpenNonAssociation:
    async def test_unconfigured_service_needs_a_check_by_hand(self, api: Api) -> None:
        case = await ready_to_meet(api)
        conference = api.conference(keepApartCheckedByHand=False)
        await refused(
            api, case["id"], "schedule_conference", ["no_open_non_association"], conference=conference
        )
        await moved(
            api,
            case["id"],
            "schedule_conference",
            "conference",
            conference=api.conference(keepApartCheckedByHand=True),
        )

    async def test_unconfigured_service_accepts_an_override_with_a_reason(self, api: Api) -> None:
        case = await ready_to_meet(api)
        conference = api.conference(
            keepApartCheckedByHand=False, keepApartOverrideReason="Both asked to meet; wing staff agree."
        )
        await moved(api, case["id"], "schedule_conference", "conference", conference=conference)
        saved = await conference_row(api.db, case["id"])
        assert saved.keep_apart_override_reason == "Both asked to meet; wing staff agree."

    async def test_open_non_association_blocks_even_a_check_by_hand(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case = await ready_to_meet(api)
        non_associations.add("A1234BC", "B2345CD", reason="THREAT")
        await refused(
            api,
            case["id"],
            "schedule_conference",
            ["no_open_non_association"],
            conference=api.conference(keepApartCheckedByHand=True),
        )
        await moved(
            api,
            case["id"],
            "schedule_conference",
            "conference",
            conference=api.conference(keepApartOverrideReason="Meeting supervised by two officers."),
        )
        assert sorted(non_associations.requests[0]) == ["A1234BC", "B2345CD"]

    async def test_closed_non_association_does_not_block(
        self, api: Api, non_associations: NonAssociations
    ) -> None:
        case = await ready_to_meet(api)
        non_associations.add("A1234BC", "B2345CD", closed=True)
        await moved(
            api,
            case["id"],
            "schedule_conference",
            "conference",
            conference=api.conference(keepApartCheckedByHand=False),
        )


class TestConcludeOutcomeValid:
    @pytest.mark.parametrize("outcome", [None, "withdrawn", "unsuitable", "fine"])
    async def test_missing_or_other_outcome_is_refused(self, api: Api, outcome: str | None) -> None:
        case = await api.to_state("shuttle_mediation")
        body = {} if outcome is None else {"outcome": outcome}
        await refused(api, case["id"], "conclude", ["conclude_outcome_valid"], **body)

    @pytest.mark.parametrize("outcome", sorted(o.value for o in CONCLUDE_OUTCOMES))
    async def test_each_conclude_outcome_moves_to_follow_up(self, api: Api, outcome: str) -> None:
        case = await api.to_state("shuttle_mediation")
        concluded = await moved(api, case["id"], "conclude", "follow_up", outcome=outcome)
        assert concluded["outcome"] == outcome


class TestConferenceHeldWhenConcluding:
    async def test_conference_not_held_is_refused(self, api: Api) -> None:
        case = await api.to_state("conference")
        await refused(api, case["id"], "conclude", ["conference_held_if_conference"], outcome="resolved")

    async def test_conference_held_concludes(self, api: Api) -> None:
        case = await api.to_state("conference")
        await mark_conference_held(api.db, case["id"])
        await moved(api, case["id"], "conclude", "follow_up", outcome="partially_resolved")


class TestWithdrawingPartyNamed:
    async def test_without_a_party_is_refused(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        await refused(api, case["id"], "withdraw", ["withdrawing_party_named"])

    async def test_a_party_of_another_case_is_refused(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        other = await api.refer()
        await refused(
            api, case["id"], "withdraw", ["withdrawing_party_named"], partyId=other["parties"][0]["id"]
        )

    async def test_a_party_of_the_case_withdraws(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        withdrawn = await moved(api, case["id"], "withdraw", "follow_up", partyId=case["parties"][1]["id"])
        assert withdrawn["outcome"] == "withdrawn"
        records = await audit_records(api.db, case["id"])
        assert records[-1].action == "case.withdraw"
        assert records[-1].after is not None and records[-1].after["partyId"] == case["parties"][1]["id"]


class TestPauseUntilAndReason:
    async def test_without_until_is_refused(self, api: Api) -> None:
        case = await api.to_state("assessment")
        await refused(api, case["id"], "pause", ["until_given"], reason="cooling off")

    async def test_until_in_the_past_is_refused(self, api: Api) -> None:
        case = await api.to_state("assessment")
        await refused(
            api, case["id"], "pause", ["until_given"], until=until(minutes=-1), reason="cooling off"
        )

    @pytest.mark.parametrize("reason", [None, "", "   "])
    async def test_without_a_reason_is_refused(self, api: Api, reason: str | None) -> None:
        case = await api.to_state("assessment")
        body: dict[str, Any] = {"until": until(hours=2)}
        if reason is not None:
            body["reason"] = reason
        await refused(api, case["id"], "pause", ["reason_given"], **body)

    async def test_until_in_the_future_and_a_reason_pause_the_case(self, api: Api) -> None:
        case = await api.to_state("assessment")
        when = until(hours=2)
        paused = await moved(api, case["id"], "pause", "on_hold", until=when, reason="tempers high")
        assert paused["hold"]["pausedFrom"] == "assessment"
        assert datetime.fromisoformat(paused["hold"]["until"]) == datetime.fromisoformat(when)
        assert paused["hold"]["reason"] == "tempers high"


class TestRepPauseLimit:
    async def rep_on_case(self, api: Api) -> tuple[dict[str, Any], Key]:
        clock.freeze(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        case = await api.to_state("shuttle_mediation")
        rep = await api.rep()
        r = await api.assign(case["id"], [rep["id"]])
        assert r.status_code == 200, r.text
        return await api.case(case["id"]), await api.keys.rep(uuid.UUID(rep["id"]))

    async def test_rep_may_not_pause_beyond_72_hours(self, api: Api) -> None:
        case, rep_key = await self.rep_on_case(api)
        await refused(
            api,
            case["id"],
            "pause",
            ["rep_pause_within_limit"],
            key=rep_key,
            until=until(hours=72, seconds=1),
            reason="cooling off",
        )

    async def test_rep_may_pause_for_72_hours(self, api: Api) -> None:
        case, rep_key = await self.rep_on_case(api)
        paused = await moved(
            api, case["id"], "pause", "on_hold", key=rep_key, until=until(hours=72), reason="cooling off"
        )
        assert paused["view"] == "rep"
        records = await audit_records(api.db, case["id"])
        assert records[-1].actor["role"] == "rep"
        assert records[-1].actor["repId"] == case["assignment"]["repIds"][0]
        assert records[-1].actor["clientId"] == str(rep_key.client_id)

    async def test_practitioner_may_pause_for_longer(self, api: Api) -> None:
        case, _ = await self.rep_on_case(api)
        await moved(api, case["id"], "pause", "on_hold", until=until(days=14), reason="parties moved wings")


class TestCloseGuards:
    async def test_follow_up_schedules_four_wellbeing_checks_per_party(self, api: Api) -> None:
        clock.freeze(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        case = await api.to_state("follow_up")
        checks = await tasks_of(api.db, case["id"], kind="wellbeing_check")
        assert len(checks) == 4 * len(case["parties"])
        for party in case["parties"]:
            due = sorted(t.due_at for t in checks if t.party_id == uuid.UUID(party["id"]))
            assert due == [clock.now() + timedelta(hours=h) for h in (4, 24, 168, 672)]
        assert {t.status for t in checks} == {"open"}

    async def test_open_wellbeing_check_blocks_close(self, api: Api) -> None:
        case = await api.to_state("follow_up")
        await refused(api, case["id"], "close", ["no_open_wellbeing_check"])

    async def test_one_wellbeing_check_left_open_still_blocks_close(self, api: Api) -> None:
        case = await api.to_state("follow_up")
        checks = await tasks_of(api.db, case["id"], kind="wellbeing_check")
        for task in checks[:-1]:
            r = await api.client.post(
                f"/tasks/{task.id}/complete",
                json={"outcome": "seen", "durationMinutes": 10},
                headers=api.keys.practitioner.headers,
            )
            assert r.status_code == 200, r.text
        await refused(api, case["id"], "close", ["no_open_wellbeing_check"])

    async def test_every_check_done_closes(self, api: Api) -> None:
        case = await api.to_state("follow_up")
        await complete_wellbeing_checks(api.client, api.db, api.keys.practitioner, case["id"])
        closed = await moved(api, case["id"], "close", "closed")
        assert closed["closedAt"] is not None

    async def test_open_safeguarding_concern_blocks_close(self, api: Api) -> None:
        case = await api.to_state("follow_up")
        await complete_wellbeing_checks(api.client, api.db, api.keys.practitioner, case["id"])
        concern = await raise_concern(api.db, case)
        await refused(api, case["id"], "close", ["no_open_safeguarding_concern"])
        await acknowledge_concern(api.db, concern)
        await moved(api, case["id"], "close", "closed")

    async def test_both_open_are_both_named(self, api: Api) -> None:
        case = await api.to_state("follow_up")
        await raise_concern(api.db, case)
        await refused(api, case["id"], "close", ["no_open_wellbeing_check", "no_open_safeguarding_concern"])


class TestReopenReason:
    @pytest.mark.parametrize("reason", [None, " "])
    async def test_without_a_reason_is_refused(self, api: Api, reason: str | None) -> None:
        case = await api.to_state("closed")
        body = {} if reason is None else {"reason": reason}
        await refused(api, case["id"], "reopen", ["reason_given"], **body)

    async def test_a_purged_case_is_not_reopened(self, api: Api) -> None:
        case = await api.to_state("closed")
        async with api.db.transaction() as session:
            await session.execute(
                update(Case).where(col(Case.id) == uuid.UUID(case["id"])).values(purged_at=clock.now())
            )
        await refused(api, case["id"], "reopen", ["not_purged"], reason="new incident between them")

    async def test_with_a_reason_returns_to_assessment(self, api: Api) -> None:
        case = await api.to_state("closed")
        reopened = await moved(api, case["id"], "reopen", "assessment", reason="new incident between them")
        assert reopened["outcome"] is None
        assert reopened["declineReason"] is None
        assert reopened["closedAt"] is None
