"""GET /me and GET /practitioners, and practitioners known only through the identity provider:
once they have called, they are named on cases and listed as practitioners with keys are."""

import uuid
from typing import Any

import httpx
from sqlmodel import select

from app.auth.jwt import client_id_of
from app.db import Database
from app.models.auth import SignedInPractitioner
from tests.auth.test_jwt import ISSUER, bearer, token
from tests.support import Api, make_key

JO = client_id_of(ISSUER, "JSMITH_GEN")


async def me(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    r = await client.get("/me", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def listed(api: Api, key_headers: dict[str, str], **params: str) -> dict[str, Any]:
    r = await api.client.get("/practitioners", params=params, headers=key_headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def signed_in_rows(db: Database) -> list[SignedInPractitioner]:
    async with db.transaction() as session:
        return list((await session.execute(select(SignedInPractitioner))).scalars())


async def refused(api: Api, case_id: str) -> bool:
    """Whether naming Jo as the case's practitioner is refused as naming no practitioner here."""
    r = await api.assign(case_id, [], practitioner_id=JO)
    return r.status_code == 409 and r.json()["refusal"] == "not_a_practitioner_here"


class TestMe:
    async def test_a_practitioner_with_a_key(self, api: Api) -> None:
        key = api.keys.practitioner
        assert await me(api.client, key.headers) == {
            "clientId": str(key.client_id),
            "name": "test practitioner",
            "role": "practitioner",
            "prisons": ["MDI"],
            "allPrisons": False,
            "repId": None,
            "practitionerId": str(key.client_id),
            "authType": "api_key",
        }

    async def test_a_caller_of_every_prison(self, api: Api) -> None:
        body = await me(api.client, api.keys.admin.headers)
        assert (body["prisons"], body["allPrisons"], body["practitionerId"]) == ([], True, None)

    async def test_a_rep(self, api: Api) -> None:
        rep = await api.rep()
        body = await me(api.client, (await api.keys.rep(uuid.UUID(rep["id"]))).headers)
        assert (body["role"], body["repId"], body["practitionerId"]) == ("rep", rep["id"], None)

    async def test_a_practitioner_signed_in(self, api: Api, jwt_client: httpx.AsyncClient) -> None:
        body = await me(jwt_client, bearer(token()))
        assert body["clientId"] == "JSMITH_GEN"
        assert (body["authType"], body["practitionerId"], body["name"]) == ("jwt", str(JO), "Jo Smith")

    async def test_without_a_token(self, api: Api) -> None:
        assert (await api.client.get("/me")).status_code == 401


class TestSignedInPractitioners:
    async def test_recorded_when_they_first_call(self, api: Api, jwt_client: httpx.AsyncClient) -> None:
        assert await signed_in_rows(api.db) == []
        await me(jwt_client, bearer(token()))
        (row,) = await signed_in_rows(api.db)
        assert (row.id, row.username, row.name, row.prisons, row.all_prisons) == (
            JO,
            "JSMITH_GEN",
            "Jo Smith",
            ["MDI"],
            False,
        )

    async def test_recorded_again_only_when_they_change(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        await me(jwt_client, bearer(token()))
        async with api.db.transaction() as session:
            row = await session.get(SignedInPractitioner, JO)
            assert row is not None
            row.name = "changed behind the service's back"
        await me(jwt_client, bearer(token()))
        (row,) = await signed_in_rows(api.db)
        assert row.name == "changed behind the service's back"
        await me(jwt_client, bearer(token(name="Jo Smith-Okafor")))
        (row,) = await signed_in_rows(api.db)
        assert row.name == "Jo Smith-Okafor"

    async def test_can_be_assigned_a_case_once_known(self, api: Api, jwt_client: httpx.AsyncClient) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "accept")
        assert await refused(api, case["id"])
        await me(jwt_client, bearer(token()))
        r = await api.assign(case["id"], [], practitioner_id=JO)
        assert r.status_code == 200, r.text
        assert (await api.case(case["id"]))["assignment"]["practitionerId"] == str(JO)

    async def test_can_facilitate_a_conference(self, api: Api, jwt_client: httpx.AsyncClient) -> None:
        case = await api.refer()
        await api.ready_for_intervention(case["id"])
        await me(jwt_client, bearer(token()))
        r = await api.fire(
            case["id"], "schedule_conference", conference=api.conference(facilitatorId=str(JO))
        )
        assert r.status_code == 200, r.text

    async def test_not_for_a_prison_outside_their_caseload(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "accept")
        await me(jwt_client, bearer(token(caseloads=["LEI"])))
        assert await refused(api, case["id"])

    async def test_other_roles_are_not_recorded(self, api: Api, jwt_client: httpx.AsyncClient) -> None:
        await me(jwt_client, bearer(token(authorities=["ROLE_RESTORATIVE_JUSTICE__MANAGER"])))
        assert await signed_in_rows(api.db) == []


class TestListed:
    async def test_with_keys_and_signed_in_by_name(self, api: Api, jwt_client: httpx.AsyncClient) -> None:
        await me(jwt_client, bearer(token()))
        body = await listed(api, api.keys.practitioner.headers)
        assert [(p["name"], p["authType"]) for p in body["content"]] == [
            ("Jo Smith", "jwt"),
            ("test practitioner", "api_key"),
        ]
        assert body["totalElements"] == 2

    async def test_only_those_working_in_the_callers_prisons(self, api: Api) -> None:
        names = [p["name"] for p in (await listed(api, api.keys.practitioner.headers))["content"]]
        assert "test practitioner_lei" not in names
        everywhere = [p["name"] for p in (await listed(api, api.keys.admin.headers))["content"]]
        assert {"test practitioner", "test practitioner_lei"} <= set(everywhere)

    async def test_of_one_prison(self, api: Api) -> None:
        body = await listed(api, api.keys.admin.headers, prisonId="LEI")
        assert [p["name"] for p in body["content"]] == ["test practitioner_lei"]

    async def test_a_prison_outside_the_caseload_is_refused(self, api: Api) -> None:
        r = await api.client.get("/practitioners?prisonId=LEI", headers=api.keys.practitioner.headers)
        assert r.status_code == 403

    async def test_a_revoked_key_is_shown_inactive(self, api: Api) -> None:
        key = await make_key(api.db, role="practitioner", prisons=["MDI"], name="Ann Revoked")
        r = await api.client.post(f"/clients/{key.client_id}/revoke", headers=api.keys.admin.headers)
        assert r.status_code == 200, r.text
        shown = {
            p["name"]: p["active"] for p in (await listed(api, api.keys.practitioner.headers))["content"]
        }
        assert shown["Ann Revoked"] is False

    async def test_paged(self, api: Api) -> None:
        for n in range(3):
            await make_key(api.db, role="practitioner", prisons=["MDI"], name=f"Practitioner {n}")
        first = await listed(api, api.keys.practitioner.headers, size="2")
        second = await listed(api, api.keys.practitioner.headers, size="2", page="1")
        assert first["totalElements"] == 4 and first["totalPages"] == 2
        assert len({p["id"] for p in first["content"] + second["content"]}) == 4

    async def test_not_for_reps_or_referrers(self, api: Api) -> None:
        r = await api.client.get("/practitioners", headers=api.keys.referrer.headers)
        assert r.status_code == 403

    async def test_ids_are_those_a_case_takes(self, api: Api) -> None:
        body = await listed(api, api.keys.practitioner.headers)
        ids = {uuid.UUID(p["id"]) for p in body["content"]}
        assert api.keys.practitioner.client_id in ids
