"""No rep's day list, as JSON or printed, shows a task of a declined or closed case: the moves
cancel such tasks, and the list's own query leaves out any a closed case still has open."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from app import clock
from app.models.tasks import Task
from tests.mediation import case_with_rep, rep_key, tasks_of
from tests.reps.test_daily_list import _add
from tests.support import Api

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 09:00 in London
TODAY = "2026-03-02"
VISIT_DAY = "2026-03-04"


async def lists(api: Api, rep: dict[str, Any], day: str = TODAY) -> tuple[list[str], list[str], str]:
    """The rep's list for `day` (today, by the clock) as the rep reads it: asked for plainly (on
    PostgreSQL, the driver's statement), asked for by its date (the session's), and printed."""
    headers = (await rep_key(api, rep)).headers
    plain = await api.client.get(f"/reps/{rep['id']}/tasks", headers=headers)
    dated = await api.client.get(f"/reps/{rep['id']}/tasks?date={day}", headers=headers)
    sheet = await api.client.get(
        f"/reps/{rep['id']}/tasks?date={day}", headers={**headers, "Accept": "text/html"}
    )
    for r in (plain, dated, sheet):
        assert r.status_code == 200, r.text
    assert plain.json()["date"] == day
    assert sheet.headers["content-type"].startswith("text/html")
    return [t["id"] for t in plain.json()["tasks"]], [t["id"] for t in dated.json()["tasks"]], sheet.text


class TestDeclineClearsTheRepsList:
    async def test_the_assessment_visits_of_a_declined_case_leave_the_list(self, api: Api) -> None:
        """Today, a rep is sent to see the man who refused: accepting the case put an assessment
        visit to each party on the rep's sheet, and the practitioner then declined it."""
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="assessment")
        visits = [str(t.id) for t in await tasks_of(api, case["id"], "assessment_visit")]
        assert len(visits) == 2
        # Two days on, the morning the visits fall due.
        clock.freeze(NOW + timedelta(days=2) - timedelta(hours=1))
        plain, dated, sheet = await lists(api, rep, VISIT_DAY)
        assert set(visits) <= set(plain) and set(visits) <= set(dated)
        assert case["reference"] in sheet

        declined = await api.must_fire(case["id"], "decline", reason="consent_refused")

        assert declined["state"] == "closed"
        plain, dated, sheet = await lists(api, rep, VISIT_DAY)
        assert plain == dated == []
        assert case["reference"] not in sheet
        stored = await tasks_of(api, case["id"], "assessment_visit")
        assert {(t.status, t.cancel_reason) for t in stored} == {("cancelled", "The case was declined.")}
        assert all(t.cancelled_at is not None for t in stored)
        # Read from the task, the reason is for staff: a rep sees only that it was cancelled.
        as_practitioner = await api.client.get(f"/tasks/{visits[0]}", headers=api.keys.practitioner.headers)
        as_rep = await api.client.get(f"/tasks/{visits[0]}", headers=(await rep_key(api, rep)).headers)
        assert as_practitioner.json()["cancelReason"] == "The case was declined."
        assert (as_rep.json()["status"], as_rep.json()["cancelReason"]) == ("cancelled", None)


class TestTheListsOwnRule:
    async def test_a_task_a_closed_case_still_has_open_is_left_out(self, api: Api) -> None:
        """Even were a task of a closed case left open (written before this rule, or by a path
        that forgot), no list shows it: both statements leave it out."""
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="referred")
        other = await api.refer()
        assert (await api.assign(other["id"], [rep["id"]])).status_code == 200
        kept = await _add(api, other, rep, "wellbeing_check", NOW + timedelta(hours=1))
        left = await _add(api, case, rep, "wellbeing_check", NOW + timedelta(hours=2))
        off_case = await _off_case_task(api, rep)
        assert (await api.fire(case["id"], "decline", reason="unsuitable")).status_code == 200
        await _reopen_task(api, left, rep)

        plain, dated, sheet = await lists(api, rep)

        assert plain == dated == [kept, off_case]
        assert case["reference"] not in sheet and other["reference"] in sheet


async def _off_case_task(api: Api, rep: dict[str, Any]) -> str:
    """A task outside any case, for the rep: no case, so nothing closed to leave it out for."""
    r = await api.client.post(
        "/tasks",
        json={
            "prisonId": "MDI",
            "kind": "wellbeing_check",
            "dueAt": (NOW + timedelta(hours=3)).isoformat(),
            "assignee": {"type": "rep", "id": rep["id"]},
            "instructions": "Check on the new arrival on B wing",
        },
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _reopen_task(api: Api, task_id: str, rep: dict[str, Any]) -> None:
    """Put a task back open on the rep's list behind the service's back."""
    async with api.db.transaction() as session:
        await session.execute(
            update(Task)
            .where(col(Task.id) == uuid.UUID(task_id))
            .values(status="open", assignee_type="rep", assignee_id=uuid.UUID(rep["id"]), cancel_reason=None)
        )
