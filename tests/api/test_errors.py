"""Every error is a problem document; no stack trace leaves the service; request ids travel."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.records import audit_records
from tests.support import Api, referral_body

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "errorCode", "userMessage", "developerMessage"}


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert PROBLEM_MEMBERS <= set(body)
    assert (body["status"], body["errorCode"]) == (status, code)
    return body


class TestRoutingErrors:
    async def test_unknown_route_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.get("/no-such-thing"), 404, "NOT_FOUND")

    async def test_wrong_method_is_a_405_problem(self, client: httpx.AsyncClient, api: Api) -> None:
        r = await client.delete("/cases", headers=api.keys.practitioner.headers)
        assert_problem(r, 405, "METHOD_NOT_ALLOWED")
        assert "GET" in r.headers["allow"]

    async def test_malformed_json_is_a_422_problem(self, client: httpx.AsyncClient, api: Api) -> None:
        r = await client.post(
            "/referrals",
            content=b'{"prisonId": ',
            headers={**api.keys.practitioner.headers, "content-type": "application/json"},
        )
        assert_problem(r, 422, "VALIDATION_FAILED")


class TestUnexpectedError:
    @pytest.fixture
    async def failing_client(self, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        """The app with one extra route that fails as a bug would."""

        @app.get("/test-only/explode")
        async def explode() -> None:
            raise RuntimeError("password=hunter2 in /srv/app/secret.py line 42")

        # The server answers for itself; the test must see what a client sees, not the exception.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://rj.test") as c:
            yield c

    async def test_is_a_500_problem_without_a_trace(
        self, failing_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        r = await failing_client.get("/test-only/explode", headers={"X-Request-ID": "boom-1"})
        body = assert_problem(r, 500, "INTERNAL_ERROR")
        for leak in ("Traceback", "RuntimeError", "hunter2", "secret.py", "line 42"):
            assert leak not in r.text
        assert set(body) == PROBLEM_MEMBERS
        # The operator, unlike the client, is told what failed.
        logged = [rec for rec in caplog.records if rec.name == "rj_casework.errors"]
        assert len(logged) == 1
        assert logged[0].exc_info is not None and "hunter2" in str(logged[0].exc_info[1])

    async def test_carries_the_request_id(self, failing_client: httpx.AsyncClient) -> None:
        r = await failing_client.get("/test-only/explode", headers={"X-Request-ID": "boom-2"})
        assert r.status_code == 500
        assert r.headers["x-request-id"] == "boom-2"

    async def test_the_service_keeps_answering(self, failing_client: httpx.AsyncClient) -> None:
        assert (await failing_client.get("/test-only/explode")).status_code == 500
        assert (await failing_client.get("/health")).status_code == 200


class TestRequestId:
    async def test_given_id_is_echoed_and_recorded_in_the_audit_trail(self, api: Api) -> None:
        r = await api.client.post(
            "/referrals",
            json=referral_body(),
            headers={**api.keys.practitioner.headers, "X-Request-ID": "incident-sync-7f3a"},
        )
        assert r.status_code == 201
        assert r.headers["x-request-id"] == "incident-sync-7f3a"
        case_id = r.json()["id"]
        r = await api.client.post(
            f"/cases/{case_id}/transitions",
            json={"trigger": "accept"},
            headers={**api.keys.practitioner.headers, "X-Request-ID": "ui-accept-0001"},
        )
        assert r.headers["x-request-id"] == "ui-accept-0001"
        assert [rec.request_id for rec in await audit_records(api.db, case_id)] == [
            "incident-sync-7f3a",
            "ui-accept-0001",
        ]
        r = await api.client.get("/audit", params={"caseId": case_id}, headers=api.keys.auditor.headers)
        assert [rec["requestId"] for rec in r.json()["content"]] == ["incident-sync-7f3a", "ui-accept-0001"]

    async def test_missing_id_is_generated_and_recorded(self, api: Api) -> None:
        r = await api.client.post("/referrals", json=referral_body(), headers=api.keys.practitioner.headers)
        generated = r.headers["x-request-id"]
        assert uuid.UUID(generated)
        assert [rec.request_id for rec in await audit_records(api.db, r.json()["id"])] == [generated]

    @pytest.mark.parametrize("unsafe", ["has spaces", "x" * 101, "line\tbreak", "<script>"])
    async def test_unsafe_id_is_replaced(self, client: httpx.AsyncClient, unsafe: str) -> None:
        r = await client.get("/health", headers={"X-Request-ID": unsafe})
        assert r.headers["x-request-id"] != unsafe
        assert uuid.UUID(r.headers["x-request-id"])

    async def test_errors_carry_the_request_id(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/cases", headers={"X-Request-ID": "no-token-here"})
        assert r.status_code == 401
        assert r.headers["x-request-id"] == "no-token-here"
