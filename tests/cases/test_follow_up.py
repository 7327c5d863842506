"""Follow-up as each party wants it: `PATCH /cases/{id}/parties/{partyId}` with `followUp`, the
wellbeing checks that follow it, and the default for a party who withdrew."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app import clock
from app.models.tasks import Task
from tests.mediation import audit_of, case_with_rep, rep_key, tasks_of
from tests.records import audit_records
from tests.support import Api, Key

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def patch_party(
    api: Api,
    case_id: str,
    party_id: str,
    body: dict[str, Any],
    *,
    key: Key | None = None,
    version: int | None = None,
    if_match: bool = True,
) -> httpx.Response:
    headers = dict((key or api.keys.practitioner).headers)
    if if_match:
        if version is None:
            version = (await api.case(case_id))["version"]
        headers["If-Match"] = f'"{version}"'
    return await api.client.patch(f"/cases/{case_id}/parties/{party_id}", json=body, headers=headers)


async def follow_up(api: Api, case_id: str, party_id: str, value: str) -> dict[str, Any]:
    r = await patch_party(api, case_id, party_id, {"followUp": value})
    assert r.status_code == 200, r.text
    return dict(r.json())


def party(case: dict[str, Any], n: int) -> dict[str, Any]:
    return dict(case["parties"][n])


def checks_of(tasks: list[Task], party_id: str) -> list[Task]:
    return [t for t in tasks if t.party_id == uuid.UUID(party_id)]


def holders(tasks: list[Task]) -> set[tuple[str, str, str | None]]:
    return {(t.status, t.assignee_type, str(t.assignee_id) if t.assignee_id else None) for t in tasks}


async def day_list(api: Api, rep: dict[str, Any], *, html: bool = False) -> httpx.Response:
    """The rep's list for a day after every check falls due (so it holds every open one)."""
    day = (clock.now() + timedelta(days=30)).date().isoformat()
    key = await rep_key(api, rep)
    headers = {**key.headers, **({"Accept": "text/html"} if html else {})}
    r = await api.client.get("/reps/me/tasks", params={"date": day}, headers=headers)
    assert r.status_code == 200, r.text
    return r


class TestPatchParty:
    async def test_default_is_rep_visits(self, api: Api) -> None:
        case = await api.refer()
        assert [p["followUp"] for p in case["parties"]] == ["rep_visit", "rep_visit"]

    async def test_a_practitioner_sets_it_with_if_match(self, api: Api) -> None:
        case = await api.refer()
        target = party(case, 1)
        r = await patch_party(api, case["id"], target["id"], {"followUp": "practitioner_only"})
        assert r.status_code == 200, r.text
        changed = r.json()
        assert changed["version"] == case["version"] + 1
        assert r.headers["ETag"] == f'"{changed["version"]}"'
        assert [p["followUp"] for p in changed["parties"]] == ["rep_visit", "practitioner_only"]
        assert (await api.case(case["id"]))["parties"] == changed["parties"]
        [record] = await audit_of(api, case["id"], "party.updated")
        assert record.entity_id == target["id"]
        assert record.before == {"followUp": "rep_visit"}
        assert record.after == {"party": "Marcus Okoye", "followUp": "practitioner_only"}
        assert record.actor["clientId"] == str(api.keys.practitioner.client_id)

    async def test_without_if_match_is_428_and_stale_is_412(self, api: Api) -> None:
        case = await api.refer()
        target = party(case, 0)["id"]
        r = await patch_party(api, case["id"], target, {"followUp": "no_contact"}, if_match=False)
        assert r.status_code == 428
        r = await patch_party(
            api, case["id"], target, {"followUp": "no_contact"}, version=case["version"] + 1
        )
        assert r.status_code == 412
        assert r.json()["errorCode"] == "VERSION_MISMATCH"
        assert party(await api.case(case["id"]), 0)["followUp"] == "rep_visit"

    @pytest.mark.parametrize(
        "body",
        [{}, {"followUp": None}, {"followUp": "weekly"}, {"followUp": "no_contact", "role": "harmed"}],
        ids=["empty", "null", "unknown", "other-field"],
    )
    async def test_bad_bodies_are_422(self, api: Api, body: dict[str, Any]) -> None:
        case = await api.refer()
        r = await patch_party(api, case["id"], party(case, 0)["id"], body)
        assert r.status_code == 422, r.text
        assert (await api.case(case["id"]))["version"] == case["version"]

    async def test_only_a_practitioner_may(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="referred")
        target = party(case, 0)["id"]
        key = await rep_key(api, rep)
        for who in (key, api.keys.manager, api.keys.referrer, api.keys.admin):
            r = await patch_party(api, case["id"], target, {"followUp": "no_contact"}, key=who)
            assert r.status_code == 403, r.text

    async def test_a_party_of_another_case_is_404(self, api: Api) -> None:
        case, other = await api.refer(), await api.refer()
        r = await patch_party(api, case["id"], party(other, 0)["id"], {"followUp": "no_contact"})
        assert r.status_code == 404
        assert party(await api.case(other["id"]), 0)["followUp"] == "rep_visit"

    async def test_a_closed_case_is_409(self, api: Api) -> None:
        case = await api.to_state("closed")
        r = await patch_party(api, case["id"], party(case, 0)["id"], {"followUp": "no_contact"})
        assert r.status_code == 409
        assert r.json()["errorCode"] == "INVALID_STATE"

    async def test_reps_are_not_shown_it(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="referred")
        await follow_up(api, case["id"], party(case, 0)["id"], "practitioner_only")
        seen = await api.case(case["id"], key=await rep_key(api, rep))
        assert all("followUp" not in p for p in seen["parties"])


class TestWellbeingChecksFollowIt:
    async def test_checks_are_scheduled_as_each_party_wants(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(
            api,
            state="shuttle_mediation",
            parties=[
                ("A1234BC", "Dean", "Walsh", "harmed"),
                ("B2345CD", "Marcus", "Okoye", "harmer"),
                ("C3456DE", "Liam", "Byrne", "both"),
            ],
        )
        harmed, harmer, both = (p["id"] for p in case["parties"])
        await follow_up(api, case["id"], harmer, "practitioner_only")
        await follow_up(api, case["id"], both, "no_contact")
        await api.must_fire(case["id"], "conclude", outcome="resolved")

        checks = await tasks_of(api, case["id"], kind="wellbeing_check")
        practitioner = str(api.keys.practitioner.client_id)
        assert holders(checks_of(checks, harmed)) == {("open", "rep", rep["id"])}
        assert holders(checks_of(checks, harmer)) == {("open", "practitioner", practitioner)}
        assert len(checks_of(checks, harmer)) == 4
        assert checks_of(checks, both) == []

        # No rep's day list shows the practitioner's checks, nor anyone asked to be left alone.
        listed = (await day_list(api, rep)).json()["tasks"]
        assert {t["whom"] for t in listed} == {"Dean Walsh"}
        assert len(listed) == 4
        sheet = (await day_list(api, rep, html=True)).text
        assert "Walsh" in sheet
        assert "Okoye" not in sheet and "Byrne" not in sheet

    async def test_changing_it_moves_open_checks_in_the_same_change(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="follow_up")
        target = party(case, 1)["id"]
        practitioner = str(api.keys.practitioner.client_id)
        first = checks_of(await tasks_of(api, case["id"], kind="wellbeing_check"), target)
        assert holders(first) == {("open", "rep", rep["id"])}
        # One check done already: it stays as it was.
        done = await api.client.post(
            f"/tasks/{first[0].id}/complete",
            json={"outcome": "Seen on the wing", "durationMinutes": 15},
            headers=api.keys.practitioner.headers,
        )
        assert done.status_code == 200, done.text
        records = len(await audit_records(api.db, case["id"]))

        await follow_up(api, case["id"], target, "practitioner_only")
        checks = checks_of(await tasks_of(api, case["id"], kind="wellbeing_check"), target)
        assert holders(checks[1:]) == {("open", "practitioner", practitioner)}
        assert checks[0].status == "done"
        actions = [r.action for r in await audit_records(api.db, case["id"])][records:]
        assert actions == ["party.updated"] + ["task.reassigned"] * 3
        listed = (await day_list(api, rep)).json()["tasks"]
        assert "Marcus Okoye" not in {t["whom"] for t in listed}

        await follow_up(api, case["id"], target, "rep_visit")
        checks = checks_of(await tasks_of(api, case["id"], kind="wellbeing_check"), target)
        assert holders(checks[1:]) == {("open", "rep", rep["id"])}

        await follow_up(api, case["id"], target, "no_contact")
        checks = checks_of(await tasks_of(api, case["id"], kind="wellbeing_check"), target)
        assert {t.status for t in checks[1:]} == {"cancelled"}
        assert checks[0].status == "done"
        cancelled = await audit_of(api, case["id"], "task.cancelled")
        assert len(cancelled) == 3
        assert cancelled[0].after is not None
        assert cancelled[0].after["reason"] == "the party asked not to be contacted"
        # The other party's checks are untouched, and the case can close once they are done.
        other = checks_of(await tasks_of(api, case["id"], kind="wellbeing_check"), party(case, 0)["id"])
        assert holders(other) == {("open", "rep", rep["id"])}

    async def test_no_contact_never_stops_a_check_a_safeguarding_concern_asked_for(self, api: Api) -> None:
        case, [_rep] = await case_with_rep(api, state="follow_up")
        target = party(case, 0)
        r = await api.client.post(
            "/safeguarding-concerns",
            json={
                "prisonerNumber": target["prisonerNumber"],
                "caseId": case["id"],
                "category": "self_harm",
                "detail": "Said he has been thinking about hurting himself.",
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        await follow_up(api, case["id"], target["id"], "no_contact")
        checks = checks_of(await tasks_of(api, case["id"], kind="wellbeing_check"), target["id"])
        assert [t.status for t in checks if t.instructions.startswith("Wellbeing check after")] == ["open"]
        assert {t.status for t in checks if not t.instructions.startswith("Wellbeing check after")} == {
            "cancelled"
        }
        assert [t.status for t in await tasks_of(api, case["id"], kind="safeguarding_check")] == ["open"]

    async def test_a_first_rep_takes_only_the_checks_of_those_who_want_rep_visits(self, api: Api) -> None:
        clock.freeze(NOW)
        case = await api.to_state("follow_up")
        first, second = party(case, 0)["id"], party(case, 1)["id"]
        await follow_up(api, case["id"], second, "practitioner_only")
        rep = await api.rep()
        assert (await api.assign(case["id"], [rep["id"]])).status_code == 200
        checks = await tasks_of(api, case["id"], kind="wellbeing_check")
        assert holders(checks_of(checks, first)) == {("open", "rep", rep["id"])}
        practitioner = str(api.keys.practitioner.client_id)
        assert holders(checks_of(checks, second)) == {("open", "practitioner", practitioner)}

    async def test_a_party_who_withdrew_is_checked_on_by_the_practitioner(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        leaving, staying = party(case, 1)["id"], party(case, 0)["id"]
        withdrawn = await api.must_fire(case["id"], "withdraw", partyId=leaving)
        assert {p["id"]: p["followUp"] for p in withdrawn["parties"]} == {
            staying: "rep_visit",
            leaving: "practitioner_only",
        }
        assert (await api.case(case["id"]))["parties"] == withdrawn["parties"]
        checks = await tasks_of(api, case["id"], kind="wellbeing_check")
        practitioner = str(api.keys.practitioner.client_id)
        assert holders(checks_of(checks, leaving)) == {("open", "practitioner", practitioner)}
        assert holders(checks_of(checks, staying)) == {("open", "rep", rep["id"])}

    async def test_a_preference_given_before_the_withdrawal_stands(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        leaving = party(case, 1)["id"]
        await follow_up(api, case["id"], leaving, "rep_visit")
        withdrawn = await api.must_fire(case["id"], "withdraw", partyId=leaving)
        assert party(withdrawn, 1)["followUp"] == "rep_visit"
        checks = checks_of(await tasks_of(api, case["id"], kind="wellbeing_check"), leaving)
        assert holders(checks) == {("open", "rep", rep["id"])}


async def test_checks_held_by_the_practitioner_still_hold_off_closing(api: Api) -> None:
    case = await api.to_state("shuttle_mediation")
    await follow_up(api, case["id"], party(case, 0)["id"], "practitioner_only")
    await follow_up(api, case["id"], party(case, 1)["id"], "no_contact")
    await api.must_fire(case["id"], "conclude", outcome="resolved")
    r = await api.fire(case["id"], "close")
    assert r.status_code == 409
    assert [g["name"] for g in r.json()["unmetGuards"]] == ["no_open_wellbeing_check"]
    assert len(await tasks_of(api, case["id"], kind="wellbeing_check")) == 4


async def add_task(api: Api, case: dict[str, Any], party_id: str, assignee: dict[str, Any]) -> httpx.Response:
    return await api.client.post(
        "/tasks",
        json={
            "caseId": case["id"],
            "partyId": party_id,
            "kind": "shuttle_visit",
            "dueAt": (clock.now() + timedelta(hours=6)).isoformat(),
            "assignee": assignee,
            "instructions": "Carry Dean's message to him",
        },
        headers=api.keys.practitioner.headers,
    )


class TestEveryVisitFollowsIt:
    """A party who asked not to be visited by reps is not visited by reps at all: not for the
    assessment, a shuttle message or a letter's delivery, as not for a wellbeing check."""

    async def test_assessment_visits_go_to_the_practitioner(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="referred")
        seen_by_reps, not_by_reps = party(case, 0)["id"], party(case, 1)["id"]
        await follow_up(api, case["id"], not_by_reps, "practitioner_only")
        await api.must_fire(case["id"], "accept")
        visits = await tasks_of(api, case["id"], kind="assessment_visit")
        practitioner = str(api.keys.practitioner.client_id)
        assert holders(checks_of(visits, seen_by_reps)) == {("open", "rep", rep["id"])}
        assert holders(checks_of(visits, not_by_reps)) == {("open", "practitioner", practitioner)}

    async def test_changing_it_moves_every_visit_a_rep_holds(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        target, other = party(case, 1)["id"], party(case, 0)["id"]
        shuttle = await add_task(api, case, target, {"type": "rep", "id": rep["id"]})
        assert shuttle.status_code == 201, shuttle.text
        records = len(await audit_records(api.db, case["id"]))

        await follow_up(api, case["id"], target, "practitioner_only")

        practitioner = str(api.keys.practitioner.client_id)
        mine = [t for t in await tasks_of(api, case["id"]) if t.party_id == uuid.UUID(target)]
        assert holders([t for t in mine if t.status == "open"]) == {("open", "practitioner", practitioner)}
        assert {t.kind for t in mine if t.status == "open"} == {"assessment_visit", "shuttle_visit"}
        theirs = [t for t in await tasks_of(api, case["id"], kind="assessment_visit")]
        assert holders(checks_of(theirs, other)) == {("open", "rep", rep["id"])}
        actions = [r.action for r in await audit_records(api.db, case["id"])][records:]
        assert actions == ["party.updated"] + ["task.reassigned"] * 2
        listed = (await day_list(api, rep)).json()["tasks"]
        assert "Marcus Okoye" not in {t["whom"] for t in listed}

        # Rep visits allowed again: the visits stay with the practitioner, who took them.
        await follow_up(api, case["id"], target, "rep_visit")
        mine = [t for t in await tasks_of(api, case["id"]) if t.party_id == uuid.UUID(target)]
        assert holders([t for t in mine if t.status == "open"]) == {("open", "practitioner", practitioner)}

    async def test_no_contact_moves_visits_to_the_practitioner_too(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="assessment")
        target = party(case, 0)["id"]
        await follow_up(api, case["id"], target, "no_contact")
        visits = checks_of(await tasks_of(api, case["id"], kind="assessment_visit"), target)
        assert holders(visits) == {("open", "practitioner", str(api.keys.practitioner.client_id))}
        assert rep

    async def test_a_task_of_theirs_is_never_given_to_a_rep_by_hand(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        target = party(case, 1)["id"]
        await follow_up(api, case["id"], target, "practitioner_only")

        r = await add_task(api, case, target, {"type": "rep", "id": rep["id"]})
        assert r.status_code == 422, r.text
        assert "Marcus Okoye asked not to be visited by reps" in r.json()["detail"]

        [visit] = checks_of(await tasks_of(api, case["id"], kind="assessment_visit"), target)
        r = await api.client.post(
            f"/tasks/{visit.id}/reassign",
            json={"assignee": {"type": "rep", "id": rep["id"]}, "reason": "Andre is on the wing"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text
        [visit] = checks_of(await tasks_of(api, case["id"], kind="assessment_visit"), target)
        assert visit.assignee_type == "practitioner"

    async def test_a_letter_to_them_is_delivered_by_the_practitioner(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="letter_exchange")
        recipient = party(case, 1)["id"]
        await follow_up(api, case["id"], recipient, "practitioner_only")
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={
                "authorPartyId": party(case, 0)["id"],
                "recipientPartyId": recipient,
                "body": "I am sorry for what happened on the landing.",
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        letter = r.json()["id"]
        for action in ("submit", "approve"):
            r = await api.client.post(
                f"/cases/{case['id']}/letters/{letter}/{action}", headers=api.keys.practitioner.headers
            )
            assert r.status_code == 200, r.text
        [delivery] = await tasks_of(api, case["id"], kind="letter_delivery")
        assert (delivery.assignee_type, str(delivery.assignee_id)) == (
            "practitioner",
            str(api.keys.practitioner.client_id),
        )
        assert rep

    async def test_a_first_rep_takes_no_visit_of_theirs(self, api: Api) -> None:
        case = await api.to_state("assessment")
        first, second = party(case, 0)["id"], party(case, 1)["id"]
        await follow_up(api, case["id"], second, "practitioner_only")
        rep = await api.rep()
        assert (await api.assign(case["id"], [rep["id"]])).status_code == 200
        visits = await tasks_of(api, case["id"], kind="assessment_visit")
        assert holders(checks_of(visits, first)) == {("open", "rep", rep["id"])}
        practitioner = str(api.keys.practitioner.client_id)
        assert holders(checks_of(visits, second)) == {("open", "practitioner", practitioner)}
