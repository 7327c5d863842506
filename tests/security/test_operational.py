"""Operational safety: no internals in responses, docs switchable, CORS closed by default,
security headers everywhere."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.api.app import create_app
from app.api.deps import SessionDep
from app.config import Settings
from app.db import Database
from tests.support import Api, Keys, referral_body

LEAKS = ("Traceback", "SELECT", "select ", "no_such_table", "api_client", 'File "', "sqlalchemy", "asyncpg")


def assert_no_internals(r: httpx.Response) -> None:
    """The body is a problem with nothing of the code or the SQL behind it."""
    assert r.headers["content-type"] == "application/problem+json"
    for leak in LEAKS:
        assert leak not in r.text, f"{leak!r} in {r.text}"


async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of `app` that gets 500 answers instead of exceptions."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://rj.test") as c:
        yield c


@pytest.fixture
async def failing_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with two routes that fail the way bugs do: a bad statement and an exception."""

    async def bad_statement(session: SessionDep) -> dict[str, str]:
        await session.execute(text("SELECT secret FROM no_such_table"))
        return {}

    async def exception() -> dict[str, str]:
        raise RuntimeError("SELECT key_hash FROM api_client WHERE id = 1")

    app.add_api_route("/test-only/bad-statement", bad_statement)
    app.add_api_route("/test-only/exception", exception)
    async for c in client_of(app):
        yield c


class TestNoInternalsInResponses:
    async def test_a_failing_statement_shows_no_sql(self, failing_client: httpx.AsyncClient) -> None:
        r = await failing_client.get("/test-only/bad-statement")
        assert r.status_code in (500, 503)
        assert_no_internals(r)

    async def test_an_unexpected_exception_shows_no_trace(self, failing_client: httpx.AsyncClient) -> None:
        r = await failing_client.get("/test-only/exception")
        assert r.status_code == 500
        assert r.json()["errorCode"] == "INTERNAL_ERROR"
        assert_no_internals(r)

    async def test_an_unmigrated_database_shows_no_sql(self, keys: Keys, tmp_path: Path) -> None:
        empty = Database(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/empty.db"))
        app = create_app(empty.settings, database=empty)
        async for c in client_of(app):
            r = await c.get("/cases", headers=keys.practitioner.headers)
        await empty.dispose()
        assert r.status_code in (500, 503)
        assert_no_internals(r)

    async def test_an_unreachable_database_is_503(self, keys: Keys) -> None:
        down = Database(Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"))
        app = create_app(down.settings, database=down)
        async for c in client_of(app):
            r = await c.get("/cases", headers=keys.practitioner.headers)
        await down.dispose()
        assert r.status_code == 503
        assert r.json()["errorCode"] == "SERVICE_UNAVAILABLE"
        assert r.headers["retry-after"] == "5"
        assert_no_internals(r)

    async def test_validation_errors_do_not_echo_the_input(self, api: Api) -> None:
        body = referral_body()
        body["prisonId"] = "SECRET-VALUE-123"
        r = await api.client.post("/referrals", json=body, headers=api.keys.practitioner.headers)
        assert r.status_code == 422
        assert "SECRET-VALUE-123" not in r.text


class TestDocsSetting:
    @pytest.mark.parametrize(
        "path", ["/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect", "/docs/assets/swagger-ui.css"]
    )
    async def test_docs_and_openapi_are_gone_when_disabled(
        self, db: Database, settings: Settings, path: str
    ) -> None:
        app = create_app(settings.model_copy(update={"docs_enabled": False}), database=db)
        async for c in client_of(app):
            r = await c.get(path)
        assert r.status_code == 404

    async def test_disabled_by_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("RJ_DOCS_ENABLED", "false")
        assert Settings().docs_enabled is False

    async def test_served_when_enabled(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/docs")).status_code == 200


PREFLIGHT = {
    "Origin": "https://casework.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


class TestCors:
    async def test_closed_by_default(self, client: httpx.AsyncClient, keys: Keys) -> None:
        preflight = await client.options("/referrals", headers=PREFLIGHT)
        simple = await client.get(
            "/cases", headers={"Origin": PREFLIGHT["Origin"], **keys.practitioner.headers}
        )
        for r in (preflight, simple):
            assert not any(h.startswith("access-control-") for h in r.headers)

    async def test_open_to_the_configured_origins_only(
        self, db: Database, settings: Settings, keys: Keys
    ) -> None:
        app = create_app(
            settings.model_copy(update={"cors_origins": ["https://casework.example"]}), database=db
        )
        async for c in client_of(app):
            allowed = await c.options("/referrals", headers=PREFLIGHT)
            other = await c.options("/referrals", headers={**PREFLIGHT, "Origin": "https://evil.example"})
            simple = await c.get(
                "/cases", headers={"Origin": PREFLIGHT["Origin"], **keys.practitioner.headers}
            )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://casework.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in allowed.headers
        assert "access-control-allow-origin" not in other.headers
        assert simple.headers["access-control-allow-origin"] == "https://casework.example"
        assert "etag" in simple.headers["access-control-expose-headers"].lower()

    @pytest.mark.parametrize(
        "value", ["https://a.example, https://b.example", '["https://a.example", "https://b.example"]']
    )
    async def test_origins_from_the_environment(self, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
        monkeypatch.setenv("RJ_CORS_ORIGINS", value)
        assert Settings().cors_origins == ["https://a.example", "https://b.example"]


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


class TestSecurityHeaders:
    async def test_on_every_kind_of_response(self, api: Api, db: Database, settings: Settings) -> None:
        case = await api.refer()
        small = create_app(settings.model_copy(update={"max_body_bytes": 100}), database=db)
        responses = {
            "public": await api.client.get("/health"),
            "ok": await api.client.get(f"/cases/{case['id']}", headers=api.keys.practitioner.headers),
            "401": await api.client.get("/cases"),
            "403": await api.client.get("/audit", headers=api.keys.practitioner.headers),
            "404": await api.client.get("/no/such/route"),
            "405": await api.client.delete("/cases"),
            "422": await api.client.get("/cases?size=1000", headers=api.keys.practitioner.headers),
        }
        async for c in client_of(small):
            responses["413"] = await c.post("/referrals", json=referral_body())
        for name, r in responses.items():
            for header, value in SECURITY_HEADERS.items():
                assert r.headers.get(header) == value, f"{name}: {header}"
            assert r.headers.get("x-request-id"), name
