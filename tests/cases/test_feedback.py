"""POST /cases/{id}/parties/{partyId}/feedback: a participant's answers, once per stage, only when
the stage has come, never read back but by the person themself."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.models.feedback import Feedback
from tests.mediation import audit_of, case_with_rep, rep_key, tasks_of
from tests.support import Api, Key

NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
COMMENT = "I could say what it did to me, and he listened."


def answers(stage: str = "conclusion", **kw: Any) -> dict[str, Any]:
    return {"stage": stage, "feltHeard": 5, "feltSafe": 4, "wouldRecommend": 5, "comment": COMMENT, **kw}


async def give(
    api: Api, case: dict[str, Any], party: dict[str, Any], body: dict[str, Any], key: Key | None = None
) -> Any:
    return await api.client.post(
        f"/cases/{case['id']}/parties/{party['id']}/feedback",
        json=body,
        headers=(key or api.keys.practitioner).headers,
    )


async def stored(api: Api, party_id: str) -> list[Feedback]:
    async with api.db.transaction() as session:
        rows = await session.execute(select(Feedback).where(col(Feedback.party_id) == uuid.UUID(party_id)))
        return list(rows.scalars())


class TestAtConclusion:
    async def test_recorded_with_who_collected_it_and_no_comment_in_the_answer(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="follow_up")
        party = case["parties"][0]
        key = await rep_key(api, rep)
        r = await give(api, case, party, answers(), key)
        assert r.status_code == 201, r.text
        body = r.json()
        assert {k: body[k] for k in ("partyId", "stage", "feltHeard", "feltSafe", "wouldRecommend")} == {
            "partyId": party["id"],
            "stage": "conclusion",
            "feltHeard": 5,
            "feltSafe": 4,
            "wouldRecommend": 5,
        }
        assert body["collectedByRole"] == "rep"
        assert COMMENT not in r.text
        [row] = await stored(api, party["id"])
        assert (row.comment, row.party_role, row.collected_by_rep_id) == (
            COMMENT,
            party["role"],
            uuid.UUID(rep["id"]),
        )
        [record] = await audit_of(api, case["id"], "feedback.recorded")
        assert record.after is not None and record.after["stage"] == "conclusion"
        assert "feltHeard" not in record.after and COMMENT not in str(record.after)

    async def test_a_second_answer_at_the_same_stage_is_refused(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="follow_up")
        party = case["parties"][0]
        assert (await give(api, case, party, answers())).status_code == 201
        r = await give(api, case, party, answers(feltHeard=1))
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "FEEDBACK_EXISTS"
        assert [f.felt_heard for f in await stored(api, party["id"])] == [5]

    async def test_before_the_work_ended_is_refused(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="shuttle_mediation")
        r = await give(api, case, case["parties"][0], answers())
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"
        assert "follow_up or closed" in r.json()["detail"] and "shuttle_mediation" in r.json()["detail"]

    async def test_scores_outside_one_to_five_are_refused(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="follow_up")
        for bad in (0, 6, "5", 4.5):
            r = await give(api, case, case["parties"][0], answers(feltSafe=bad))
            assert r.status_code == 422, (bad, r.text)

    async def test_a_party_of_another_case_is_not_found(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="follow_up")
        other, _ = await case_with_rep(api, state="follow_up")
        r = await give(api, case, other["parties"][0], answers())
        assert r.status_code == 404, r.text

    async def test_answers_cannot_be_read_back(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="follow_up")
        party = case["parties"][0]
        r = await api.client.get(
            f"/cases/{case['id']}/parties/{party['id']}/feedback", headers=api.keys.practitioner.headers
        )
        assert r.status_code == 405


class TestAtFollowUp:
    async def test_waits_for_the_partys_last_wellbeing_check(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="follow_up")
        party = case["parties"][0]
        r = await give(api, case, party, answers("follow_up"))
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"
        assert "still open" in r.json()["detail"]
        checks = [
            t for t in await tasks_of(api, case["id"], "wellbeing_check") if str(t.party_id) == party["id"]
        ]
        assert checks
        key = await rep_key(api, rep)
        for check in checks:
            r = await api.client.post(
                f"/tasks/{check.id}/complete",
                json={"outcome": "fine", "durationMinutes": 10},
                headers=key.headers,
            )
            assert r.status_code == 200, r.text
        r = await give(api, case, party, answers("follow_up"), key)
        assert r.status_code == 201, r.text
        # The other party's checks are still open: their follow-up answers still wait.
        r = await give(api, case, case["parties"][1], answers("follow_up"))
        assert r.status_code == 409, r.text


class TestSubjectAccess:
    async def test_the_person_gets_their_answers_and_comment(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="follow_up")
        party = case["parties"][0]
        assert (await give(api, case, party, answers())).status_code == 201
        r = await api.client.get(
            f"/subject-access-request?prn={party['prisonerNumber']}", headers=api.keys.admin.headers
        )
        assert r.status_code == 200, r.text
        [entry] = [c for c in r.json()["content"]["cases"] if c["caseId"] == case["id"]]
        [answer] = entry["feedback"]
        assert {k: answer[k] for k in ("stage", "feltHeard", "feltSafe", "wouldRecommend", "comment")} == {
            "stage": "conclusion",
            "feltHeard": 5,
            "feltSafe": 4,
            "wouldRecommend": 5,
            "comment": COMMENT,
        }
        other = case["parties"][1]
        r = await api.client.get(
            f"/subject-access-request?prn={other['prisonerNumber']}", headers=api.keys.admin.headers
        )
        assert COMMENT not in r.text
