"""A case outside the caller's scope costs what a case that does not exist costs: the same
statements, in the same number, each finding nothing. Held by the statements each request sends,
not by timing them; on PostgreSQL for the direct paths (`app.api.direct`) and the routes alike."""

import pytest

from app.db import Database
from tests.mediation import case_with_rep, rep_key
from tests.statements import same_work
from tests.support import Api, direct_answers, make_key, until

PAUSE = {"trigger": "pause", "until": until(hours=6), "reason": "cooling off"}


class TestCaseOutOfScope:
    async def test_another_prisons_case_reads_as_a_missing_one(
        self, api: Api, monkeypatch: pytest.MonkeyPatch, is_postgres: bool
    ) -> None:
        case = await api.refer()
        read_directly = direct_answers(monkeypatch, "read")
        refused = await same_work(api, api.keys.practitioner_lei, case["id"])
        assert case["id"] in refused.json()["detail"]
        # On PostgreSQL, the direct path answered each.
        assert read_directly == ([True] * 3 if is_postgres else [])

    async def test_another_prisons_case_by_reference_reads_as_a_missing_one(self, api: Api) -> None:
        case = await api.refer()
        missing = await api.client.get("/cases/MDI-RJ-999999", headers=api.keys.practitioner_lei.headers)
        hidden = await api.client.get(
            f"/cases/{case['reference']}", headers=api.keys.practitioner_lei.headers
        )
        assert (missing.status_code, hidden.status_code) == (404, 404)
        assert missing.json()["errorCode"] == hidden.json()["errorCode"]

    async def test_the_routes_way_reads_another_prisons_case_as_a_missing_one(self, api: Api) -> None:
        # A query sends the read the route's way on PostgreSQL too.
        case = await api.refer()
        await same_work(api, api.keys.practitioner_lei, case["id"], params={"usual": "1"})

    async def test_a_case_another_client_referred_reads_as_a_missing_one_to_a_referrer(
        self, api: Api
    ) -> None:
        case = await api.refer()
        await same_work(api, api.keys.referrer, case["id"])

    async def test_a_case_a_rep_is_not_assigned_to_reads_as_a_missing_one(self, api: Api) -> None:
        _, [rep] = await case_with_rep(api, state="referred")
        other = await api.refer()
        await same_work(api, await rep_key(api, rep), other["id"])

    async def test_a_timeline_of_another_prisons_case_reads_as_a_missing_one(self, api: Api) -> None:
        case = await api.refer()
        await same_work(api, api.keys.practitioner_lei, case["id"], path="/cases/{}/timeline")

    async def test_a_move_of_another_prisons_case_finds_and_locks_nothing(
        self, api: Api, monkeypatch: pytest.MonkeyPatch, is_postgres: bool
    ) -> None:
        case = await api.refer()
        moved_directly = direct_answers(monkeypatch, "move")
        await same_work(
            api,
            api.keys.practitioner_lei,
            case["id"],
            method="POST",
            path="/cases/{}/transitions",
            json=PAUSE,
        )
        assert (await api.case(case["id"]))["state"] == "referred"
        assert moved_directly == ([True] * 3 if is_postgres else [])

    async def test_a_move_the_routes_way_of_another_prisons_case_finds_nothing(self, api: Api) -> None:
        case = await api.refer()
        await same_work(
            api,
            api.keys.practitioner_lei,
            case["id"],
            method="POST",
            path="/cases/{}/transitions",
            json={"trigger": "accept"},  # accepting schedules visits: the route's way
        )

    async def test_an_assignment_of_another_prisons_case_finds_nothing(self, api: Api) -> None:
        case = await api.refer()
        lei_rep = await api.rep(prison="LEI")
        await same_work(
            api,
            api.keys.practitioner_lei,
            case["id"],
            method="PUT",
            path="/cases/{}/assignment",
            json={"repIds": [lei_rep["id"]], "keepApartCheckedByHand": True},
        )
        assert (await api.case(case["id"]))["assignment"]["repIds"] == []


class TestNationalCaller:
    async def test_a_caller_of_every_prison_reads_any_prisons_case(self, api: Api, db: Database) -> None:
        case = await api.refer(key=api.keys.practitioner_lei, prison="LEI")
        national = await make_key(db, role="practitioner", prisons=[])
        r = await api.client.get(f"/cases/{case['id']}", headers=national.headers)
        assert r.status_code == 200, r.text
        assert r.json()["prisonId"] == "LEI"
