"""GET /reps/{id}/activity: the rep's volunteer hours, naming no party."""

from datetime import UTC, datetime, timedelta
from typing import Any

from app import clock
from tests.mediation import case_with_rep, rep_key, tasks_of
from tests.support import Api, Key

NOW = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)


async def _contact(api: Api, case: dict[str, Any], key: Key, kind: str, minutes: int, when: datetime) -> None:
    r = await api.client.post(
        f"/cases/{case['id']}/contacts",
        json={
            "kind": kind,
            "partyId": case["parties"][0]["id"],
            "occurredAt": when.isoformat(),
            "durationMinutes": minutes,
            "summary": "Dean Walsh talked about the debt.",
        },
        headers=key.headers,
    )
    assert r.status_code == 201, r.text


class TestActivity:
    async def test_hours_come_from_contacts_and_completed_tasks_counted_once(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep, other] = await case_with_rep(api, state="follow_up", reps=2)
        key, other_key = await rep_key(api, rep), await rep_key(api, other)
        await _contact(api, case, key, "assessment", 30, NOW - timedelta(days=3))
        await _contact(api, case, key, "shuttle", 45, NOW - timedelta(days=2))
        await _contact(api, case, key, "shuttle", 10, NOW - timedelta(days=40))  # before the range
        await _contact(api, case, other_key, "support", 60, NOW - timedelta(days=1))  # someone else's
        check = next(
            t for t in await tasks_of(api, case["id"], "wellbeing_check") if str(t.assignee_id) == rep["id"]
        )
        r = await api.client.post(
            f"/tasks/{check.id}/complete",
            json={"outcome": "fine", "durationMinutes": 20},
            headers=key.headers,
        )
        assert r.status_code == 200, r.text
        r = await api.client.post(
            "/tasks",
            json={
                "caseId": case["id"],
                "kind": "conference_preparation",
                "dueAt": NOW.isoformat(),
                "assignee": {"type": "rep", "id": rep["id"]},
                "instructions": "Help set up the room.",
            },
            headers=api.keys.practitioner.headers,
        )
        r = await api.client.post(
            f"/tasks/{r.json()['id']}/complete",
            json={"outcome": "done", "durationMinutes": 25},
            headers=key.headers,
        )
        assert r.status_code == 200, r.text
        r = await api.client.get(
            f"/reps/{rep['id']}/activity?from=2026-03-01&to=2026-03-20", headers=api.keys.practitioner.headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["from"], body["to"], body["totalMinutes"], body["totalHours"]) == (
            "2026-03-01",
            "2026-03-20",
            120,
            2.0,
        )
        assert body["byActivity"] == [
            {"activity": "Assessment visit", "count": 1, "minutes": 30},
            {"activity": "Conference support", "count": 1, "minutes": 25},
            {"activity": "Shuttle mediation round", "count": 1, "minutes": 45},
            {"activity": "Wellbeing visit", "count": 1, "minutes": 20},
        ]
        assert [(i["date"], i["source"]) for i in body["items"]] == [
            ("2026-03-17", "contact"),
            ("2026-03-18", "contact"),
            ("2026-03-20", "contact"),
            ("2026-03-20", "task"),
        ]
        text = r.text
        for party in case["parties"]:
            assert party["firstName"] not in text and party["prisonerNumber"] not in text
        assert case["reference"] not in text and "debt" not in text

    async def test_a_rep_reads_their_own_hours_but_not_another_reps(self, api: Api) -> None:
        me, other = await api.rep(), await api.rep()
        key = await rep_key(api, me)
        assert (await api.client.get(f"/reps/{me['id']}/activity", headers=key.headers)).status_code == 200
        assert (await api.client.get(f"/reps/{other['id']}/activity", headers=key.headers)).status_code == 404

    async def test_a_range_longer_than_a_year_is_refused(self, api: Api) -> None:
        rep = await api.rep()
        r = await api.client.get(
            f"/reps/{rep['id']}/activity?from=2025-01-01&to=2026-03-01", headers=api.keys.practitioner.headers
        )
        assert r.status_code == 422, r.text
