"""Completing work that depends on consent re-checks it, as a move checks its guards: a shuttle
visit needs the party's indirect consent, a letter delivery the recipient's consent to letters."""

from typing import Any

import httpx

from app.workflows.case_workflow import GUARDS
from tests.cases.test_follow_up import follow_up
from tests.cases.test_party_withdrawal import THREE
from tests.mediation import case_with_rep, rep_key, tasks_of
from tests.support import Api, Key, until


async def shuttle_visit(api: Api, case: dict[str, Any], rep: dict[str, Any], party: int = 1) -> str:
    r = await api.client.post(
        "/tasks",
        json={
            "caseId": case["id"],
            "kind": "shuttle_visit",
            "dueAt": until(hours=4),
            "assignee": {"type": "rep", "id": rep["id"]},
            "partyId": case["parties"][party]["id"],
            "instructions": "Take Dean's message to Marcus",
        },
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def complete(api: Api, task: str, key: Key, **extra: Any) -> httpx.Response:
    return await api.client.post(
        f"/tasks/{task}/complete",
        json={"outcome": "message passed on", "durationMinutes": 20, **extra},
        headers=key.headers,
    )


def refused_for(r: httpx.Response, guard: str) -> None:
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["errorCode"] == "GUARD_FAILED"
    assert problem["unmetGuards"] == [{"name": guard, "description": GUARDS[guard].description}]


class TestShuttleVisit:
    async def test_completed_while_the_party_consents(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        task = await shuttle_visit(api, case, rep)
        r = await complete(api, task, await rep_key(api, rep))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "done"

    async def test_refused_once_the_party_withdrew_indirect_consent(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        task = await shuttle_visit(api, case, rep)
        await api.consent(case["id"], case["parties"][1]["id"], "indirect", given=False)

        r = await complete(api, task, await rep_key(api, rep))

        refused_for(r, "party_consents_indirect")
        [stored] = await tasks_of(api, case["id"], "shuttle_visit")
        assert stored.status == "open"
        contacts = await api.client.get(
            f"/cases/{case['id']}/contacts", headers=api.keys.practitioner.headers
        )
        assert contacts.json() == []

    async def test_refused_for_a_party_who_withdrew(self, api: Api) -> None:
        """Their consent stands in the ledger, but they have left the case: a visit added for them
        afterwards cannot be recorded as done."""
        case, [rep] = await case_with_rep(api, state="assessment", parties=THREE)
        # They said reps may still visit them: a visit may be given to a rep.
        await follow_up(api, case["id"], case["parties"][2]["id"], "rep_visit")
        assert (await api.fire(case["id"], "withdraw", partyId=case["parties"][2]["id"])).status_code == 200
        await api.must_fire(case["id"], "start_shuttle")
        task = await shuttle_visit(api, case, rep, party=2)
        r = await complete(api, task, await rep_key(api, rep))
        refused_for(r, "party_consents_indirect")

    async def test_a_concern_found_is_pointed_to_its_own_route(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        task = await shuttle_visit(api, case, rep)
        await api.consent(case["id"], case["parties"][1]["id"], "indirect", given=False)
        r = await complete(
            api, task, await rep_key(api, rep), concern={"category": "violence_threat", "detail": "threats"}
        )
        refused_for(r, "party_consents_indirect")
        assert "POST /safeguarding-concerns" in r.json()["detail"]

    async def test_other_work_is_not_gated_on_consent(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="shuttle_mediation")
        await api.consent(case["id"], case["parties"][0]["id"], "indirect", given=False)
        [visit] = [t for t in await tasks_of(api, case["id"], "assessment_visit") if t.party_id is not None][
            :1
        ]
        r = await complete(api, str(visit.id), await rep_key(api, rep))
        assert r.status_code == 200, r.text


class TestLetterDelivery:
    async def test_refused_once_the_recipient_withdrew_consent_to_letters(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="letter_exchange")
        parties = case["parties"]
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={"authorPartyId": parties[0]["id"], "recipientPartyId": parties[1]["id"], "body": "Sorry."},
            headers=api.keys.practitioner.headers,
        )
        letter = r.json()["id"]
        for action in ("submit", "approve"):
            moved = await api.client.post(
                f"/cases/{case['id']}/letters/{letter}/{action}", headers=api.keys.practitioner.headers
            )
            assert moved.status_code == 200, moved.text
        [delivery] = await tasks_of(api, case["id"], "letter_delivery")
        await api.consent(case["id"], parties[1]["id"], "letters_receive", given=False)

        r = await complete(api, str(delivery.id), await rep_key(api, rep))

        refused_for(r, "recipient_consents_letters")
        [stored] = await tasks_of(api, case["id"], "letter_delivery")
        assert stored.status == "open"
        read = await api.client.get(
            f"/cases/{case['id']}/letters/{letter}", headers=api.keys.practitioner.headers
        )
        assert read.json()["status"] == "approved"
