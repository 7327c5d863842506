"""Cooling off: `on_hold` remembers where it came from; resume (by hand or by the timed work) goes back."""

from datetime import UTC, datetime, timedelta

import pytest

from app import clock
from app.common.enums import CaseState
from app.timed_work.due import resume_due_cases
from app.workflows.case_workflow import BY_TRIGGER
from tests.records import audit_records, case_row, events
from tests.support import Api, until

PAUSABLE = BY_TRIGGER["pause"].sources


class TestResume:
    @pytest.mark.parametrize("state", PAUSABLE, ids=str)
    async def test_resume_returns_to_the_state_paused_from(self, api: Api, state: CaseState) -> None:
        case = await api.to_state(state)
        paused = await api.must_fire(case["id"], "pause", until=until(hours=6), reason="cooling off")
        assert paused["state"] == "on_hold"
        assert paused["hold"]["pausedFrom"] == state
        row = await case_row(api.db, case["id"])
        assert row.previous_state == state

        resumed = await api.must_fire(case["id"], "resume")

        assert resumed["state"] == state
        assert resumed["hold"] is None
        row = await case_row(api.db, case["id"])
        assert (row.previous_state, row.paused_until, row.pause_reason) == (None, None, None)
        record = (await audit_records(api.db, case["id"]))[-1]
        assert record.action == "case.resume"
        assert record.before is not None and record.before["state"] == "on_hold"
        assert record.after is not None and record.after["state"] == state

    async def test_pausing_twice_remembers_the_latest_state(self, api: Api) -> None:
        case = await api.to_state("assessment")
        await api.must_fire(case["id"], "pause", until=until(hours=6), reason="cooling off")
        await api.must_fire(case["id"], "resume")
        await api.must_fire(case["id"], "start_shuttle")
        await api.must_fire(case["id"], "pause", until=until(hours=6), reason="another row")
        resumed = await api.must_fire(case["id"], "resume")
        assert resumed["state"] == "shuttle_mediation"

    async def test_transitions_list_resume_with_its_destination(self, api: Api) -> None:
        case = await api.to_state("letter_exchange")
        await api.must_fire(case["id"], "pause", until=until(hours=6), reason="cooling off")
        r = await api.client.get(f"/cases/{case['id']}/transitions", headers=api.keys.practitioner.headers)
        assert r.status_code == 200
        # A paused case can also lose a party (the partyId is judged when it is sent).
        assert r.json()["triggers"] == [
            {"trigger": "withdraw", "to": "follow_up", "allowed": True, "unmetGuards": []},
            {"trigger": "resume", "to": "letter_exchange", "allowed": True, "unmetGuards": []},
        ]


class TestTimedWorkResumesDueCases:
    async def test_resumes_once_until_has_passed(self, api: Api) -> None:
        clock.freeze(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        case = await api.to_state("shuttle_mediation")
        await api.must_fire(case["id"], "pause", until=until(hours=2), reason="cooling off")
        events_before = len(await events(api.db, case["id"]))

        clock.advance(timedelta(hours=1, minutes=59))
        assert await resume_due_cases(api.db) == 0
        assert (await api.case(case["id"]))["state"] == "on_hold"

        clock.advance(timedelta(minutes=1))
        assert await resume_due_cases(api.db) == 1

        resumed = await api.case(case["id"])
        assert resumed["state"] == "shuttle_mediation"
        record = (await audit_records(api.db, case["id"]))[-1]
        assert record.action == "case.resume"
        assert record.actor["role"] == "admin" and record.actor["clientId"] is None
        assert record.actor["name"] == "rj-casework"
        assert record.occurred_at == clock.now()
        new_events = (await events(api.db, case["id"]))[events_before:]
        assert [e.payload["additionalInformation"]["trigger"] for e in new_events] == ["resume"]
        # Nothing left to do on the next pass.
        assert await resume_due_cases(api.db) == 0

    async def test_leaves_cases_resumed_by_hand_alone(self, api: Api) -> None:
        clock.freeze(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        case = await api.to_state("assessment")
        await api.must_fire(case["id"], "pause", until=until(hours=2), reason="cooling off")
        await api.must_fire(case["id"], "resume")
        records = len(await audit_records(api.db, case["id"]))
        clock.advance(timedelta(hours=3))
        assert await resume_due_cases(api.db) == 0
        assert len(await audit_records(api.db, case["id"])) == records

    async def test_resumes_each_due_case_to_its_own_state(self, api: Api) -> None:
        clock.freeze(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        due_soon = await api.to_state("assessment")
        due_later = await api.to_state("follow_up")
        await api.must_fire(due_soon["id"], "pause", until=until(hours=1), reason="cooling off")
        await api.must_fire(due_later["id"], "pause", until=until(hours=5), reason="cooling off")
        clock.advance(timedelta(hours=6))
        assert await resume_due_cases(api.db) == 2
        assert (await api.case(due_soon["id"]))["state"] == "assessment"
        assert (await api.case(due_later["id"]))["state"] == "follow_up"
