"""A rep's key: 404 on every case, letter, contact, conference and task that is not theirs."""

from typing import Any

from tests.mediation import case_with_rep, rep_key, tasks_of
from tests.support import Api, until


async def _approved_letter(api: Api, case: dict[str, Any]) -> str:
    r = await api.client.post(
        f"/cases/{case['id']}/letters",
        json={
            "authorPartyId": case["parties"][0]["id"],
            "recipientPartyId": case["parties"][1]["id"],
            "body": "Sorry.",
        },
        headers=api.keys.practitioner.headers,
    )
    letter = str(r.json()["id"])
    for action in ("submit", "approve"):
        r = await api.client.post(
            f"/cases/{case['id']}/letters/{letter}/{action}", headers=api.keys.practitioner.headers
        )
        assert r.status_code == 200, r.text
    return letter


async def _contact(api: Api, case: dict[str, Any]) -> None:
    r = await api.client.post(
        f"/cases/{case['id']}/contacts",
        json={
            "kind": "support",
            "partyId": case["parties"][0]["id"],
            "occurredAt": until(hours=-1),
            "durationMinutes": 10,
            "summary": "Checked in.",
        },
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text


class TestRepScope:
    async def test_everything_of_another_reps_case_is_not_found(self, api: Api) -> None:
        mine, [me] = await case_with_rep(api, state="letter_exchange")
        theirs, [them] = await case_with_rep(
            api,
            state="letter_exchange",
            parties=[("C3456DE", "Ian", "Moss", "harmed"), ("D4567EF", "Joe", "Bell", "harmer")],
        )
        await api.patch(theirs["id"], riskNotes="Carries a blade.")
        letter = await _approved_letter(api, theirs)
        await _approved_letter(api, mine)
        await _contact(api, theirs)
        their_task = (await tasks_of(api, theirs["id"], "letter_delivery"))[0]
        key = await rep_key(api, me)
        h = key.headers
        c = api.client
        base = f"/cases/{theirs['id']}"
        reads = [
            base,
            f"/cases/{theirs['reference']}",
            f"{base}/transitions",
            f"{base}/letters",
            f"{base}/letters/{letter}",
            f"/cases/{mine['id']}/letters/{letter}",
            f"{base}/contacts",
            f"{base}/conference",
            f"/tasks/{their_task.id}",
            f"/reps/{them['id']}",
            f"/reps/{them['id']}/tasks",
            f"/reps/{them['id']}/activity",
        ]
        for path in reads:
            r = await c.get(path, headers=h)
            assert r.status_code == 404, (path, r.status_code, r.text)
            assert "Carries a blade" not in r.text and "Sorry." not in r.text
        writes = [
            (f"{base}/letters/{letter}/deliver", None),
            (f"/cases/{mine['id']}/letters/{letter}/deliver", None),
            (
                f"{base}/contacts",
                {
                    "kind": "support",
                    "partyId": theirs["parties"][0]["id"],
                    "occurredAt": until(hours=-1),
                    "durationMinutes": 5,
                    "summary": "x",
                },
            ),
            (f"{base}/transitions", {"trigger": "pause", "until": until(hours=2), "reason": "x"}),
            (f"/tasks/{their_task.id}/complete", {"outcome": "delivered", "durationMinutes": 5}),
        ]
        for path, body in writes:
            r = await c.post(path, json=body, headers=h)
            assert r.status_code == 404, (path, r.status_code, r.text)
        assert (await tasks_of(api, theirs["id"], "letter_delivery"))[0].status == "open"

        listed = await c.get("/cases", headers=h)
        assert [x["id"] for x in listed.json()["content"]] == [mine["id"]]
        tasks = await c.get("/tasks", headers=h)
        assert tasks.json()["totalElements"] > 0
        assert {t["caseId"] for t in tasks.json()["content"]} == {mine["id"]}

    async def test_on_their_own_case_a_rep_does_not_see_another_reps_task(self, api: Api) -> None:
        case, [me, colleague] = await case_with_rep(api, reps=2)
        their_task = next(
            t
            for t in await tasks_of(api, case["id"], "assessment_visit")
            if str(t.assignee_id) == colleague["id"]
        )
        key = await rep_key(api, me)
        assert (await api.client.get(f"/tasks/{their_task.id}", headers=key.headers)).status_code == 404
        r = await api.client.post(
            f"/tasks/{their_task.id}/complete",
            json={"outcome": "x", "durationMinutes": 1},
            headers=key.headers,
        )
        assert r.status_code == 404

    async def test_the_rep_view_of_their_own_case_leaves_out_risk_notes_and_prisoner_numbers(
        self, api: Api
    ) -> None:
        case, [me] = await case_with_rep(api)
        await api.patch(case["id"], riskNotes="Carries a blade.")
        r = await api.client.get(f"/cases/{case['id']}", headers=(await rep_key(api, me)).headers)
        assert r.status_code == 200
        assert r.json()["view"] == "rep"
        assert "riskNotes" not in r.json() and "Carries a blade" not in r.text
        assert all("prisonerNumber" not in p for p in r.json()["parties"])
