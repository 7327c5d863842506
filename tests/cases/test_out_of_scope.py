"""A case outside the caller's scope costs what a case that does not exist costs: the same
statements, in the same number, each finding nothing. Held by the statements each request sends,
not by timing them; on PostgreSQL's driver connection (a read, a move of the case alone) and
through the session (any other move) alike."""

from app.db import Database
from tests.mediation import case_with_rep, rep_key
from tests.statements import same_work
from tests.support import Api, make_key, until

PAUSE = {"trigger": "pause", "until": until(hours=6), "reason": "cooling off"}


class TestCaseOutOfScope:
    async def test_another_prisons_case_reads_as_a_missing_one(self, api: Api) -> None:
        case = await api.refer()
        refused = await same_work(api, api.keys.practitioner_lei, case["id"])
        assert case["id"] in refused.json()["detail"]

    async def test_another_prisons_case_by_reference_reads_as_a_missing_one(self, api: Api) -> None:
        case = await api.refer()
        missing = await api.client.get("/cases/MDI-RJ-999999", headers=api.keys.practitioner_lei.headers)
        hidden = await api.client.get(
            f"/cases/{case['reference']}", headers=api.keys.practitioner_lei.headers
        )
        assert (missing.status_code, hidden.status_code) == (404, 404)
        assert missing.json()["errorCode"] == hidden.json()["errorCode"]

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

    async def test_a_move_of_another_prisons_case_finds_and_locks_nothing(self, api: Api) -> None:
        case = await api.refer()
        await same_work(
            api,
            api.keys.practitioner_lei,
            case["id"],
            method="POST",
            path="/cases/{}/transitions",
            json=PAUSE,
        )
        assert (await api.case(case["id"]))["state"] == "referred"

    async def test_a_move_with_work_to_follow_of_another_prisons_case_finds_nothing(self, api: Api) -> None:
        case = await api.refer()
        await same_work(
            api,
            api.keys.practitioner_lei,
            case["id"],
            method="POST",
            path="/cases/{}/transitions",
            json={"trigger": "accept"},  # accepting schedules visits: a move through the session
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
