"""A rep's day list's direct path (`app.api.direct.DirectRepTasks`): on PostgreSQL today's list
asked for plainly is read on a driver connection; it answers and refuses exactly as the route's
usual way does; every other request still goes the usual way."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app import clock
from app.reps import service as reps_service
from tests.mediation import case_with_rep, rep_key
from tests.reps.test_daily_list import _add
from tests.support import Api, answered, direct_answers

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 09:00 in London
TODAY = "2026-03-02"


@pytest.fixture
def directly(monkeypatch: pytest.MonkeyPatch, is_postgres: bool) -> list[bool]:
    """For each day list read the direct path took up, whether it answered it."""
    if not is_postgres:
        pytest.skip("the direct path is PostgreSQL's")
    return direct_answers(monkeypatch, "today")


async def a_busy_rep(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """A rep with open tasks of several kinds, some overdue, and one done."""
    clock.freeze(NOW)
    case, [rep] = await case_with_rep(api, state="referred")
    await _add(api, case, rep, "shuttle_visit", NOW + timedelta(hours=1))
    await _add(api, case, rep, "wellbeing_check", NOW - timedelta(hours=20), party=1)
    await _add(api, case, rep, "safeguarding_check", NOW + timedelta(hours=6))
    await _add(api, case, rep, "shuttle_visit", NOW + timedelta(days=2))
    done = await _add(api, case, rep, "wellbeing_check", NOW + timedelta(hours=3))
    r = await api.client.post(
        f"/tasks/{done}/complete",
        json={"outcome": "ok", "durationMinutes": 5},
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 200, r.text
    return case, rep


async def both_ways(api: Api, rep_id: str, headers: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
    """Today's list asked for plainly, and the same list asked for by its date (the usual way)."""
    plain = await api.client.get(f"/reps/{rep_id}/tasks", headers=headers)
    dated = await api.client.get(f"/reps/{rep_id}/tasks?date={TODAY}", headers=headers)
    return plain, dated


class TestSameAsTheUsualWay:
    async def test_same_list_for_each_caller_who_may_read_it(self, api: Api, directly: list[bool]) -> None:
        _, rep = await a_busy_rep(api)
        for key in (api.keys.practitioner, api.keys.manager, await rep_key(api, rep)):
            directly.clear()
            plain, dated = await both_ways(api, rep["id"], key.headers)
            assert directly == [True]
            assert plain.status_code == 200, plain.text
            assert answered(plain) == answered(dated)
            assert len(plain.json()["tasks"]) == 3 and plain.json()["date"] == TODAY

    async def test_same_list_whatever_its_tasks_hold(self, api: Api, directly: list[bool]) -> None:
        """The tasks as PostgreSQL writes them on the direct path, against the route's model:
        text that JSON escapes, times with and without microseconds, a task due this instant,
        tasks with no case or no party to see, a long list in its order, and an empty one."""
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="referred")
        odd = [
            'Say "sorry" \\ then wait',
            "Café at 10 — ok? ✓ 🙂",
            "line one\nline two\ttabbed",
            "\u0007 bell",
        ]
        for n in range(24):
            due = NOW + timedelta(hours=n % 7 - 3, minutes=n, microseconds=(n * 12345) % 1_000_000 * (n % 2))
            body: dict[str, Any] = {
                "kind": ("shuttle_visit", "wellbeing_check", "safeguarding_check")[n % 3],
                "dueAt": due.isoformat(),
                "assignee": {"type": "rep", "id": rep["id"]},
                "instructions": odd[n % len(odd)] + f" #{n}",
            }
            if n % 5:
                body["caseId"] = case["id"]
                if n % 4:
                    body["partyId"] = case["parties"][n % 2]["id"]
            else:
                body["prisonId"] = case["prisonId"]
            r = await api.client.post("/tasks", json=body, headers=api.keys.practitioner.headers)
            assert r.status_code == 201, r.text
        await _add(api, case, rep, "shuttle_visit", NOW)  # due this very instant: not yet overdue
        headers = api.keys.practitioner.headers
        plain, dated = await both_ways(api, rep["id"], headers)
        assert directly == [True]
        assert answered(plain) == answered(dated)
        assert plain.content == dated.content  # written alike, byte for byte
        listed = plain.json()["tasks"]
        assert len(listed) == 25
        assert {t["whom"] is None for t in listed} == {True, False}
        assert {t["caseId"] is None for t in listed} == {True, False}
        assert any("." in t["dueAt"] for t in listed) and any("." not in t["dueAt"] for t in listed)
        assert {t["what"].split(" #")[0] for t in listed} >= set(odd)
        # a rep with no tasks at all
        _, [idle] = await case_with_rep(api, state="referred")
        plain, dated = await both_ways(api, idle["id"], headers)
        assert answered(plain) == answered(dated)
        assert plain.json()["tasks"] == []

    async def test_same_refusals(self, api: Api, directly: list[bool]) -> None:
        _, rep = await a_busy_rep(api)
        _, other = await case_with_rep(api, state="referred")
        elsewhere = await api.rep(prison="LEI")
        refusals = [
            # another prison's rep, for a practitioner of MDI
            (elsewhere["id"], api.keys.practitioner.headers, 404),
            # another rep's list, for a rep
            (other[0]["id"], (await rep_key(api, rep)).headers, 404),
            # no such rep
            ("00000000-0000-4000-8000-000000000000", api.keys.practitioner.headers, 404),
            # a role that reads no task lists
            (rep["id"], api.keys.referrer.headers, 403),
        ]
        for rep_id, headers, status in refusals:
            plain, dated = await both_ways(api, rep_id, headers)
            assert plain.status_code == status, plain.text
            assert answered(plain) == answered(dated)
        assert directly == [True] * len(refusals)


class TestWhatGoesTheUsualWay:
    async def test_anything_but_todays_list_as_json_for_an_api_key(
        self, api: Api, directly: list[bool]
    ) -> None:
        _, rep = await a_busy_rep(api)
        headers = api.keys.practitioner.headers
        usual = [
            api.client.get(f"/reps/{rep['id']}/tasks?date={TODAY}", headers=headers),
            api.client.get(f"/reps/{rep['id']}/tasks", headers={**headers, "Accept": "text/html"}),
            api.client.get(f"/reps/{rep['id'].upper()}/tasks", headers=headers),
        ]
        for request in usual:
            r = await request
            assert r.status_code == 200, r.text
        assert directly == []

    async def test_a_key_it_does_not_know_is_the_routes_to_refuse(
        self, api: Api, directly: list[bool]
    ) -> None:
        _, rep = await a_busy_rep(api)
        for headers in ({"Authorization": "Bearer rjk_not-a-key"}, {}):
            r = await api.client.get(f"/reps/{rep['id']}/tasks", headers=headers)
            assert r.status_code == 401, r.text
        # Looked up, unknown: the route refuses it in its own words.
        assert directly == [False]


def test_the_day_list_is_numbered_in_the_order_it_is_cut_so_it_is_sorted_once() -> None:
    """The statement orders the tasks twice (to take the first of them, and to number them for
    the JSON array); written alike, with no parameter of its own in either, PostgreSQL sees one
    order and sorts once."""
    sql, _ = reps_service._REP_DAY_ON_DRIVER
    numbered = re.search(r"OVER \(ORDER BY (.*?)\) AS n", sql, re.S)
    cut = sql.partition(" LIMIT ")[0].rpartition("ORDER BY ")[2]
    assert numbered and cut
    assert numbered.group(1).split() == cut.split()
    # the one parameter in either: the time against which tasks are overdue, the same in both
    assert "$" not in re.sub(r"task\.due_at < \$\d+::", "", cut)
