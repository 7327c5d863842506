"""One party leaves, the others go on: `withdraw` with `partyId` takes that party out; the case
keeps its state while the pairing rule holds for the rest, and moves to follow-up otherwise."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app import clock
from app.db import Database
from tests.mediation import audit_of, case_with_rep, rep_key, tasks_of
from tests.records import case_row, events
from tests.support import Api, until

# Dean was hurt by Marcus and Lee together.
THREE = [
    ("A1111AA", "Dean", "Walsh", "harmed"),
    ("B2222BB", "Marcus", "Okoye", "harmer"),
    ("C3333CC", "Lee", "Grant", "harmer"),
]
DEAN, MARCUS, LEE = 0, 1, 2
PARTY_WITHDRAWN = "restorative-justice.case.party-withdrawn"
STATE_CHANGED = "restorative-justice.case.state-changed"


@pytest.fixture(autouse=True)
def a_morning_on_the_wings(db: Database) -> None:
    """09:00 in London: a visit due in two hours is on today's list, whenever the tests run
    (after `db`, which sets the clock going again)."""
    clock.freeze(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


async def three_party(api: Api, state: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A case of three, every party consenting to everything, one rep, brought to `state`."""
    case, [rep] = await case_with_rep(api, state=state, parties=THREE)
    return case, rep


async def withdraw(api: Api, case: dict[str, Any], who: int) -> httpx.Response:
    return await api.fire(case["id"], "withdraw", partyId=case["parties"][who]["id"])


async def visit(
    api: Api, case: dict[str, Any], rep: dict[str, Any], who: int, kind: str = "shuttle_visit"
) -> str:
    r = await api.client.post(
        "/tasks",
        json={
            "caseId": case["id"],
            "kind": kind,
            "dueAt": until(hours=2),
            "assignee": {"type": "rep", "id": rep["id"]},
            "partyId": case["parties"][who]["id"],
            "instructions": f"{kind} to party {who}",
        },
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def taking_part(case: dict[str, Any]) -> list[bool]:
    return [p["participating"] for p in case["parties"]]


async def day_list(api: Api, rep: dict[str, Any]) -> list[dict[str, Any]]:
    r = await api.client.get(f"/reps/{rep['id']}/tasks", headers=(await rep_key(api, rep)).headers)
    assert r.status_code == 200, r.text
    return list(r.json()["tasks"])


class TestThreePartyConflict:
    async def test_one_harmer_withdraws_and_the_others_go_on(self, api: Api) -> None:
        """The scenario: Lee, one of the two who hurt Dean, withdraws during shuttle mediation.
        Dean and Marcus still consent to indirect contact, so their mediation goes on."""
        case, rep = await three_party(api, "shuttle_mediation")
        lee = case["parties"][LEE]
        for_lee, for_marcus = await visit(api, case, rep, LEE), await visit(api, case, rep, MARCUS)
        assert {for_lee, for_marcus} <= {t["id"] for t in await day_list(api, rep)}
        events_before = await events(api.db, case["id"])

        r = await withdraw(api, case, LEE)

        assert r.status_code == 200, r.text
        after = r.json()
        assert after["state"] == "shuttle_mediation"
        assert after["outcome"] is None
        assert after["version"] == case["version"] + 1
        assert r.headers["ETag"] == f'"{after["version"]}"'
        assert taking_part(after) == [True, True, False]
        assert taking_part(await api.case(case["id"])) == [True, True, False]
        # Lee's open work is cancelled, with the reason; Marcus's goes on.
        tasks = {str(t.id): t for t in await tasks_of(api, case["id"])}
        assert (tasks[for_lee].status, tasks[for_lee].cancel_reason) == (
            "cancelled",
            "The person withdrew from the case.",
        )
        assert tasks[for_marcus].status == "open"
        lee_visits = [
            t for t in tasks.values() if str(t.party_id) == lee["id"] and t.kind == "assessment_visit"
        ]
        assert [t.status for t in lee_visits] == ["cancelled"]
        listed = {t["id"] for t in await day_list(api, rep)}
        assert for_lee not in listed and for_marcus in listed
        # Lee's own wellbeing checks start now; nobody else's.
        checks = [t for t in tasks.values() if t.kind == "wellbeing_check"]
        assert {str(t.party_id) for t in checks} == {lee["id"]} and len(checks) == 4
        # One audit record of the withdrawal, the state unchanged.
        [record] = await audit_of(api, case["id"], "case.withdraw")
        assert record.before is not None and record.after is not None
        assert record.before["state"] == record.after["state"] == "shuttle_mediation"
        assert record.after["partyId"] == lee["id"] and record.after["participating"] is False
        assert set(record.after["cancelledTaskIds"]) == {for_lee, *(str(t.id) for t in lee_visits)}
        # One event: a party left; the case did not move.
        new_events = (await events(api.db, case["id"]))[len(events_before) :]
        assert [e.event_type for e in new_events] == [PARTY_WITHDRAWN]
        payload = new_events[0].payload
        assert payload["additionalInformation"]["state"] == "shuttle_mediation"
        assert payload["additionalInformation"]["partyId"] == lee["id"]
        assert payload["personReference"]["identifiers"] == [{"type": "NOMS", "value": "C3333CC"}]
        timeline = await api.client.get(
            f"/cases/{case['id']}/timeline", headers=api.keys.practitioner.headers
        )
        assert timeline.json()[-1]["text"] == "A party withdrew; the case goes on in shuttle mediation."

    async def test_when_the_last_on_one_side_withdraws_the_case_moves_to_follow_up(self, api: Api) -> None:
        case, _ = await three_party(api, "shuttle_mediation")
        assert (await withdraw(api, case, LEE)).status_code == 200

        r = await withdraw(api, case, MARCUS)

        assert r.status_code == 200, r.text
        after = r.json()
        assert (after["state"], after["outcome"]) == ("follow_up", "withdrawn")
        assert taking_part(after) == [True, False, False]
        assert (await events(api.db, case["id"]))[-1].event_type == STATE_CHANGED
        # Wellbeing checks: Lee's from his withdrawal, then Dean's and Marcus's; none twice.
        checks = await tasks_of(api, case["id"], "wellbeing_check")
        per_party = {p["id"]: sum(str(t.party_id) == p["id"] for t in checks) for p in case["parties"]}
        assert per_party == {p["id"]: 4 for p in case["parties"]}

    async def test_concluding_later_checks_on_the_leaver_only_once(self, api: Api) -> None:
        case, _ = await three_party(api, "shuttle_mediation")
        assert (await withdraw(api, case, LEE)).status_code == 200
        await api.must_fire(case["id"], "conclude", outcome="partially_resolved")
        checks = await tasks_of(api, case["id"], "wellbeing_check")
        per_party = {p["id"]: sum(str(t.party_id) == p["id"] for t in checks) for p in case["parties"]}
        assert per_party == {p["id"]: 4 for p in case["parties"]}

    async def test_the_person_harmed_withdrawing_ends_the_case_for_the_two_who_harmed_him(
        self, api: Api
    ) -> None:
        case, _ = await three_party(api, "shuttle_mediation")
        r = await withdraw(api, case, DEAN)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "follow_up"

    async def test_the_others_must_still_consent_to_the_contact_of_the_stage(self, api: Api) -> None:
        case, _ = await three_party(api, "shuttle_mediation")
        await api.consent(case["id"], case["parties"][LEE]["id"], "indirect", given=False)
        # Dean and Lee would be left, and Lee no longer consents to indirect contact.
        r = await withdraw(api, case, MARCUS)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "follow_up"

    async def test_a_conference_goes_on_for_those_who_consent_to_meet(self, api: Api) -> None:
        case, _ = await three_party(api, "conference")
        r = await withdraw(api, case, LEE)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "conference"
        prep = await tasks_of(api, case["id"], "conference_preparation")
        assert prep and {t.status for t in prep} == {"open"}

    async def test_a_conference_is_called_off_when_one_no_longer_consents_to_meet(self, api: Api) -> None:
        case, _ = await three_party(api, "conference")
        await api.consent(case["id"], case["parties"][MARCUS]["id"], "direct", given=False)
        # Called off at once; the pair that still consents to indirect contact goes on in shuttle.
        assert (await api.case(case["id"]))["state"] == "shuttle_mediation"

    async def test_a_party_who_withdrew_cannot_withdraw_again(self, api: Api) -> None:
        case, _ = await three_party(api, "assessment")
        assert (await withdraw(api, case, LEE)).status_code == 200
        r = await withdraw(api, case, LEE)
        assert r.status_code == 409, r.text
        assert [g["name"] for g in r.json()["unmetGuards"]] == ["withdrawing_party_named"]

    async def test_without_a_party_withdraw_is_refused_as_before(self, api: Api) -> None:
        case, _ = await three_party(api, "assessment")
        r = await api.fire(case["id"], "withdraw")
        assert r.status_code == 409, r.text
        assert [g["name"] for g in r.json()["unmetGuards"]] == ["withdrawing_party_named"]

    async def test_reps_and_lists_see_who_takes_part(self, api: Api) -> None:
        case, rep = await three_party(api, "assessment")
        assert (await withdraw(api, case, LEE)).status_code == 200
        assert taking_part(await api.case(case["id"], await rep_key(api, rep))) == [True, True, False]
        r = await api.client.get(
            "/cases", params={"state": "assessment"}, headers=api.keys.practitioner.headers
        )
        [listed] = [c for c in r.json()["content"] if c["id"] == case["id"]]
        assert taking_part(listed) == [True, True, False]


class TestLettersOfTheLeaver:
    async def test_letters_to_or_from_the_leaver_are_withheld_and_the_others_still_go(self, api: Api) -> None:
        case, _ = await three_party(api, "letter_exchange")
        dean, marcus, lee = (case["parties"][i]["id"] for i in (DEAN, MARCUS, LEE))
        to_marcus = await letter(api, case, dean, marcus, approve=True)
        to_lee = await letter(api, case, dean, lee, approve=True)
        from_lee = await letter(api, case, lee, dean, approve=True)
        drafted = await letter(api, case, lee, marcus)

        r = await withdraw(api, case, LEE)

        assert r.status_code == 200, r.text
        assert r.json()["state"] == "letter_exchange"
        statuses = await letter_statuses(api, case)
        assert statuses == {
            to_marcus: "approved",
            to_lee: "withheld",
            from_lee: "withheld",
            drafted: "withheld",
        }
        deliveries = {str(t.letter_id): t for t in await tasks_of(api, case["id"], "letter_delivery")}
        assert deliveries[to_marcus].status == "open"
        # To Lee: his own task. From Lee, to Dean: the letter's, withheld.
        assert (deliveries[to_lee].status, deliveries[to_lee].cancel_reason) == (
            "cancelled",
            "The person withdrew from the case.",
        )
        assert (deliveries[from_lee].status, deliveries[from_lee].cancel_reason) == (
            "cancelled",
            "The letter was withheld.",
        )
        assert len(await audit_of(api, case["id"], "letter.withheld")) == 3

    async def test_when_the_case_ends_every_undelivered_letter_is_withheld(self, api: Api) -> None:
        """Lee no longer consents to indirect contact, so Marcus leaving ends the case: Dean's
        letter to Lee, which Marcus has no part in, is withheld too."""
        case, _ = await three_party(api, "letter_exchange")
        dean, lee = case["parties"][DEAN]["id"], case["parties"][LEE]["id"]
        to_lee = await letter(api, case, dean, lee, approve=True)
        await api.consent(case["id"], lee, "indirect", given=False)
        r = await withdraw(api, case, MARCUS)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "follow_up"
        assert await letter_statuses(api, case) == {to_lee: "withheld"}
        [delivery] = await tasks_of(api, case["id"], "letter_delivery")
        assert delivery.status == "cancelled"


class TestWhileOnHold:
    async def test_a_paused_case_stays_paused_when_the_others_can_go_on(self, api: Api) -> None:
        case, _ = await three_party(api, "shuttle_mediation")
        paused = await api.must_fire(case["id"], "pause", until=until(hours=24), reason="cooling off")

        r = await withdraw(api, case, LEE)

        assert r.status_code == 200, r.text
        after = r.json()
        assert after["state"] == "on_hold" and after["hold"] == paused["hold"]
        assert (await events(api.db, case["id"]))[-1].event_type == PARTY_WITHDRAWN
        resumed = await api.must_fire(case["id"], "resume")
        assert resumed["state"] == "shuttle_mediation"

    async def test_a_paused_case_is_judged_by_the_stage_it_will_resume(self, api: Api) -> None:
        case, _ = await three_party(api, "shuttle_mediation")
        await api.consent(case["id"], case["parties"][LEE]["id"], "indirect", given=False)
        await api.must_fire(case["id"], "pause", until=until(hours=24), reason="cooling off")
        r = await withdraw(api, case, MARCUS)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "follow_up"

    async def test_a_paused_case_that_ends_leaves_its_pause_behind(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="on_hold")
        r = await withdraw(api, case, 1)
        assert r.status_code == 200, r.text
        after = r.json()
        assert (after["state"], after["hold"], after["outcome"]) == ("follow_up", None, "withdrawn")
        # Nothing is left for the timed work to resume.
        clock.advance(timedelta(days=2))
        resumed = await api.fire(case["id"], "resume")
        assert resumed.status_code == 409
        row = await case_row(api.db, case["id"])
        assert (row.previous_state, row.paused_until, row.pause_reason) == (None, None, None)


class TestOnlyThoseTakingPartCount:
    async def test_a_party_who_left_does_not_block_a_conference(self, api: Api) -> None:
        """Lee never agreed to meet. Once he has left, Dean and Marcus may."""
        case = await api.refer(parties=THREE)
        cid = case["id"]
        await api.must_fire(cid, "accept")
        await api.patch(cid, riskLevel="low", facilitator="practitioner")
        for who in (DEAN, MARCUS):
            for scope in ("indirect", "direct"):
                await api.consent(cid, case["parties"][who]["id"], scope)
        await api.acknowledge_all(cid)
        refused = await api.fire(cid, "schedule_conference", conference=api.conference())
        assert refused.status_code == 409
        assert "every_party_consents_direct" in [g["name"] for g in refused.json()["unmetGuards"]]

        assert (await withdraw(api, case, LEE)).status_code == 200

        r = await api.fire(cid, "schedule_conference", conference=api.conference())
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "conference"

    async def test_a_party_who_left_does_not_count_towards_two_consenting(self, api: Api) -> None:
        """Dean and Marcus consented to indirect contact, Lee not yet. Marcus leaves during the
        assessment (Dean and Lee can still be paired): his consent no longer counts."""
        case = await api.refer(parties=THREE)
        cid = case["id"]
        await api.must_fire(cid, "accept")
        await api.patch(cid, riskLevel="low", facilitator="practitioner")
        await api.consent(cid, case["parties"][DEAN]["id"], "indirect")
        await api.consent(cid, case["parties"][MARCUS]["id"], "indirect")
        await api.acknowledge_all(cid)
        assert (await withdraw(api, case, MARCUS)).json()["state"] == "assessment"
        r = await api.fire(cid, "start_shuttle")
        assert r.status_code == 409, r.text
        assert [g["name"] for g in r.json()["unmetGuards"]] == ["two_parties_consent_indirect"]


async def letter(
    api: Api, case: dict[str, Any], author: str, recipient: str, *, approve: bool = False
) -> str:
    r = await api.client.post(
        f"/cases/{case['id']}/letters",
        json={"authorPartyId": author, "recipientPartyId": recipient, "body": "About what happened."},
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    letter_id = str(r.json()["id"])
    if approve:
        for action in ("submit", "approve"):
            moved = await api.client.post(
                f"/cases/{case['id']}/letters/{letter_id}/{action}", headers=api.keys.practitioner.headers
            )
            assert moved.status_code == 200, moved.text
    return letter_id


async def letter_statuses(api: Api, case: dict[str, Any]) -> dict[str, str]:
    r = await api.client.get(f"/cases/{case['id']}/letters", headers=api.keys.practitioner.headers)
    assert r.status_code == 200, r.text
    return {str(uuid.UUID(item["id"])): item["status"] for item in r.json()}
