"""With the clock frozen: a case concludes, and each party's four wellbeing checks fall on the right
days of the reps' lists, then turn overdue."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app import clock
from app.timed_work.runner import run_once
from tests.mediation import case_with_rep, events_of, rep_key
from tests.support import Api, Key

CONCLUDED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 10:00 on Monday 2 March in London


async def _list(api: Api, key: Key, day: date) -> list[dict[str, Any]]:
    r = await api.client.get(f"/reps/me/tasks?date={day.isoformat()}", headers=key.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["tasks"])


class TestWellbeingChecksOnTheRightDays:
    async def test_four_checks_per_party_on_the_right_days_then_overdue(self, api: Api) -> None:
        clock.freeze(CONCLUDED - timedelta(hours=1))
        case, [rep_a, rep_b] = await case_with_rep(api, state="shuttle_mediation", reps=2)
        clock.freeze(CONCLUDED)
        await api.must_fire(case["id"], "conclude", outcome="resolved")
        keys = {rep_a["id"]: await rep_key(api, rep_a), rep_b["id"]: await rep_key(api, rep_b)}
        names = {f"{p['firstName']} {p['lastName']}" for p in case["parties"]}

        # Each party's checks go to one rep; both reps have work; all 8 checks are on the lists.
        expected_days = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 9), date(2026, 3, 30)]
        seen: dict[str, list[tuple[date, str]]] = {}
        for day in [date(2026, 3, 2) + timedelta(days=n) for n in range(30)]:
            for rep_id, key in keys.items():
                for item in await _list(api, key, day):
                    if item["overdue"]:
                        continue
                    assert item["kind"] == "wellbeing_check" and item["caseReference"] == case["reference"]
                    assert _london_day(datetime.fromisoformat(item["dueAt"])) == day
                    seen.setdefault(item["whom"], []).append((day, rep_id))
        assert set(seen) == names
        for whom, days in seen.items():
            assert [d for d, _ in days] == expected_days, whom
            assert len({r for _, r in days}) == 1, "one rep sees each party throughout"
        assert {r for days in seen.values() for _, r in days} == set(keys)

        # On the day of the 7-day check, the two earlier ones not done are overdue, listed first.
        clock.freeze(datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
        for key in keys.values():
            items = await _list(api, key, date(2026, 3, 9))
            assert [i["overdue"] for i in items] == [True, True, False]
            assert [_london_day(datetime.fromisoformat(i["dueAt"])) for i in items] == expected_days[:3]

        # The timed work announces each late check once.
        marked = (await run_once(api.db))["overdue"]
        assert marked == 4
        assert (await run_once(api.db))["overdue"] == 0
        assert len(await events_of(api, "restorative-justice.task.overdue")) == 4

        # A month on, every check left undone is overdue on the list and announced.
        clock.freeze(datetime(2026, 3, 31, 9, 0, tzinfo=UTC))
        for key in keys.values():
            items = await _list(api, key, date(2026, 3, 31))
            assert len(items) == 4 and all(i["overdue"] for i in items)
        assert (await run_once(api.db))["overdue"] == 4
        assert len(await events_of(api, "restorative-justice.task.overdue")) == 8


def _london_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo("Europe/London")).date()
