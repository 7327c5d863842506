"""A rep's hours are one figure: the summary report and the rep's own activity count the same work."""

from datetime import UTC, datetime, timedelta
from typing import Any

from app import clock
from tests.mediation import case_with_rep, rep_key, tasks_of
from tests.support import Api, Key

# In British Summer Time, so that a day in local time is not a day in UTC.
NOW = datetime(2026, 6, 20, 15, 0, tzinfo=UTC)
PERIOD = "from=2026-06-01&to=2026-06-20"


async def _contact(api: Api, case: dict[str, Any], key: Key, kind: str, minutes: int, when: datetime) -> None:
    r = await api.client.post(
        f"/cases/{case['id']}/contacts",
        json={
            "kind": kind,
            "partyId": case["parties"][0]["id"],
            "occurredAt": when.isoformat(),
            "durationMinutes": minutes,
            "summary": "Talked about the landing.",
        },
        headers=key.headers,
    )
    assert r.status_code == 201, r.text


class TestOneFigure:
    async def test_the_summary_and_the_reps_activity_agree(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep, other] = await case_with_rep(api, state="follow_up", reps=2)
        key, other_key = await rep_key(api, rep), await rep_key(api, other)
        await _contact(api, case, key, "assessment", 30, NOW - timedelta(days=3))
        # 00:30 on 1 June in London: inside the period, though still 31 May in UTC.
        await _contact(api, case, key, "shuttle", 45, datetime(2026, 5, 31, 23, 30, tzinfo=UTC))
        await _contact(api, case, key, "shuttle", 10, NOW - timedelta(days=40))  # before the period
        await _contact(api, case, other_key, "support", 60, NOW - timedelta(days=1))  # someone else's
        check = next(
            t for t in await tasks_of(api, case["id"], "wellbeing_check") if str(t.assignee_id) == rep["id"]
        )
        # A visit task writes its contact: counted once.
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
        assert r.status_code == 201, r.text
        r = await api.client.post(
            f"/tasks/{r.json()['id']}/complete",
            json={"outcome": "done", "durationMinutes": 25},
            headers=key.headers,
        )
        assert r.status_code == 200, r.text

        r = await api.client.get(
            f"/reps/{rep['id']}/activity?{PERIOD}", headers=api.keys.practitioner.headers
        )
        assert r.status_code == 200, r.text
        activity = r.json()
        r = await api.client.get(f"/reports/summary?prisonId=MDI&{PERIOD}", headers=api.keys.manager.headers)
        assert r.status_code == 200, r.text
        in_report = {row["repId"]: row for row in r.json()["repHours"]["byRep"]}
        mine = in_report[rep["id"]]
        assert (
            (mine["minutes"], mine["hours"])
            == (activity["totalMinutes"], activity["totalHours"])
            == (120, 2.0)
        )
        assert mine["activities"] == len(activity["items"]) == 4
        assert mine["name"] == activity["repName"] == f"{rep['firstName']} {rep['lastName']}"
        assert in_report[other["id"]]["minutes"] == 60
