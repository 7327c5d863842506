"""A rep outside the caller's caseload costs what a rep that does not exist costs, on every rep
route: the same statements, in the same number, each finding nothing. Held by the statements each
request sends, not by timing them; for the day list as JSON (on PostgreSQL's driver connection)
and as the printable sheet (through the session) alike."""

from typing import Any

from app.reps import service as reps_service
from tests.mediation import case_with_rep, rep_key
from tests.statements import same_work
from tests.support import Api


async def a_rep_of_lei(api: Api) -> dict[str, Any]:
    """A rep of LEI with a task due today: a list that would have something in it."""
    rep = await api.rep(prison="LEI")
    r = await api.client.post(
        "/tasks",
        json={
            "kind": "shuttle_visit",
            "dueAt": reps_service.day_bounds(reps_service.local_today())[0].isoformat(),
            "assignee": {"type": "rep", "id": rep["id"]},
            "prisonId": "LEI",
            "instructions": "Check in on the wing",
        },
        headers=api.keys.practitioner_lei.headers,
    )
    assert r.status_code == 201, r.text
    return rep


class TestRepOutOfScope:
    async def test_another_prisons_reps_day_list_reads_as_a_missing_one(self, api: Api) -> None:
        rep = await a_rep_of_lei(api)
        refused = await same_work(api, api.keys.practitioner, rep["id"], path="/reps/{}/tasks")
        assert rep["id"] in refused.json()["detail"]

    async def test_another_prisons_reps_printable_sheet_reads_as_a_missing_one(self, api: Api) -> None:
        rep = await a_rep_of_lei(api)
        await same_work(
            api, api.keys.practitioner, rep["id"], path="/reps/{}/tasks", headers={"Accept": "text/html"}
        )

    async def test_another_reps_day_list_reads_as_a_missing_one_to_a_rep(self, api: Api) -> None:
        _, [rep, other] = await case_with_rep(api, state="referred", reps=2)
        await same_work(api, await rep_key(api, rep), other["id"], path="/reps/{}/tasks")

    async def test_another_prisons_rep_reads_as_a_missing_one(self, api: Api) -> None:
        rep = await a_rep_of_lei(api)
        await same_work(api, api.keys.practitioner, rep["id"], path="/reps/{}")

    async def test_another_prisons_reps_activity_reads_as_a_missing_one(self, api: Api) -> None:
        rep = await a_rep_of_lei(api)
        await same_work(api, api.keys.manager, rep["id"], path="/reps/{}/activity")

    async def test_a_change_to_another_prisons_rep_finds_nothing(self, api: Api) -> None:
        rep = await a_rep_of_lei(api)
        await same_work(
            api, api.keys.manager, rep["id"], method="PATCH", path="/reps/{}", json={"location": "B wing"}
        )
        r = await api.client.get(f"/reps/{rep['id']}", headers=api.keys.admin.headers)
        assert r.json()["location"] == rep["location"]
