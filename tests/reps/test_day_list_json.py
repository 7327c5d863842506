"""A rep's day list as JSON is written in two ways: on PostgreSQL's driver connection, by
PostgreSQL itself in the one statement that reads the rep and the tasks; on a session (SQLite,
and the printable sheet's reading), by the list's own model. The two must give the same text,
byte for byte, and the same refusals."""

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app import clock
from app.auth.service import authenticate
from app.errors import AppError
from app.reps import service as reps_service
from tests.mediation import case_with_rep, rep_key
from tests.reps.test_daily_list import _add
from tests.support import Api, Key

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 09:00 in London
TODAY = "2026-03-02"


@pytest.fixture(autouse=True)
def postgres_only(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("the driver's form is PostgreSQL's")


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


async def both_forms(api: Api, rep_id: str, key: Key) -> tuple[str, str]:
    """Today's list as the session writes it, and as PostgreSQL writes it on the driver (for a
    refusal, its problem's type and words)."""
    answers: list[str] = []
    async with api.db.reading() as session:
        principal = await authenticate(session, key.token)
        assert principal is not None
    for opening in (api.db.reading, api.db.driver):
        async with opening() as conn:
            try:
                day = date.fromisoformat(TODAY)
                answers.append(await reps_service.day_list_json(conn, principal, uuid.UUID(rep_id), day))
            except AppError as exc:
                answers.append(f"{exc.error_code}: {exc.message}")
    by_session, by_driver = answers
    return by_session, by_driver


async def test_same_list_for_each_caller_who_may_read_it(api: Api) -> None:
    _, rep = await a_busy_rep(api)
    for key in (api.keys.practitioner, api.keys.manager, await rep_key(api, rep)):
        by_session, by_driver = await both_forms(api, rep["id"], key)
        assert by_session == by_driver
        listed = json.loads(by_session)
        assert len(listed["tasks"]) == 3 and listed["date"] == TODAY


async def test_same_list_whatever_its_tasks_hold(api: Api) -> None:
    """Text that JSON escapes, times with and without microseconds, a task due this instant,
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
    by_session, by_driver = await both_forms(api, rep["id"], api.keys.practitioner)
    assert by_session == by_driver  # written alike, byte for byte
    listed = json.loads(by_session)["tasks"]
    assert len(listed) == 25
    assert {t["whom"] is None for t in listed} == {True, False}
    assert {t["caseId"] is None for t in listed} == {True, False}
    assert any("." in t["dueAt"] for t in listed) and any("." not in t["dueAt"] for t in listed)
    assert {t["what"].split(" #")[0] for t in listed} >= set(odd)
    _, [idle] = await case_with_rep(api, state="referred")
    by_session, by_driver = await both_forms(api, idle["id"], api.keys.practitioner)
    assert by_session == by_driver
    assert '"tasks":[]' in by_session


async def test_same_refusals(api: Api) -> None:
    _, rep = await a_busy_rep(api)
    _, other = await case_with_rep(api, state="referred")
    elsewhere = await api.rep(prison="LEI")
    refusals = [
        # another prison's rep, for a practitioner of MDI
        (elsewhere["id"], api.keys.practitioner, "NOT_FOUND"),
        # another rep's list, for a rep
        (other[0]["id"], await rep_key(api, rep), "NOT_FOUND"),
        # no such rep
        ("00000000-0000-4000-8000-000000000000", api.keys.practitioner, "NOT_FOUND"),
    ]
    for rep_id, key, code in refusals:
        by_session, by_driver = await both_forms(api, rep_id, key)
        assert by_session == by_driver
        assert by_session.startswith(code), by_session


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
