"""The timed work: cases resume when their cooling-off ends; overdue tasks are announced once."""

from datetime import UTC, datetime, timedelta

from app import clock
from app.timed_work.runner import run_once
from tests.mediation import audit_of, case_with_rep, events_of, tasks_of
from tests.support import Api

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class TestAutomaticResume:
    async def test_a_paused_case_resumes_where_it_was_when_its_time_comes(self, api: Api) -> None:
        clock.freeze(NOW)
        case, _ = await case_with_rep(api, state="shuttle_mediation")
        await api.must_fire(
            case["id"], "pause", until=(NOW + timedelta(hours=24)).isoformat(), reason="cooling off"
        )
        clock.freeze(NOW + timedelta(hours=23, minutes=59))
        assert (await run_once(api.db))["resumed"] == 0
        assert (await api.case(case["id"]))["state"] == "on_hold"
        clock.freeze(NOW + timedelta(hours=24, minutes=1))
        assert (await run_once(api.db))["resumed"] == 1
        resumed = await api.case(case["id"])
        assert resumed["state"] == "shuttle_mediation" and resumed["hold"] is None
        [record] = await audit_of(api, case["id"], "case.resume")
        assert record.actor["name"] == "rj-casework" and record.actor["clientId"] is None
        assert record.before is not None and record.before["state"] == "on_hold"
        events = await events_of(api, "restorative-justice.case.state-changed")
        assert events[-1].payload["additionalInformation"]["trigger"] == "resume"
        assert (await run_once(api.db))["resumed"] == 0

    async def test_a_case_resumed_by_hand_is_left_alone(self, api: Api) -> None:
        clock.freeze(NOW)
        case, _ = await case_with_rep(api, state="shuttle_mediation")
        await api.must_fire(
            case["id"], "pause", until=(NOW + timedelta(hours=2)).isoformat(), reason="cooling off"
        )
        await api.must_fire(case["id"], "resume")
        clock.freeze(NOW + timedelta(hours=3))
        assert (await run_once(api.db))["resumed"] == 0
        assert len(await audit_of(api, case["id"], "case.resume")) == 1


class TestOverdueTasks:
    async def test_each_overdue_task_is_announced_once(self, api: Api) -> None:
        clock.freeze(NOW)
        case, _ = await case_with_rep(api)
        visits = await tasks_of(api, case["id"], "assessment_visit")
        assert [t.due_at for t in visits] == [NOW + timedelta(days=2)] * 2
        clock.freeze(NOW + timedelta(days=2))
        assert (await run_once(api.db))["overdue"] == 0  # due now is not yet late
        clock.freeze(NOW + timedelta(days=2, minutes=1))
        assert (await run_once(api.db))["overdue"] == 2
        assert (await run_once(api.db))["overdue"] == 0
        events = await events_of(api, "restorative-justice.task.overdue")
        assert sorted(e.payload["additionalInformation"]["taskId"] for e in events) == sorted(
            str(t.id) for t in visits
        )
        numbers = sorted(e.payload["personReference"]["identifiers"][0]["value"] for e in events)
        assert numbers == sorted(p["prisonerNumber"] for p in case["parties"])
        assert events[0].payload["additionalInformation"]["reference"] == case["reference"]
        assert len(await audit_of(api, case["id"], "task.overdue")) == 2
        assert all(t.overdue_notified for t in await tasks_of(api, case["id"], "assessment_visit"))

    async def test_a_task_done_in_time_is_never_announced(self, api: Api) -> None:
        clock.freeze(NOW)
        case, _ = await case_with_rep(api)
        for task in await tasks_of(api, case["id"], "assessment_visit"):
            r = await api.client.post(
                f"/tasks/{task.id}/complete",
                json={"outcome": "willing", "durationMinutes": 20},
                headers=api.keys.practitioner.headers,
            )
            assert r.status_code == 200, r.text
        clock.freeze(NOW + timedelta(days=3))
        assert (await run_once(api.db))["overdue"] == 0
        assert await events_of(api, "restorative-justice.task.overdue") == []

    async def test_a_task_moved_later_is_not_announced_until_its_new_time(self, api: Api) -> None:
        clock.freeze(NOW)
        case, _ = await case_with_rep(api)
        task = (await tasks_of(api, case["id"], "assessment_visit"))[0]
        r = await api.client.post(
            f"/tasks/{task.id}/reschedule",
            json={"dueAt": (NOW + timedelta(days=5)).isoformat(), "reason": "party in hospital"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        clock.freeze(NOW + timedelta(days=3))
        assert (await run_once(api.db))["overdue"] == 1
        clock.freeze(NOW + timedelta(days=6))
        assert (await run_once(api.db))["overdue"] == 1
        assert len(await events_of(api, "restorative-justice.task.overdue")) == 2
