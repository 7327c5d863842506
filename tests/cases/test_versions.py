"""Optimistic concurrency: versions, ETag and If-Match on PATCH and on transitions."""

from typing import Any

import pytest

from tests.records import audit_records
from tests.support import Api, referral_body


def with_version(api: Api, version: Any) -> dict[str, str]:
    return {**api.keys.practitioner.headers, "If-Match": f'"{version}"'}


class TestCaseEtag:
    async def test_etag_is_the_version(self, api: Api) -> None:
        r = await api.client.post("/referrals", json=referral_body(), headers=api.keys.practitioner.headers)
        assert r.headers["ETag"] == '"1"' and r.json()["version"] == 1
        case_id = r.json()["id"]
        await api.must_fire(case_id, "accept")
        r = await api.client.get(f"/cases/{case_id}", headers=api.keys.practitioner.headers)
        assert r.json()["version"] == 2
        assert r.headers["ETag"] == '"2"'


class TestPatch:
    async def test_without_if_match_is_428(self, api: Api) -> None:
        case = await api.refer()
        r = await api.client.patch(
            f"/cases/{case['id']}", json={"summary": "Debt"}, headers=api.keys.practitioner.headers
        )
        assert r.status_code == 428
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errorCode"] == "PRECONDITION_REQUIRED"
        assert (await api.case(case["id"]))["summary"] is None

    async def test_stale_if_match_is_412(self, api: Api) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "accept")
        r = await api.client.patch(
            f"/cases/{case['id']}", json={"summary": "Debt"}, headers=with_version(api, case["version"])
        )
        assert r.status_code == 412
        body = r.json()
        assert body["errorCode"] == "VERSION_MISMATCH"
        assert body["currentVersion"] == case["version"] + 1
        assert (await api.case(case["id"]))["summary"] is None
        assert [r.action for r in await audit_records(api.db, case["id"])] == ["case.referred", "case.accept"]

    @pytest.mark.parametrize("header", ['"{v}"', "{v}", 'W/"{v}"'])
    async def test_current_version_changes_the_case(self, api: Api, header: str) -> None:
        case = await api.refer()
        r = await api.client.patch(
            f"/cases/{case['id']}",
            json={"summary": "Debt over canteen", "riskLevel": "medium", "riskNotes": "Shouting only"},
            headers={**api.keys.practitioner.headers, "If-Match": header.format(v=case["version"])},
        )
        assert r.status_code == 200, r.text
        changed = r.json()
        assert changed["version"] == case["version"] + 1
        assert r.headers["ETag"] == f'"{changed["version"]}"'
        assert (changed["summary"], changed["riskLevel"], changed["riskNotes"]) == (
            "Debt over canteen",
            "medium",
            "Shouting only",
        )
        record = (await audit_records(api.db, case["id"]))[-1]
        assert record.action == "case.updated"
        assert record.before == {"summary": None, "riskLevel": None, "riskNotes": None}
        assert record.after == {
            "summary": "Debt over canteen",
            "riskLevel": "medium",
            "riskNotes": "Shouting only",
        }

    async def test_malformed_if_match_is_422(self, api: Api) -> None:
        case = await api.refer()
        r = await api.client.patch(
            f"/cases/{case['id']}", json={"summary": "Debt"}, headers=with_version(api, "abc")
        )
        assert r.status_code == 422
        assert "If-Match" in r.json()["detail"]

    async def test_the_second_of_two_writers_with_one_version_is_refused(self, api: Api) -> None:
        case = await api.refer()
        first = await api.client.patch(
            f"/cases/{case['id']}", json={"summary": "A"}, headers=with_version(api, case["version"])
        )
        second = await api.client.patch(
            f"/cases/{case['id']}", json={"summary": "B"}, headers=with_version(api, case["version"])
        )
        assert (first.status_code, second.status_code) == (200, 412)
        assert (await api.case(case["id"]))["summary"] == "A"


class TestTransitionIfMatch:
    async def test_stale_if_match_is_412(self, api: Api) -> None:
        case = await api.refer()
        await api.patch(case["id"], summary="Fight on B wing")
        r = await api.client.post(
            f"/cases/{case['id']}/transitions",
            json={"trigger": "accept"},
            headers=with_version(api, case["version"]),
        )
        assert r.status_code == 412
        assert r.json()["errorCode"] == "VERSION_MISMATCH"
        assert (await api.case(case["id"]))["state"] == "referred"

    async def test_current_if_match_fires(self, api: Api) -> None:
        case = await api.refer()
        r = await api.client.post(
            f"/cases/{case['id']}/transitions",
            json={"trigger": "accept"},
            headers=with_version(api, case["version"]),
        )
        assert r.status_code == 200
        assert r.json()["version"] == case["version"] + 1
        assert r.headers["ETag"] == f'"{case["version"] + 1}"'
