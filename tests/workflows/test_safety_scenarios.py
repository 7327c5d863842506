"""Safety at every step, as the people around a case live it: each scenario builds the case
through the API as a practitioner would, makes the change, and checks what the service did and
what the world outside sees of it: the events a subscriber reads from `GET /events`, and the
rep's list for the day, as JSON and as the printed sheet."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import clock
from app.db import Database
from app.events.service import CASE_CLOSED, CASE_PARTY_WITHDRAWN, CASE_STATE_CHANGED
from tests.cases.test_party_withdrawal import LEE, MARCUS, THREE
from tests.mediation import (
    RepDay,
    case_with_rep,
    feed_of,
    outcome,
    rep_day,
    rep_key,
    reviews,
    tasks_of,
    unmet_names,
)
from tests.reps.test_daily_list import _add
from tests.support import Api

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 09:00 on a Monday in London
SUPPORT = "Support the conference"


@pytest.fixture(autouse=True)
def a_morning_on_the_wings(db: Database) -> None:
    """The clock stands still at a known time (after `db`, which sets it going again)."""
    clock.freeze(NOW)


def moves(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None, str]]:
    """Each event's type, trigger, previous state and state."""
    return [
        (
            e["eventType"],
            e["additionalInformation"].get("trigger"),
            e["additionalInformation"].get("previousState"),
            e["additionalInformation"]["state"],
        )
        for e in events
    ]


def whom(day: RepDay) -> set[str]:
    """Whom the rep is sent to see, by the JSON list and by the printed sheet (the same)."""
    listed = {t["whom"] for t in day.tasks}
    assert {row[4] for row in day.rows()} == listed
    return listed


def numbers(case: dict[str, Any], *who: int) -> list[dict[str, str]]:
    return [{"type": "NOMS", "value": case["parties"][i]["prisonerNumber"]} for i in who]


async def conference_with_support(api: Api) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A low-risk case in conference, its rep supporting the meeting: the case, the rep, and the
    rep's preparation task, on their list and printed sheet."""
    case, [rep] = await case_with_rep(api, state="assessment")
    await api.must_fire(
        case["id"], "schedule_conference", conference=api.conference(supportingRepIds=[rep["id"]])
    )
    day = await rep_day(api, rep)
    [support] = [t["id"] for t in day.tasks if t["kind"] == "conference_preparation"]
    assert any(row[3].startswith(SUPPORT) for row in day.rows())
    return await api.case(case["id"]), rep, support


async def the_conference_is_off(api: Api, case: dict[str, Any], rep: dict[str, Any], support: str) -> None:
    """Every preparation cancelled, with why; none left on the rep's list or sheet; nothing
    more recorded of the meeting; one urgent review for the practitioner, never for the rep."""
    prep = await tasks_of(api, case["id"], "conference_preparation")
    assert len(prep) == 2  # the facilitator's and the supporting rep's
    assert {(t.status, t.cancel_reason) for t in prep} == {("cancelled", "The conference was called off.")}
    day = await rep_day(api, rep)
    assert support not in day.ids
    assert not any(row[3].startswith(SUPPORT) for row in day.rows())
    assert SUPPORT not in day.sheet
    for held in (True, False):
        assert (await outcome(api, case["id"], held=held)).status_code == 409
    (review,) = await reviews(api, case["id"])
    assert (review.assignee_type, review.assignee_id) == ("practitioner", api.keys.practitioner.client_id)
    assert review.due_at <= clock.now()
    assert str(review.id) not in day.ids


class TestConsentToMeetWithdrawn:
    async def test_the_conference_is_called_off_at_once(self, api: Api) -> None:
        """Dean tells the practitioner he no longer wants to meet Marcus, three days before the
        conference. Both still consent to messages, so the work goes on by shuttle."""
        case, rep, support = await conference_with_support(api)
        seen = len(await feed_of(api, case["id"]))

        await api.consent(case["id"], case["parties"][0]["id"], "direct", given=False)

        after = await api.case(case["id"])
        assert after["state"] == "shuttle_mediation"
        await the_conference_is_off(api, case, rep, support)
        (review,) = await reviews(api, case["id"])
        assert "without saying who withdrew" in review.instructions
        new = (await feed_of(api, case["id"]))[seen:]
        assert moves(new) == [(CASE_STATE_CHANGED, "call_off", "conference", "shuttle_mediation")]
        # Who withdrew is not singled out: the event names both parties, as every move does.
        assert new[0]["personReference"]["identifiers"] == numbers(case, 0, 1)
        assert "withdr" not in json.dumps(new).lower()


class TestRiskRaisedInConference:
    async def test_the_conference_is_called_off_to_assessment(self, api: Api) -> None:
        case, rep, support = await conference_with_support(api)
        seen = len(await feed_of(api, case["id"]))

        changed = await api.patch(case["id"], riskLevel="high")

        assert (changed["state"], changed["riskLevel"]) == ("assessment", "high")
        assert (await api.case(case["id"]))["state"] == "assessment"
        await the_conference_is_off(api, case, rep, support)
        new = (await feed_of(api, case["id"]))[seen:]
        assert moves(new) == [(CASE_STATE_CHANGED, "call_off", "conference", "assessment")]
        # Neither rearranged, nor held, nor concluded, nor arranged again while the risk is high.
        rearranged = await api.client.post(
            f"/cases/{case['id']}/conference", json=api.conference(), headers=api.keys.practitioner.headers
        )
        assert unmet_names(rearranged) == ["risk_not_high"]
        assert unmet_names(await outcome(api, case["id"])) == ["risk_not_high"]
        concluded = await api.fire(case["id"], "conclude", outcome="resolved")
        assert concluded.status_code == 409
        assert concluded.json()["errorCode"] == "TRANSITION_NOT_ALLOWED"
        again = await api.fire(case["id"], "schedule_conference", conference=api.conference())
        assert "risk_not_high" in unmet_names(again)
        assert (await feed_of(api, case["id"]))[seen:] == new


class TestRiskRaisedWhileARepFacilitates:
    async def test_the_practitioner_takes_over_the_shuttle(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="assessment")
        await api.patch(case["id"], facilitator="rep")
        await api.must_fire(case["id"], "start_shuttle")
        visits = [
            await _add(api, case, rep, "shuttle_visit", NOW + timedelta(hours=2 + who), party=who)
            for who in (0, 1)
        ]
        before = await rep_day(api, rep)
        assert set(visits) <= before.ids
        assert sum(row[3].startswith("shuttle_visit") for row in before.rows()) == 2
        seen = len(await feed_of(api, case["id"]))

        changed = await api.patch(case["id"], riskLevel="medium")

        assert (changed["state"], changed["riskLevel"], changed["facilitator"]) == (
            "shuttle_mediation",
            "medium",
            "practitioner",
        )
        stored = {str(t.id): t for t in await tasks_of(api, case["id"], "shuttle_visit")}
        assert {(stored[v].status, stored[v].assignee_type, stored[v].assignee_id) for v in visits} == {
            ("open", "practitioner", api.keys.practitioner.client_id)
        }
        after = await rep_day(api, rep)
        assert not set(visits) & after.ids
        assert not any(row[3].startswith("shuttle_visit") for row in after.rows())
        (review,) = await reviews(api, case["id"])
        assert review.due_at <= clock.now() and "tell the rep" in review.instructions
        # The case did not move: nothing for subscribers.
        assert (await feed_of(api, case["id"]))[seen:] == []


class TestConsentPassedOnByARep:
    async def test_it_does_not_let_people_meet(self, api: Api) -> None:
        """Marcus told the rep he would meet Dean; the practitioner wrote down what the rep
        said. That is enough for messages, not for a meeting."""
        case = await api.refer()
        cid = case["id"]
        dean, marcus = (p["id"] for p in case["parties"])
        await api.must_fire(cid, "accept")
        await api.patch(cid, riskLevel="low", facilitator="practitioner")
        await api.acknowledge_all(cid)
        await api.consent(cid, dean, "indirect")
        await api.consent(cid, dean, "direct")
        for scope in ("indirect", "direct"):
            r = await api.client.post(
                f"/cases/{cid}/parties/{marcus}/consents",
                json={"scope": scope, "given": True, "recordedBy": "Rep Lewis", "method": "via_rep"},
                headers=api.keys.practitioner.headers,
            )
            assert r.status_code == 201, r.text
        seen = len(await feed_of(api, cid))

        r = await api.client.get(f"/cases/{cid}/transitions", headers=api.keys.practitioner.headers)
        assert r.status_code == 200, r.text
        options = {t["trigger"]: t for t in r.json()["triggers"]}
        # Without the conference's details, keep-apart cannot be judged yet and is listed too.
        assert [g["name"] for g in options["schedule_conference"]["unmetGuards"]] == [
            "every_party_consents_direct",
            "no_open_non_association",
        ]
        assert options["schedule_conference"]["allowed"] is False
        assert options["start_shuttle"] == {
            "trigger": "start_shuttle",
            "to": "shuttle_mediation",
            "allowed": True,
            "unmetGuards": [],
        }
        refused = await api.fire(cid, "schedule_conference", conference=api.conference())
        assert unmet_names(refused) == ["every_party_consents_direct"]
        assert refused.json()["unmetGuards"][0]["description"].endswith("recorded by a practitioner")
        assert (await api.case(cid))["state"] == "assessment"
        assert (await feed_of(api, cid))[seen:] == []

        # Heard from Marcus himself, the consent counts.
        await api.consent(cid, marcus, "direct")
        moved = await api.must_fire(cid, "schedule_conference", conference=api.conference())
        assert moved["state"] == "conference"
        assert moves((await feed_of(api, cid))[seen:]) == [
            (CASE_STATE_CHANGED, "schedule_conference", "assessment", "conference")
        ]


class TestResponsibilityNotAcknowledged:
    async def test_no_contact_until_it_is_then_it_stays_inside(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="referred")
        cid = case["id"]
        marcus = case["parties"][1]
        await api.must_fire(cid, "accept")
        await api.patch(cid, riskLevel="low", facilitator="practitioner")
        await api.consent_all(cid)
        conference = api.conference()
        moves_with = {
            "start_shuttle": {},
            "start_letters": {"partyId": case["parties"][0]["id"]},
            "schedule_conference": {"conference": conference},
        }
        r = await api.client.get(f"/cases/{cid}/transitions", headers=api.keys.practitioner.headers)
        options = {t["trigger"]: t for t in r.json()["triggers"]}
        for trigger, body in moves_with.items():
            names = [g["name"] for g in options[trigger]["unmetGuards"]]
            # (keep-apart, for a conference, is judged once its details are sent)
            assert names in (
                ["responsibility_acknowledged"],
                ["responsibility_acknowledged", "no_open_non_association"],
            )
            assert unmet_names(await api.fire(cid, trigger, **body)) == ["responsibility_acknowledged"]
        seen = len(await feed_of(api, cid))

        acknowledged = await api.client.post(
            f"/cases/{cid}/parties/{marcus['id']}/responsibility",
            json={
                "acknowledged": True,
                "method": "in_person",
                "recordedBy": "Helen Ashworth",
                "note": "Accepts he threw the first punch.",
            },
            headers=api.keys.practitioner.headers,
        )

        assert acknowledged.status_code == 201, acknowledged.text
        r = await api.client.get(f"/cases/{cid}/transitions", headers=api.keys.practitioner.headers)
        options = {t["trigger"]: t for t in r.json()["triggers"]}
        assert all(options[trigger]["allowed"] for trigger in ("start_shuttle", "start_letters"))
        assert "responsibility_acknowledged" not in [
            g["name"] for g in options["schedule_conference"]["unmetGuards"]
        ]
        # Recording it told nobody outside.
        assert (await feed_of(api, cid))[seen:] == []
        moved = await api.must_fire(cid, "schedule_conference", conference=conference)
        assert moved["state"] == "conference"
        shown = await api.case(cid)
        assert shown["parties"][1]["responsibility"]["acknowledged"] is True

        # No event, no rep's view, no list carries the ledger.
        feed = json.dumps(await feed_of(api, cid)).lower()
        assert "responsib" not in feed and "acknowledg" not in feed and "punch" not in feed
        key = await rep_key(api, rep)
        as_rep = await api.client.get(f"/cases/{cid}", headers=key.headers)
        assert as_rep.status_code == 200, as_rep.text
        assert all("responsibility" not in p for p in as_rep.json()["parties"])
        assert "punch" not in as_rep.text
        ledger = await api.client.get(
            f"/cases/{cid}/parties/{marcus['id']}/responsibility", headers=key.headers
        )
        assert ledger.status_code == 403
        day = await rep_day(api, rep)
        assert day.tasks
        listed = (json.dumps(day.tasks) + day.sheet).lower()
        assert "responsib" not in listed and "acknowledg" not in listed and "punch" not in listed


class TestOneOfThreeWithdraws:
    async def test_the_case_goes_on_without_him(self, api: Api) -> None:
        """Dean was hurt by Marcus and Lee together. Lee pulls out during shuttle mediation; Dean
        and Marcus go on."""
        case, [rep] = await case_with_rep(api, state="shuttle_mediation", parties=THREE)
        lee = case["parties"][LEE]
        for_lee = await _add(api, case, rep, "shuttle_visit", NOW + timedelta(hours=2), party=LEE)
        for_marcus = await _add(api, case, rep, "shuttle_visit", NOW + timedelta(hours=3), party=MARCUS)
        before = await rep_day(api, rep)
        assert {for_lee, for_marcus} <= before.ids
        assert "Lee Grant" in whom(before)
        seen = len(await feed_of(api, case["id"]))

        r = await api.fire(case["id"], "withdraw", partyId=lee["id"])

        assert r.status_code == 200, r.text
        assert r.json()["state"] == "shuttle_mediation"
        assert [p["participating"] for p in r.json()["parties"]] == [True, True, False]
        stored = {str(t.id): t for t in await tasks_of(api, case["id"])}
        assert (stored[for_lee].status, stored[for_lee].cancel_reason) == (
            "cancelled",
            "The person withdrew from the case.",
        )
        assert stored[for_marcus].status == "open"
        lees = [t for t in stored.values() if str(t.party_id) == lee["id"] and t.status == "open"]
        # What is left open for Lee is his own wellbeing checks, with the practitioner.
        assert lees and {(t.kind, t.assignee_type) for t in lees} == {("wellbeing_check", "practitioner")}
        after = await rep_day(api, rep)
        assert for_lee not in after.ids and for_marcus in after.ids
        assert "Lee Grant" not in whom(after) and "Marcus Okoye" in whom(after)
        assert "Grant" not in after.sheet
        new = (await feed_of(api, case["id"]))[seen:]
        assert [e["eventType"] for e in new] == [CASE_PARTY_WITHDRAWN]
        assert new[0]["additionalInformation"]["partyId"] == lee["id"]
        assert new[0]["additionalInformation"]["state"] == "shuttle_mediation"
        assert new[0]["personReference"]["identifiers"] == numbers(case, LEE)


class TestDecline:
    async def test_the_visits_of_a_declined_case_are_cancelled_and_leave_the_list(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="assessment")
        visits = {str(t.id) for t in await tasks_of(api, case["id"], "assessment_visit")}
        before = await rep_day(api, rep)
        assert len(visits) == 2 and visits <= before.ids
        assert {row[2] for row in before.rows()} == {case["reference"]}
        seen = len(await feed_of(api, case["id"]))

        declined = await api.must_fire(case["id"], "decline", reason="consent_refused")

        assert declined["state"] == "closed"
        after = await rep_day(api, rep)
        assert after.tasks == [] and after.rows() == []
        assert case["reference"] not in after.sheet and "No tasks" in after.sheet
        for visit in visits:
            seen_by_staff = await api.client.get(f"/tasks/{visit}", headers=api.keys.practitioner.headers)
            seen_by_rep = await api.client.get(f"/tasks/{visit}", headers=(await rep_key(api, rep)).headers)
            assert (seen_by_staff.json()["status"], seen_by_staff.json()["cancelReason"]) == (
                "cancelled",
                "The case was declined.",
            )
            assert seen_by_staff.json()["cancelledAt"] is not None
            assert (seen_by_rep.json()["status"], seen_by_rep.json()["cancelReason"]) == ("cancelled", None)
        assert moves((await feed_of(api, case["id"]))[seen:]) == [
            (CASE_CLOSED, "decline", "assessment", "closed")
        ]


class TestFollowUpOfAPartyWhoWithdrew:
    async def test_the_practitioner_checks_on_him_not_a_rep(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        dean, marcus = case["parties"]
        seen = len(await feed_of(api, case["id"]))

        withdrawn = await api.must_fire(case["id"], "withdraw", partyId=marcus["id"])

        # Dean alone cannot go on: the case moves to follow-up, with checks on both.
        assert withdrawn["state"] == "follow_up"
        assert [p["followUp"] for p in (await api.case(case["id"]))["parties"]] == [
            "rep_visit",
            "practitioner_only",
        ]
        checks = await tasks_of(api, case["id"], "wellbeing_check")
        holders = {
            (str(t.party_id), t.assignee_type, str(t.assignee_id)) for t in checks if t.status == "open"
        }
        assert holders == {
            (dean["id"], "rep", rep["id"]),
            (marcus["id"], "practitioner", str(api.keys.practitioner.client_id)),
        }
        assert len(checks) == 8
        day = await rep_day(api, rep)
        assert whom(day) == {"Dean Walsh"} and len(day.tasks) == 4
        assert "Okoye" not in day.sheet
        mine = await api.client.get(
            "/tasks", params={"caseId": case["id"], "size": "100"}, headers=api.keys.practitioner.headers
        )
        assert mine.status_code == 200, mine.text
        for_marcus = [t for t in mine.json()["content"] if t["kind"] == "wellbeing_check" and t["party"]]
        assert {t["assignee"]["type"] for t in for_marcus if t["party"]["name"] == "Marcus Okoye"} == {
            "practitioner"
        }
        assert moves((await feed_of(api, case["id"]))[seen:]) == [
            (CASE_STATE_CHANGED, "withdraw", "shuttle_mediation", "follow_up")
        ]
