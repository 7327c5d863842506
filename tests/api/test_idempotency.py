"""Idempotency-Key on creating POSTs: replay, reuse refused, running refused, kept for a day."""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select
from sqlmodel import col

from app import clock
from app.api.app import ROUTE_MODULES
from app.api.deps import get_unit
from app.api.idempotency import dependencies_for
from app.api.routes import health, workflow
from app.db import Database
from app.errors import IdempotencyInProgressError
from app.idempotency import service
from app.models.cases import Case, Consent
from app.models.idempotency import IdempotencyKey
from app.models.reps import Rep
from app.timed_work.runner import purge_idempotency_keys
from tests.conftest import FIXTURES
from tests.servers import load_fixture
from tests.support import Api, Key, Keys, referral_body

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="


async def count(db: Database, model: Any) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def key_row(db: Database, key: str) -> IdempotencyKey | None:
    async with db.transaction() as session:
        return (
            await session.execute(select(IdempotencyKey).where(col(IdempotencyKey.key) == key))
        ).scalar_one_or_none()


def with_key(key: Key, idempotency_key: str) -> dict[str, str]:
    return {**key.headers, "Idempotency-Key": idempotency_key}


class TestReplay:
    async def test_same_key_and_body_replays_the_first_response(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        body = referral_body()
        headers = with_key(keys.practitioner, "k-1")
        first = await client.post("/referrals", json=body, headers=headers)
        again = await client.post("/referrals", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert again.headers["Location"] == first.headers["Location"]
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert await count(db, Case) == 1
        row = await key_row(db, "k-1")
        assert row is not None and row.status == "done" and row.response_status == 201

    async def test_same_json_in_another_key_order_is_the_same_body(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        body = referral_body()
        reordered = dict(reversed(list(body.items())))
        headers = with_key(keys.practitioner, "k-order")
        first = await client.post("/referrals", json=body, headers=headers)
        again = await client.post("/referrals", json=reordered, headers=headers)
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()

    async def test_without_a_key_nothing_is_kept(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        r = await client.post("/referrals", json=referral_body(), headers=keys.practitioner.headers)
        assert r.status_code == 201
        assert await count(db, IdempotencyKey) == 0


class TestReuse:
    async def test_same_key_with_another_body_is_refused(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        headers = with_key(keys.practitioner, "k-2")
        await client.post("/referrals", json=referral_body(), headers=headers)
        r = await client.post("/referrals", json=referral_body(), headers=headers)
        assert r.status_code == 422
        assert r.json()["errorCode"] == "IDEMPOTENCY_KEY_REUSED"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert await count(db, Case) == 1

    async def test_same_key_on_another_path_is_refused(self, api: Api, keys: Keys) -> None:
        case = await api.refer()
        headers = with_key(keys.practitioner, "k-3")
        party = {"prisonerNumber": "C3456DE", "firstName": "Ola", "lastName": "Ade", "role": "harmed"}
        added = await api.client.post(f"/cases/{case['id']}/parties", json=party, headers=headers)
        assert added.status_code == 201
        r = await api.client.post("/referrals", json=party, headers=headers)
        assert r.status_code == 422 and r.json()["errorCode"] == "IDEMPOTENCY_KEY_REUSED"

    async def test_keys_belong_to_their_client(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        rep = {"prisonerNumber": "G1234HJ", "firstName": "Andre", "lastName": "Lewis", "prisonId": "MDI"}
        other = {**rep, "prisonerNumber": "G2345HJ"}
        by_manager = await client.post("/reps", json=rep, headers=with_key(keys.manager, "shared"))
        by_admin = await client.post("/reps", json=other, headers=with_key(keys.admin, "shared"))
        assert (by_manager.status_code, by_admin.status_code) == (201, 201)
        assert by_manager.json()["id"] != by_admin.json()["id"]
        assert "Idempotent-Replayed" not in by_admin.headers
        assert await count(db, Rep) == 2

    @pytest.mark.parametrize("bad", ["", " ", "x" * 256])
    async def test_a_key_that_is_empty_or_too_long_is_refused(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, bad: str
    ) -> None:
        r = await client.post("/referrals", json=referral_body(), headers=with_key(keys.practitioner, bad))
        assert r.status_code == 422
        assert r.json()["errorCode"] == "VALIDATION_FAILED"
        assert await count(db, Case) == 0

    async def test_a_key_of_255_characters_is_accepted(self, client: httpx.AsyncClient, keys: Keys) -> None:
        r = await client.post(
            "/referrals", json=referral_body(), headers=with_key(keys.practitioner, "k" * 255)
        )
        assert r.status_code == 201


class TestFailures:
    async def test_a_refused_request_gives_its_key_back(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        headers = with_key(keys.practitioner, "k-4")
        refused = await client.post("/referrals", json=referral_body(prison="LEI"), headers=headers)
        assert refused.status_code == 403
        assert await key_row(db, "k-4") is None
        fixed = await client.post("/referrals", json=referral_body(), headers=headers)
        assert fixed.status_code == 201
        assert "Idempotent-Replayed" not in fixed.headers

    async def test_an_invalid_body_claims_nothing(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        r = await client.post(
            "/referrals", json={"prisonId": "MDI"}, headers=with_key(keys.practitioner, "k-5")
        )
        assert r.status_code == 422
        assert await key_row(db, "k-5") is None

    async def test_without_a_valid_token_the_key_is_not_looked_at(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/referrals",
            json=referral_body(),
            headers={"Authorization": "Bearer nope", "Idempotency-Key": "k"},
        )
        assert r.status_code == 401


class TestInProgress:
    async def _claim(
        self, db: Database, key: Key, idempotency_key: str, path: str, body: dict[str, Any]
    ) -> Any:
        import json

        async with db.transaction() as session:
            return await service.claim(
                session,
                client_id=key.client_id,
                key=idempotency_key,
                fingerprint=service.fingerprint("POST", path, json.dumps(body).encode()),
            )

    async def test_the_same_key_while_the_first_request_runs_is_409(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        body = referral_body()
        await self._claim(db, keys.practitioner, "k-6", "/referrals", body)
        r = await client.post("/referrals", json=body, headers=with_key(keys.practitioner, "k-6"))
        assert r.status_code == 409
        assert r.json()["errorCode"] == "IDEMPOTENCY_IN_PROGRESS"
        assert await count(db, Case) == 0

    async def test_a_key_left_running_by_a_crash_is_taken_over_once_its_lock_expires(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, settings: Any
    ) -> None:
        body = referral_body()
        clock.freeze(clock.now())
        await self._claim(db, keys.practitioner, "k-7", "/referrals", body)
        clock.advance(timedelta(seconds=settings.idempotency_lock_seconds + 1))
        r = await client.post("/referrals", json=body, headers=with_key(keys.practitioner, "k-7"))
        assert r.status_code == 201
        assert await count(db, Case) == 1
        row = await key_row(db, "k-7")
        assert row is not None and row.status == "done"

    async def test_a_run_whose_key_was_taken_over_cannot_commit(
        self, keys: Keys, db: Database, settings: Any
    ) -> None:
        body = referral_body()
        clock.freeze(clock.now())
        slow = await self._claim(db, keys.practitioner, "k-8", "/referrals", body)
        clock.advance(timedelta(seconds=settings.idempotency_lock_seconds + 1))
        retry = await self._claim(db, keys.practitioner, "k-8", "/referrals", body)
        assert isinstance(retry, service.Claim) and retry.owner != slow.owner
        with pytest.raises(IdempotencyInProgressError):
            async with db.transaction() as session:
                await service.mark_committed(session, slow)
        async with db.transaction() as session:
            await service.mark_committed(session, retry)

    async def test_a_key_committed_without_its_response_kept_is_never_run_again(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, settings: Any
    ) -> None:
        body = referral_body()
        clock.freeze(clock.now())
        held = await self._claim(db, keys.practitioner, "k-9", "/referrals", body)
        async with db.transaction() as session:
            await service.mark_committed(session, held)  # the process then died before keeping the response
        clock.advance(timedelta(seconds=settings.idempotency_lock_seconds + 1))
        r = await client.post("/referrals", json=body, headers=with_key(keys.practitioner, "k-9"))
        assert r.status_code == 409
        assert "could not be kept" in r.json()["detail"]
        assert await count(db, Case) == 0


class TestKeeping:
    async def test_keys_are_kept_a_day_and_then_purged_by_the_timed_work(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        clock.freeze(clock.now())
        headers = with_key(keys.practitioner, "k-10")
        await client.post("/referrals", json=referral_body(), headers=headers)
        clock.advance(timedelta(hours=23, minutes=59))
        assert await purge_idempotency_keys(db) == 0
        reused = await client.post("/referrals", json=referral_body(), headers=headers)
        assert reused.status_code == 422
        clock.advance(timedelta(minutes=2))
        assert await purge_idempotency_keys(db) == 1
        fresh = await client.post("/referrals", json=referral_body(), headers=headers)
        assert fresh.status_code == 201


class TestEveryCreatingPost:
    """Each creating POST of the contract replays under the same key and creates once."""

    async def _twice(self, client: httpx.AsyncClient, path: str, body: Any, key: Key) -> httpx.Response:
        headers = with_key(key, f"every-{uuid.uuid4()}")
        first = await client.post(path, json=body, headers=headers)
        assert first.status_code in (200, 201), first.text
        again = await client.post(path, json=body, headers=headers)
        assert again.status_code == first.status_code
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.content == first.content
        return first

    async def test_referrals(self, client: httpx.AsyncClient, keys: Keys, db: Database) -> None:
        await self._twice(client, "/referrals", referral_body(), keys.referrer)
        assert await count(db, Case) == 1

    async def test_incident_reports(self, client: httpx.AsyncClient, keys: Keys, db: Database) -> None:
        report = load_fixture(FIXTURES, "incident-reporting/report-with-details.json")
        await self._twice(client, "/referrals/incident-reports", report, keys.referrer)
        assert await count(db, Case) == 1

    async def test_parties(self, api: Api, keys: Keys, db: Database) -> None:
        case = await api.refer()
        party = {"prisonerNumber": "C3456DE", "firstName": "Ola", "lastName": "Ade", "role": "harmed"}
        r = await self._twice(api.client, f"/cases/{case['id']}/parties", party, keys.practitioner)
        assert len(r.json()["parties"]) == 3

    async def test_consents(self, api: Api, keys: Keys, db: Database) -> None:
        case = await api.refer()
        consent = {"scope": "indirect", "given": True, "recordedBy": "Rep Lewis", "method": "in_person"}
        path = f"/cases/{case['id']}/parties/{case['parties'][0]['id']}/consents"
        await self._twice(api.client, path, consent, keys.practitioner)
        assert await count(db, Consent) == 1

    async def test_reps(self, client: httpx.AsyncClient, keys: Keys, db: Database) -> None:
        rep = {"prisonerNumber": "G1234HJ", "firstName": "Andre", "lastName": "Lewis", "prisonId": "MDI"}
        await self._twice(client, "/reps", rep, keys.manager)
        assert await count(db, Rep) == 1

    async def test_webhook_subscriptions(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from app.config import get_settings
        from app.models.webhooks import WebhookSubscription

        monkeypatch.setenv("RJ_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
        get_settings.cache_clear()
        body = {
            "url": "http://127.0.0.1:9/hook",
            "eventTypes": ["restorative-justice.case.created"],
            "secret": SECRET,
        }
        await self._twice(client, "/webhook-subscriptions", body, keys.admin)
        assert await count(db, WebhookSubscription) == 1


class TestWhereTheMarkIsMade:
    """Every POST marks its key committed in the request's own transaction (its unit of work);
    a router of reads alone opens no unit for it."""

    ROUTERS = [module.router for module in ROUTE_MODULES]

    def test_every_router_with_a_post_marks_keys_committed(self) -> None:
        with_posts = [r for r in self.ROUTERS if any("POST" in (x.methods or ()) for x in _api_routes(r))]
        assert len(with_posts) >= 10
        for router in with_posts:
            assert [d.dependency for d in dependencies_for(router)] == [get_unit]

    @pytest.mark.parametrize("module", [health, workflow], ids=["health", "workflow"])
    def test_reads_alone_take_no_session_for_it(self, module: Any) -> None:
        assert dependencies_for(module.router) == []
        ping = next(r for r in _api_routes(health.router) if r.path == "/health/ping")
        assert ping.dependant.dependencies == []


def _api_routes(router: Any) -> list[APIRoute]:
    return [r for r in router.routes if isinstance(r, APIRoute)]
