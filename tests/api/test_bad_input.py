"""Bad input is refused before it reaches the services: oversized bodies 413, page sizes over
the maximum 422, malformed identifiers, dates and enum values 422 naming the field."""

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.api.app import create_app
from app.config import Settings
from app.db import Database
from app.openapi import openapi_document
from tests.support import Api, Keys, referral_body

# Every list operation, found from the document, so new lists are checked too.
PAGED = sorted(
    path
    for path, item in openapi_document()["paths"].items()
    if any(p["name"] == "size" and p["in"] == "query" for p in item.get("get", {}).get("parameters", []))
)


async def concrete(api: Api, path: str) -> str:
    """`path` with each of its parameters naming a real object, so only the paging is at stake."""
    for name in re.findall(r"{(\w+)}", path):
        assert name == "subscription_id", f"give {path} an object for {{{name}}}"
        r = await api.client.post(
            "/webhook-subscriptions",
            json={
                "url": "https://93.184.216.34/rj-hooks",
                "eventTypes": ["restorative-justice.case.created"],
                "secret": "whsec_" + base64.b64encode(b"a receiver's secret, 32 bytes!!!").decode(),
            },
            headers=api.keys.admin.headers,
        )
        assert r.status_code == 201, r.text
        path = path.replace("{subscription_id}", r.json()["id"])
    return path


def assert_invalid(r: httpx.Response, field: str) -> None:
    """422 in the problem shape, naming `field`."""
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["errorCode"] == "VALIDATION_FAILED"
    assert field in [e["field"] for e in body["errors"]], body["errors"]
    assert field in body["detail"]


@pytest.fixture
async def small_client(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a 2 KiB body limit."""
    app = create_app(settings.model_copy(update={"max_body_bytes": 2048}), database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rj.test") as c:
        yield c


class TestBodyLimit:
    async def test_declared_oversized_body_is_413(self, small_client: httpx.AsyncClient, keys: Keys) -> None:
        body = referral_body()
        body["incident"]["description"] = "x" * 4000
        r = await small_client.post("/referrals", json=body, headers=keys.practitioner.headers)
        assert r.status_code == 413
        assert r.json()["errorCode"] == "PAYLOAD_TOO_LARGE"

    async def test_streamed_oversized_body_is_413(self, small_client: httpx.AsyncClient, keys: Keys) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000

        r = await small_client.post(
            "/referrals",
            content=chunks(),
            headers={**keys.practitioner.headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 413
        assert r.json()["errorCode"] == "PAYLOAD_TOO_LARGE"

    async def test_body_within_the_limit_goes_through(
        self, small_client: httpx.AsyncClient, keys: Keys
    ) -> None:
        r = await small_client.post("/referrals", json=referral_body(), headers=keys.practitioner.headers)
        assert r.status_code == 201

    async def test_nothing_is_written_for_an_oversized_body(
        self, small_client: httpx.AsyncClient, keys: Keys
    ) -> None:
        body = referral_body()
        body["incident"]["description"] = "x" * 4000
        await small_client.post("/referrals", json=body, headers=keys.practitioner.headers)
        r = await small_client.get("/cases", headers=keys.practitioner.headers)
        assert r.json()["totalElements"] == 0


class TestPageSize:
    def test_every_list_is_found(self) -> None:
        assert {"/cases", "/reps", "/tasks"} <= set(PAGED)

    @pytest.mark.parametrize("path", PAGED)
    @pytest.mark.parametrize(
        ("query", "field"), [("size=101", "size"), ("size=0", "size"), ("page=-1", "page")]
    )
    async def test_out_of_range_is_422(self, api: Api, path: str, query: str, field: str) -> None:
        r = await api.client.get(f"{await concrete(api, path)}?{query}", headers=api.keys.admin.headers)
        assert_invalid(r, field)

    @pytest.mark.parametrize("path", PAGED)
    async def test_the_maximum_is_accepted(self, api: Api, path: str) -> None:
        r = await api.client.get(f"{await concrete(api, path)}?size=100", headers=api.keys.admin.headers)
        assert r.status_code == 200
        assert r.json()["size"] == 100


def _referral(**change: Any) -> dict[str, Any]:
    body = referral_body()
    for dotted, value in change.items():
        target: Any = body
        *parents, last = dotted.split("__")
        for name in parents:
            target = target[int(name)] if name.isdigit() else target[name]
        target[last] = value
    return body


class TestMalformedReferral:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"parties__0__prisonerNumber": "A12345BC"}, "parties.0.prisonerNumber"),
            ({"parties__1__prisonerNumber": "a1234bc"}, "parties.1.prisonerNumber"),
            ({"prisonId": "MDI1"}, "prisonId"),
            ({"prisonId": "mdi"}, "prisonId"),
            ({"incident__occurredAt": "yesterday"}, "incident.occurredAt"),
            ({"incident__occurredAt": "2026-11-20"}, "incident.occurredAt"),
            ({"incident__occurredAt": "2026-11-20T10:00:00"}, "incident.occurredAt"),
            ({"incident__occurredAt": 1763632800}, "incident.occurredAt"),
            ({"incident__category": "stabbing"}, "incident.category"),
            ({"parties__0__role": "victim"}, "parties.0.role"),
            ({"parties__0__firstName": "Dean\u0000"}, "parties.0.firstName"),
            ({"state": "closed"}, "state"),
        ],
    )
    async def test_is_422_naming_the_field(self, api: Api, change: dict[str, Any], field: str) -> None:
        r = await api.client.post(
            "/referrals", json=_referral(**change), headers=api.keys.practitioner.headers
        )
        assert_invalid(r, field)


class TestMalformedQuery:
    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("prisonerNumber=A1234B", "prisonerNumber"),
            ("prisonId=Moorland", "prisonId"),
            ("updatedSince=0.5", "updatedSince"),
            ("updatedSince=2026-11-31T00:00:00Z", "updatedSince"),
            ("state=open", "state"),
            ("repId=not-a-uuid", "repId"),
        ],
    )
    async def test_case_filters_are_422_naming_the_field(self, api: Api, query: str, field: str) -> None:
        r = await api.client.get(f"/cases?{query}", headers=api.keys.practitioner.headers)
        assert_invalid(r, field)


class TestMalformedFields:
    async def test_rep_training_date_must_be_a_date(self, api: Api) -> None:
        body = {"prisonerNumber": "G1111RR", "firstName": "A", "lastName": "B", "prisonId": "MDI"}
        for bad in ("2026-13-01", "01/02/2026", 0):
            r = await api.client.post(
                "/reps", json={**body, "trainedOn": bad}, headers=api.keys.manager.headers
            )
            assert_invalid(r, "trainedOn")

    async def test_rep_status_must_be_one_of_the_statuses(self, api: Api) -> None:
        body = {
            "prisonerNumber": "G1111RR",
            "firstName": "A",
            "lastName": "B",
            "prisonId": "MDI",
            "status": "gone",
        }
        assert_invalid(await api.client.post("/reps", json=body, headers=api.keys.manager.headers), "status")

    async def test_consent_scope_and_given_must_be_exact(self, api: Api) -> None:
        case = await api.refer()
        url = f"/cases/{case['id']}/parties/{case['parties'][0]['id']}/consents"
        good = {"scope": "indirect", "given": True, "recordedBy": "Rep", "method": "in_person"}
        headers = api.keys.practitioner.headers
        assert_invalid(
            await api.client.post(url, json={**good, "scope": "everything"}, headers=headers), "scope"
        )
        assert_invalid(await api.client.post(url, json={**good, "given": 1}, headers=headers), "given")

    async def test_transition_until_must_have_an_offset(self, api: Api) -> None:
        case = await api.to_state("assessment")
        r = await api.fire(case["id"], "pause", until="2026-11-25T10:00:00", reason="cooling off")
        assert_invalid(r, "until")

    async def test_trigger_must_be_one_of_the_triggers(self, api: Api) -> None:
        case = await api.refer()
        assert_invalid(await api.fire(case["id"], "escalate"), "trigger")

    async def test_malformed_if_match_is_422(self, api: Api) -> None:
        case = await api.refer()
        r = await api.client.patch(
            f"/cases/{case['id']}",
            json={"summary": "x"},
            headers={**api.keys.practitioner.headers, "If-Match": "latest"},
        )
        assert_invalid(r, "if-match")

    async def test_missing_if_match_is_428(self, api: Api) -> None:
        case = await api.refer()
        r = await api.client.patch(
            f"/cases/{case['id']}", json={"summary": "x"}, headers=api.keys.practitioner.headers
        )
        assert r.status_code == 428
        assert r.json()["errorCode"] == "PRECONDITION_REQUIRED"

    async def test_integer_given_as_text_is_422(self, api: Api) -> None:
        body = {"prisonerNumber": "G1111RR", "firstName": "A", "lastName": "B", "prisonId": "MDI"}
        r = await api.client.post(
            "/reps", json={**body, "maxActiveCases": "5"}, headers=api.keys.manager.headers
        )
        assert_invalid(r, "maxActiveCases")
