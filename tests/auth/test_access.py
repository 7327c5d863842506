"""Who sees what: reps their own cases, practitioners their prisons, referrers their referrals."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col

from app.models.auth import ApiClient
from tests.records import audit_records, count_audit_records, count_cases
from tests.support import Api, Key, referral_body


async def rep_with_case(api: Api) -> tuple[dict[str, Any], Key]:
    """An MDI case with risk notes and consents, and the key of the rep assigned to it."""
    case = await api.to_state("assessment")
    await api.patch(case["id"], riskNotes="Harmer has a history of violence against staff.")
    rep = await api.rep()
    r = await api.assign(case["id"], [rep["id"]])
    assert r.status_code == 200, r.text
    return await api.case(case["id"]), await api.keys.rep(uuid.UUID(rep["id"]))


def listed(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["content"]]


class TestRepScope:
    async def test_rep_cannot_see_a_case_they_are_not_assigned_to(self, api: Api) -> None:
        mine, rep_key = await rep_with_case(api)
        other = await api.to_state("assessment")
        for method, path, body in [
            ("GET", f"/cases/{other['id']}", None),
            ("GET", f"/cases/{other['reference']}", None),
            ("GET", f"/cases/{other['id']}/transitions", None),
            ("POST", f"/cases/{other['id']}/transitions", {"trigger": "pause"}),
        ]:
            r = await api.client.request(method, path, json=body, headers=rep_key.headers)
            assert r.status_code == 404, (path, r.text)
            assert r.json()["errorCode"] == "NOT_FOUND"
        assert listed(await api.client.get("/cases", headers=rep_key.headers)) == [mine["id"]]

    async def test_rep_timeline_answer_does_not_reveal_whether_a_case_exists(self, api: Api) -> None:
        # Timelines carry risk and consent details, which a rep never reads: refused for every case alike.
        mine, rep_key = await rep_with_case(api)
        other = await api.to_state("assessment")
        answers = []
        for case_id in (mine["id"], other["id"], str(uuid.uuid4())):
            r = await api.client.get(f"/cases/{case_id}/timeline", headers=rep_key.headers)
            answers.append((r.status_code, r.json()["errorCode"]))
        assert answers == [(403, "FORBIDDEN")] * 3

    async def test_rep_sees_their_case_without_risk_notes_numbers_or_consents(self, api: Api) -> None:
        case, rep_key = await rep_with_case(api)
        r = await api.client.get(f"/cases/{case['id']}", headers=rep_key.headers)
        assert r.status_code == 200
        seen = r.json()
        assert seen["view"] == "rep"
        assert "riskNotes" not in seen
        assert "source" not in seen
        assert [set(p) for p in seen["parties"]] == [
            {"id", "firstName", "lastName", "role", "location", "participating"}
        ] * 2
        assert [(p["firstName"], p["location"]) for p in seen["parties"]] == [
            ("Dean", "MDI-A-1-001"),
            ("Marcus", "MDI-A-1-002"),
        ]
        for secret in ("history of violence", "A1234BC", "B2345CD", "consents", "Rep Lewis"):
            assert secret not in r.text

    async def test_rep_loses_sight_of_a_case_when_unassigned(self, api: Api) -> None:
        case, rep_key = await rep_with_case(api)
        assert (await api.assign(case["id"], [])).status_code == 200
        r = await api.client.get(f"/cases/{case['id']}", headers=rep_key.headers)
        assert r.status_code == 404


class TestPrisonScope:
    async def test_practitioner_of_another_prison_gets_404(self, api: Api) -> None:
        case = await api.to_state("assessment")
        lei = api.keys.practitioner_lei.headers
        records = await count_audit_records(api.db)
        for method, path, body, extra in [
            ("GET", f"/cases/{case['id']}", None, {}),
            ("GET", f"/cases/{case['reference']}", None, {}),
            ("GET", f"/cases/{case['id']}/transitions", None, {}),
            ("GET", f"/cases/{case['id']}/timeline", None, {}),
            ("POST", f"/cases/{case['id']}/transitions", {"trigger": "decline", "reason": "unsuitable"}, {}),
            ("PATCH", f"/cases/{case['id']}", {"summary": "x"}, {"If-Match": f'"{case["version"]}"'}),
        ]:
            r = await api.client.request(method, path, json=body, headers={**lei, **extra})
            assert r.status_code == 404, (method, path, r.text)
        assert (await api.case(case["id"]))["version"] == case["version"]
        assert await count_audit_records(api.db) == records

    async def test_practitioner_cannot_refer_into_another_prison(self, api: Api) -> None:
        r = await api.client.post(
            "/referrals", json=referral_body(prison="MDI"), headers=api.keys.practitioner_lei.headers
        )
        assert r.status_code == 403
        assert r.json()["errorCode"] == "FORBIDDEN"
        assert "MDI" in r.json()["detail"]
        assert await count_cases(api.db) == 0

    async def test_lists_hold_only_the_callers_prisons(self, api: Api) -> None:
        mdi = [(await api.refer(prison="MDI"))["id"] for _ in range(2)]
        lei = [(await api.refer(prison="LEI", key=api.keys.practitioner_lei))["id"] for _ in range(2)]
        keys = api.keys
        assert sorted(listed(await api.client.get("/cases", headers=keys.practitioner.headers))) == sorted(
            mdi
        )
        assert sorted(
            listed(await api.client.get("/cases", headers=keys.practitioner_lei.headers))
        ) == sorted(lei)
        assert sorted(listed(await api.client.get("/cases", headers=keys.manager.headers))) == sorted(mdi)
        assert sorted(listed(await api.client.get("/cases", headers=keys.admin.headers))) == sorted(mdi + lei)
        # Asking for another prison by filter finds nothing rather than widening the scope.
        r = await api.client.get("/cases", params={"prisonId": "LEI"}, headers=keys.practitioner.headers)
        assert listed(r) == []
        assert r.json()["totalElements"] == 0


class TestReferrerScope:
    async def test_referrer_reads_only_the_state_of_its_own_referrals(self, api: Api) -> None:
        own = await api.refer(key=api.keys.referrer)
        others = await api.refer()
        r = await api.client.get(f"/cases/{own['id']}", headers=api.keys.referrer.headers)
        assert r.status_code == 200
        assert set(r.json()) == {
            "id",
            "reference",
            "prisonId",
            "state",
            "version",
            "createdAt",
            "updatedAt",
            "view",
            "source",
            "outcome",
        }
        assert r.json()["view"] == "referrer"
        assert (
            await api.client.get(f"/cases/{others['id']}", headers=api.keys.referrer.headers)
        ).status_code == 404
        assert listed(await api.client.get("/cases", headers=api.keys.referrer.headers)) == [own["id"]]

    async def test_referrers_own_referral_answers_in_the_referrer_view(self, api: Api) -> None:
        r = await api.client.post("/referrals", json=referral_body(), headers=api.keys.referrer.headers)
        assert r.status_code == 201
        assert r.json()["view"] == "referrer"
        assert "parties" not in r.json()


class TestAuditorScope:
    async def test_auditor_cannot_read_cases(self, api: Api) -> None:
        case = await api.refer()
        for path in ("/cases", f"/cases/{case['id']}", f"/cases/{case['id']}/timeline"):
            r = await api.client.get(path, headers=api.keys.auditor.headers)
            assert r.status_code == 403, path
            assert r.json()["errorCode"] == "FORBIDDEN"

    async def test_auditor_reads_the_audit_trail(self, api: Api) -> None:
        case = await api.refer()
        r = await api.client.get("/audit", params={"caseId": case["id"]}, headers=api.keys.auditor.headers)
        assert r.status_code == 200
        assert [rec["action"] for rec in r.json()["content"]] == ["case.referred"]

    async def test_practitioner_cannot_read_the_audit_trail(self, api: Api) -> None:
        for path in ("/audit", "/audit/verify"):
            r = await api.client.get(path, headers=api.keys.practitioner.headers)
            assert r.status_code == 403


class TestAuthentication:
    @pytest.mark.parametrize(
        "header",
        [None, "Bearer", "Bearer ", "Bearer rjk_not-a-real-key", "Basic dXNlcjpwYXNz", "rjk_without_scheme"],
    )
    async def test_without_a_valid_token_is_401(self, client: httpx.AsyncClient, header: str | None) -> None:
        headers = {"Authorization": header} if header is not None else {}
        r = await client.get("/cases", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"
        body = r.json()
        assert body["errorCode"] == "UNAUTHENTICATED"
        assert {"type", "title", "status", "detail", "userMessage", "developerMessage"} <= set(body)

    async def test_revoked_key_is_401(self, api: Api) -> None:
        async with api.db.transaction() as session:
            await session.execute(
                update(ApiClient).where(col(ApiClient.id) == api.keys.manager.client_id).values(active=False)
            )
        r = await api.client.get("/cases", headers=api.keys.manager.headers)
        assert r.status_code == 401

    async def test_no_token_on_a_write_changes_nothing(self, client: httpx.AsyncClient, api: Api) -> None:
        r = await client.post("/referrals", json=referral_body())
        assert r.status_code == 401
        assert await count_cases(api.db) == 0


MASS_ASSIGNED = ["state", "version", "reference", "id", "auditSeq", "createdByClientId", "nickname"]


class TestMassAssignment:
    @pytest.mark.parametrize("field", MASS_ASSIGNED)
    async def test_patch_refuses_fields_it_does_not_take(self, api: Api, field: str) -> None:
        case = await api.refer()
        r = await api.client.patch(
            f"/cases/{case['id']}",
            json={"summary": "ok", field: "closed" if field == "state" else 7},
            headers={**api.keys.practitioner.headers, "If-Match": f'"{case["version"]}"'},
        )
        assert_unknown_field(r, field)
        assert await api.case(case["id"]) == case
        assert len(await audit_records(api.db, case["id"])) == 1

    @pytest.mark.parametrize("field", MASS_ASSIGNED)
    async def test_referral_refuses_fields_it_does_not_take(self, api: Api, field: str) -> None:
        body = {**referral_body(), field: "closed" if field == "state" else 7}
        r = await api.client.post("/referrals", json=body, headers=api.keys.practitioner.headers)
        assert_unknown_field(r, field)
        assert await count_cases(api.db) == 0

    async def test_referral_refuses_unknown_fields_inside_parties(self, api: Api) -> None:
        body = referral_body()
        body["parties"][0]["consents"] = {"direct": True}
        r = await api.client.post("/referrals", json=body, headers=api.keys.practitioner.headers)
        assert_unknown_field(r, "parties.0.consents")

    @pytest.mark.parametrize("field", MASS_ASSIGNED)
    async def test_transition_refuses_fields_it_does_not_take(self, api: Api, field: str) -> None:
        case = await api.refer()
        r = await api.fire(case["id"], "accept", **{field: "closed" if field == "state" else 7})
        assert_unknown_field(r, field)
        assert (await api.case(case["id"]))["state"] == "referred"


def assert_unknown_field(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["errorCode"] == "VALIDATION_FAILED"
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["errors"][0]["type"] == "extra_forbidden"
    assert field in body["detail"]
