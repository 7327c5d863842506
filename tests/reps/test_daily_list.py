"""GET /reps/{id}/tasks and /reps/me/tasks: the day's list, most urgent first, in local time."""

from datetime import UTC, datetime, timedelta
from typing import Any

from app import clock
from tests.mediation import case_with_rep, rep_key
from tests.support import Api

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 09:00 in London (GMT)


async def _add(
    api: Api, case: dict[str, Any], rep: dict[str, Any], kind: str, due: datetime, party: int = 0
) -> str:
    r = await api.client.post(
        "/tasks",
        json={
            "caseId": case["id"],
            "kind": kind,
            "dueAt": due.isoformat(),
            "assignee": {"type": "rep", "id": rep["id"]},
            "partyId": case["parties"][party]["id"],
            "instructions": f"{kind} due {due:%d %H:%M}",
        },
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


class TestDailyList:
    async def test_overdue_then_safeguarding_then_wellbeing_then_by_time(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="referred")
        other_case, [other_rep] = await case_with_rep(api, state="referred")
        shuttle = await _add(api, case, rep, "shuttle_visit", NOW + timedelta(hours=1))
        wellbeing = await _add(api, case, rep, "wellbeing_check", NOW + timedelta(hours=2))
        safeguarding = await _add(api, case, rep, "safeguarding_check", NOW + timedelta(hours=6))
        early_shuttle = await _add(api, case, rep, "shuttle_visit", NOW - timedelta(minutes=30))
        overdue_wellbeing = await _add(api, case, rep, "wellbeing_check", NOW - timedelta(hours=20), party=1)
        tomorrow = await _add(api, case, rep, "shuttle_visit", NOW + timedelta(hours=16))
        done = await _add(api, case, rep, "wellbeing_check", NOW + timedelta(hours=3))
        completed = await api.client.post(
            f"/tasks/{done}/complete",
            json={"outcome": "ok", "durationMinutes": 5},
            headers=api.keys.practitioner.headers,
        )
        assert completed.status_code == 200, completed.text
        await _add(api, other_case, other_rep, "safeguarding_check", NOW + timedelta(hours=1))
        r = await api.client.get(
            f"/reps/{rep['id']}/tasks?date=2026-03-02", headers=api.keys.practitioner.headers
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["repId"], body["date"], body["timezone"]) == (rep["id"], "2026-03-02", "Europe/London")
        assert body["repName"] == f"{rep['firstName']} {rep['lastName']}"
        items = body["tasks"]
        assert [i["id"] for i in items] == [
            overdue_wellbeing,
            early_shuttle,
            safeguarding,
            wellbeing,
            shuttle,
        ]
        assert [i["overdue"] for i in items] == [True, True, False, False, False]
        assert tomorrow not in [i["id"] for i in items]
        first = items[0]
        party = case["parties"][1]
        assert first["caseReference"] == case["reference"]
        assert first["what"].startswith("wellbeing_check due")
        assert (first["whom"], first["where"]) == (
            f"{party['firstName']} {party['lastName']}",
            party["location"],
        )

    async def test_a_later_days_list_counts_todays_open_work_as_overdue(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="referred")
        today = await _add(api, case, rep, "shuttle_visit", NOW + timedelta(hours=3))
        tomorrow = await _add(api, case, rep, "wellbeing_check", NOW + timedelta(days=1))
        r = await api.client.get(
            f"/reps/{rep['id']}/tasks?date=2026-03-03", headers=api.keys.practitioner.headers
        )
        assert [(i["id"], i["overdue"]) for i in r.json()["tasks"]] == [(today, True), (tomorrow, False)]

    async def test_days_run_midnight_to_midnight_in_london_across_the_clock_change(self, api: Api) -> None:
        clock.freeze(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
        case, [rep] = await case_with_rep(api, state="referred")
        # Clocks go forward on 29 March: 23:30 UTC that day is 00:30 on the 30th in London.
        late = await _add(api, case, rep, "shuttle_visit", datetime(2026, 3, 29, 22, 30, tzinfo=UTC))
        next_day = await _add(api, case, rep, "shuttle_visit", datetime(2026, 3, 29, 23, 30, tzinfo=UTC))
        r = await api.client.get(
            f"/reps/{rep['id']}/tasks?date=2026-03-29", headers=api.keys.practitioner.headers
        )
        assert [i["id"] for i in r.json()["tasks"]] == [late]
        r = await api.client.get(
            f"/reps/{rep['id']}/tasks?date=2026-03-30", headers=api.keys.practitioner.headers
        )
        assert [i["id"] for i in r.json()["tasks"]] == [late, next_day]

    async def test_without_a_date_it_is_today_in_london(self, api: Api) -> None:
        clock.freeze(datetime(2026, 6, 1, 23, 30, tzinfo=UTC))  # 00:30 on 2 June in London (BST)
        rep = await api.rep()
        r = await api.client.get(f"/reps/{rep['id']}/tasks", headers=api.keys.practitioner.headers)
        assert r.status_code == 200, r.text
        assert (r.json()["date"], r.json()["tasks"]) == ("2026-06-02", [])

    async def test_a_malformed_date_is_refused(self, api: Api) -> None:
        rep = await api.rep()
        r = await api.client.get(
            f"/reps/{rep['id']}/tasks?date=02-03-2026", headers=api.keys.practitioner.headers
        )
        assert r.status_code == 422, r.text


class TestMyTasks:
    async def test_a_rep_reads_their_own_list(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="referred")
        mine = await _add(api, case, rep, "shuttle_visit", NOW + timedelta(hours=1))
        key = await rep_key(api, rep)
        r = await api.client.get("/reps/me/tasks", headers=key.headers)
        assert r.status_code == 200, r.text
        assert [i["id"] for i in r.json()["tasks"]] == [mine]
        assert (await api.client.get(f"/reps/{rep['id']}/tasks", headers=key.headers)).json() == r.json()

    async def test_a_practitioner_has_no_list_of_their_own(self, api: Api) -> None:
        r = await api.client.get("/reps/me/tasks", headers=api.keys.practitioner.headers)
        assert r.status_code == 403, r.text
