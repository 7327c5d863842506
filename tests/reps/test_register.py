"""The reps register: who may see and change which rep."""

from tests.mediation import rep_key
from tests.support import Api


class TestRegister:
    async def test_a_manager_registers_a_rep_in_training(self, api: Api) -> None:
        r = await api.client.post(
            "/reps",
            json={
                "prisonerNumber": "G1234RR",
                "firstName": "Andre",
                "lastName": "Lewis",
                "prisonId": "MDI",
                "location": "MDI-A-2",
                "trainedOn": "2026-01-20",
                "maxActiveCases": 4,
            },
            headers=api.keys.manager.headers,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["status"], body["trainedOn"], body["maxActiveCases"], body["location"]) == (
            "in_training",
            "2026-01-20",
            4,
            "MDI-A-2",
        )

    async def test_a_manager_changes_status_and_limit(self, api: Api) -> None:
        rep = await api.rep(status="in_training")
        r = await api.client.patch(
            f"/reps/{rep['id']}",
            json={"status": "active", "maxActiveCases": 2},
            headers=api.keys.manager.headers,
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["maxActiveCases"]) == ("active", 2)
        row = await api.rep_row(rep["id"])
        assert (row.status, row.max_active_cases) == ("active", 2)

    async def test_an_empty_change_is_refused(self, api: Api) -> None:
        rep = await api.rep()
        r = await api.client.patch(f"/reps/{rep['id']}", json={}, headers=api.keys.manager.headers)
        assert r.status_code == 422, r.text

    async def test_a_prisoner_is_registered_once(self, api: Api) -> None:
        await api.rep(number="G7777RR")
        r = await api.client.post(
            "/reps",
            json={"prisonerNumber": "G7777RR", "firstName": "A", "lastName": "B", "prisonId": "MDI"},
            headers=api.keys.manager.headers,
        )
        assert r.status_code == 409, r.text


class TestRepSeesOnlyThemself:
    async def test_the_list_holds_only_their_own_record(self, api: Api) -> None:
        me = await api.rep()
        await api.rep()
        key = await rep_key(api, me)
        r = await api.client.get("/reps", headers=key.headers)
        assert r.status_code == 200, r.text
        assert [x["id"] for x in r.json()["content"]] == [me["id"]]
        assert r.json()["totalElements"] == 1
        r = await api.client.get("/reps", headers=api.keys.practitioner.headers)
        assert r.json()["totalElements"] == 2

    async def test_another_reps_record_is_not_found(self, api: Api) -> None:
        me, other = await api.rep(), await api.rep()
        key = await rep_key(api, me)
        assert (await api.client.get(f"/reps/{me['id']}", headers=key.headers)).status_code == 200
        assert (await api.client.get(f"/reps/{other['id']}", headers=key.headers)).status_code == 404

    async def test_a_rep_cannot_change_the_register(self, api: Api) -> None:
        me = await api.rep()
        r = await api.client.patch(
            f"/reps/{me['id']}", json={"maxActiveCases": 50}, headers=(await rep_key(api, me)).headers
        )
        assert r.status_code == 403, r.text

    async def test_a_rep_of_another_prison_is_not_found_by_a_practitioner(self, api: Api) -> None:
        lei = await api.rep(prison="LEI")
        r = await api.client.get(f"/reps/{lei['id']}", headers=api.keys.practitioner.headers)
        assert r.status_code == 404
