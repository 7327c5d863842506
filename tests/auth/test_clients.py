"""API clients over the API (admins): listing them, revoking a key, rotating one."""

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.api.app import create_app
from app.config import Settings
from app.db import Database
from app.models.audit import GLOBAL_CHAIN, AuditRecord
from app.models.auth import ApiClient
from app.models.idempotency import IdempotencyKey
from tests.auth.test_jwt import PROVIDER_KEY, _pem, bearer, jwt_settings, token
from tests.support import Api, Key, Keys, make_key


async def client_row(db: Database, key: Key) -> ApiClient:
    async with db.transaction() as session:
        row = await session.get(ApiClient, key.client_id)
        assert row is not None
        return row


async def global_records(db: Database, action: str) -> list[AuditRecord]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(AuditRecord)
            .where(col(AuditRecord.chain) == GLOBAL_CHAIN, col(AuditRecord.action) == action)
            .order_by(col(AuditRecord.seq))
        )
        return list(rows.scalars())


@pytest.fixture
async def mdi_admin(db: Database) -> Key:
    """An admin whose caseload is MDI alone."""
    return await make_key(db, role="admin", prisons=["MDI"], name="MDI admin")


@pytest.fixture
async def lei_referrer(db: Database) -> Key:
    """A client of LEI alone: outside an MDI admin's caseload."""
    return await make_key(db, role="referrer", prisons=["LEI"], name="LEI incidents")


async def works(client: httpx.AsyncClient, key: Key | str) -> int:
    """The status of a plain read with `key`."""
    headers = key.headers if isinstance(key, Key) else {"Authorization": f"Bearer {key}"}
    return (await client.get("/cases", headers=headers)).status_code


class TestListClients:
    async def test_an_admin_sees_every_client_without_keys_or_hashes(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        r = await client.get("/clients", params={"size": "100"}, headers=keys.admin.headers)

        assert r.status_code == 200, r.text
        listed = {c["id"]: c for c in r.json()["content"]}
        assert str(keys.practitioner_lei.client_id) in listed and str(keys.admin.client_id) in listed
        manager = listed[str(keys.manager.client_id)]
        assert manager == {
            "id": str(keys.manager.client_id),
            "name": "test manager",
            "role": "manager",
            "prisons": ["MDI"],
            "allPrisons": False,
            "repId": None,
            "createdAt": manager["createdAt"],
            "status": "active",
            "revokedAt": None,
            "previousKeyExpiresAt": None,
        }
        stored = await client_row(db, keys.manager)
        assert keys.manager.token not in r.text and stored.key_hash not in r.text

    async def test_an_admin_of_one_prison_sees_only_clients_within_it(
        self, client: httpx.AsyncClient, keys: Keys, mdi_admin: Key, lei_referrer: Key
    ) -> None:
        r = await client.get("/clients", params={"size": "100"}, headers=mdi_admin.headers)

        assert r.status_code == 200, r.text
        listed = {c["id"] for c in r.json()["content"]}
        # The manager and practitioner are of MDI; the referrer (MDI and LEI), the national admin
        # and the LEI clients are not within MDI.
        assert listed == {str(k.client_id) for k in (keys.practitioner, keys.manager, mdi_admin)}
        assert r.json()["totalElements"] == 3

    @pytest.mark.parametrize("role", ["practitioner", "manager", "auditor", "referrer"])
    async def test_other_roles_are_refused(self, client: httpx.AsyncClient, keys: Keys, role: str) -> None:
        r = await client.get("/clients", headers=getattr(keys, role).headers)

        assert r.status_code == 403
        assert r.json()["errorCode"] == "FORBIDDEN"


class TestRevokeClient:
    async def test_the_key_is_refused_at_once_and_the_client_shows_revoked(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        assert await works(client, keys.manager) == 200

        r = await client.post(f"/clients/{keys.manager.client_id}/revoke", headers=keys.admin.headers)

        assert r.status_code == 200, r.text
        assert r.json()["status"] == "revoked" and r.json()["revokedAt"] is not None
        assert await works(client, keys.manager) == 401
        stored = await client_row(db, keys.manager)
        assert stored.active is False and stored.revoked_at is not None

    async def test_is_recorded_on_the_global_chain(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        r = await client.post(
            f"/clients/{keys.manager.client_id}/revoke",
            headers={**keys.admin.headers, "X-Request-ID": "revoke-1"},
        )
        assert r.status_code == 200, r.text

        [record] = await global_records(db, "client.revoked")
        assert record.entity_type == "api_client" and record.entity_id == str(keys.manager.client_id)
        assert record.case_id is None
        assert record.actor["clientId"] == str(keys.admin.client_id)
        assert record.request_id == "revoke-1"
        assert record.before == {"status": "active"}
        assert record.after is not None and record.after["status"] == "revoked"

    async def test_a_reps_key_can_be_revoked(self, client: httpx.AsyncClient, api: Api, keys: Keys) -> None:
        rep = await api.rep()
        rep_key = await keys.rep(uuid.UUID(rep["id"]))
        assert (await client.get("/reps/me/tasks", headers=rep_key.headers)).status_code == 200

        r = await client.post(f"/clients/{rep_key.client_id}/revoke", headers=keys.admin.headers)

        assert r.status_code == 200, r.text
        assert (await client.get("/reps/me/tasks", headers=rep_key.headers)).status_code == 401

    async def test_an_admin_of_one_prison_may_revoke_a_client_of_that_prison(
        self, client: httpx.AsyncClient, keys: Keys, mdi_admin: Key
    ) -> None:
        r = await client.post(f"/clients/{keys.practitioner.client_id}/revoke", headers=mdi_admin.headers)

        assert r.status_code == 200, r.text
        assert await works(client, keys.practitioner) == 401

    async def test_a_client_outside_the_admins_caseload_is_not_found(
        self, client: httpx.AsyncClient, keys: Keys, mdi_admin: Key, lei_referrer: Key, db: Database
    ) -> None:
        for other in (lei_referrer, keys.referrer, keys.admin):
            r = await client.post(f"/clients/{other.client_id}/revoke", headers=mdi_admin.headers)

            assert r.status_code == 404, r.text
            assert await works(client, other) == 200
        assert await global_records(db, "client.revoked") == []

    async def test_an_unknown_client_is_not_found(self, client: httpx.AsyncClient, keys: Keys) -> None:
        r = await client.post(f"/clients/{uuid.uuid4()}/revoke", headers=keys.admin.headers)

        assert r.status_code == 404
        assert r.json()["errorCode"] == "NOT_FOUND"

    @pytest.mark.parametrize("role", ["practitioner", "manager", "auditor"])
    async def test_other_roles_are_refused(
        self, client: httpx.AsyncClient, keys: Keys, role: str, db: Database
    ) -> None:
        r = await client.post(
            f"/clients/{keys.referrer.client_id}/revoke", headers=getattr(keys, role).headers
        )

        assert r.status_code == 403
        assert await works(client, keys.referrer) == 200

    async def test_revoking_again_is_a_conflict(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        path = f"/clients/{keys.manager.client_id}/revoke"
        assert (await client.post(path, headers=keys.admin.headers)).status_code == 200

        r = await client.post(path, headers=keys.admin.headers)

        assert r.status_code == 409
        assert r.json()["errorCode"] == "INVALID_STATE"
        assert len(await global_records(db, "client.revoked")) == 1

    async def test_a_revoked_practitioner_can_no_longer_be_named_on_a_case(
        self, client: httpx.AsyncClient, api: Api, keys: Keys
    ) -> None:
        other = await make_key(api.db, role="practitioner", prisons=["MDI"], name="leaving practitioner")
        case = await api.refer()
        assert (
            await client.post(f"/clients/{other.client_id}/revoke", headers=keys.admin.headers)
        ).is_success

        r = await api.assign(case["id"], [], practitioner_id=other.client_id)

        assert r.status_code == 409, r.text
        assert r.json()["refusal"] == "not_a_practitioner_here"


class TestRotateClient:
    async def test_shows_the_new_key_once_and_both_keys_work_during_the_overlap(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        r = await client.post(
            f"/clients/{keys.manager.client_id}/rotate", json={"overlapHours": 2}, headers=keys.admin.headers
        )

        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        new_key = body["key"]
        assert new_key.startswith("rjk_") and new_key != keys.manager.token
        assert body["status"] == "rotating" and body["previousKeyExpiresAt"] is not None
        assert await works(client, keys.manager) == 200
        assert await works(client, new_key) == 200
        listed = await client.get("/clients", params={"size": "100"}, headers=keys.admin.headers)
        assert new_key not in listed.text

    async def test_the_old_key_stops_when_the_overlap_ends(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        clock.freeze(clock.now())
        r = await client.post(
            f"/clients/{keys.manager.client_id}/rotate", json={"overlapHours": 2}, headers=keys.admin.headers
        )
        new_key = r.json()["key"]

        clock.advance(timedelta(hours=1, minutes=59))
        assert await works(client, keys.manager) == 200
        clock.advance(timedelta(minutes=1))

        assert await works(client, keys.manager) == 401
        assert await works(client, new_key) == 200
        listed = await client.get("/clients", params={"size": "100"}, headers=keys.admin.headers)
        [manager] = [c for c in listed.json()["content"] if c["id"] == str(keys.manager.client_id)]
        assert manager["status"] == "active" and manager["previousKeyExpiresAt"] is None

    async def test_without_an_overlap_the_old_key_stops_at_once(
        self, client: httpx.AsyncClient, keys: Keys
    ) -> None:
        r = await client.post(
            f"/clients/{keys.manager.client_id}/rotate", json={"overlapHours": 0}, headers=keys.admin.headers
        )

        assert r.status_code == 200, r.text
        assert await works(client, keys.manager) == 401
        assert await works(client, r.json()["key"]) == 200

    async def test_the_overlap_is_a_day_unless_stated(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        clock.freeze(clock.now())
        r = await client.post(
            f"/clients/{keys.manager.client_id}/rotate", json={}, headers=keys.admin.headers
        )

        assert r.status_code == 200, r.text
        assert (await client_row(db, keys.manager)).previous_key_expires_at == clock.now() + timedelta(
            hours=24
        )

    async def test_is_recorded_on_the_global_chain_without_either_key(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        before = (await client_row(db, keys.manager)).key_hash
        r = await client.post(
            f"/clients/{keys.manager.client_id}/rotate", json={"overlapHours": 6}, headers=keys.admin.headers
        )
        new_key = r.json()["key"]

        [record] = await global_records(db, "client.rotated")
        assert record.entity_id == str(keys.manager.client_id)
        assert record.actor["clientId"] == str(keys.admin.client_id)
        assert record.after is not None and record.after["overlapHours"] == 6
        after = (await client_row(db, keys.manager)).key_hash
        text = str([record.before, record.after])
        for secret in (keys.manager.token, new_key, before, after):
            assert secret not in text

    async def test_a_client_outside_the_admins_caseload_is_not_found(
        self, client: httpx.AsyncClient, keys: Keys, mdi_admin: Key, lei_referrer: Key, db: Database
    ) -> None:
        r = await client.post(f"/clients/{lei_referrer.client_id}/rotate", json={}, headers=mdi_admin.headers)

        assert r.status_code == 404, r.text
        assert "key" not in r.json()
        assert (await client_row(db, lei_referrer)).previous_key_hash is None
        assert await global_records(db, "client.rotated") == []

    async def test_an_admin_of_one_prison_may_rotate_a_client_of_that_prison(
        self, client: httpx.AsyncClient, keys: Keys, mdi_admin: Key
    ) -> None:
        r = await client.post(f"/clients/{keys.manager.client_id}/rotate", json={}, headers=mdi_admin.headers)

        assert r.status_code == 200, r.text
        assert await works(client, r.json()["key"]) == 200

    @pytest.mark.parametrize("role", ["practitioner", "manager", "auditor"])
    async def test_other_roles_are_refused(
        self, client: httpx.AsyncClient, keys: Keys, role: str, db: Database
    ) -> None:
        r = await client.post(
            f"/clients/{keys.referrer.client_id}/rotate", json={}, headers=getattr(keys, role).headers
        )

        assert r.status_code == 403
        assert (await client_row(db, keys.referrer)).previous_key_hash is None

    async def test_rotating_again_during_the_overlap_is_a_conflict(
        self, client: httpx.AsyncClient, keys: Keys
    ) -> None:
        path = f"/clients/{keys.manager.client_id}/rotate"
        first = await client.post(path, json={"overlapHours": 2}, headers=keys.admin.headers)

        r = await client.post(path, json={"overlapHours": 2}, headers=keys.admin.headers)

        assert r.status_code == 409
        assert r.json()["errorCode"] == "INVALID_STATE"
        assert await works(client, keys.manager) == 200
        assert await works(client, first.json()["key"]) == 200

    async def test_a_revoked_client_cannot_be_rotated(self, client: httpx.AsyncClient, keys: Keys) -> None:
        await client.post(f"/clients/{keys.manager.client_id}/revoke", headers=keys.admin.headers)

        r = await client.post(
            f"/clients/{keys.manager.client_id}/rotate", json={}, headers=keys.admin.headers
        )

        assert r.status_code == 409
        assert "key" not in r.json()

    @pytest.mark.parametrize("hours", [-1, 721, "24", 1.5])
    async def test_an_overlap_out_of_range_is_refused(
        self, client: httpx.AsyncClient, keys: Keys, hours: Any
    ) -> None:
        r = await client.post(
            f"/clients/{keys.manager.client_id}/rotate",
            json={"overlapHours": hours},
            headers=keys.admin.headers,
        )

        assert r.status_code == 422
        assert "overlapHours" in r.text

    async def test_a_retry_with_the_same_idempotency_key_does_not_show_the_key_again(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        headers = {**keys.admin.headers, "Idempotency-Key": "rotate-manager-1"}
        path = f"/clients/{keys.manager.client_id}/rotate"
        first = await client.post(path, json={"overlapHours": 2}, headers=headers)
        assert first.status_code == 200, first.text

        again = await client.post(path, json={"overlapHours": 2}, headers=headers)

        assert again.status_code == 409
        assert again.json()["errorCode"] == "IDEMPOTENCY_RESPONSE_NOT_KEPT"
        assert first.json()["key"] not in again.text
        async with db.transaction() as session:
            kept = (await session.execute(select(IdempotencyKey))).scalars().all()
        assert kept and all(first.json()["key"].encode() not in (k.response_body or b"") for k in kept)
        assert len(await global_records(db, "client.rotated")) == 1


class TestJwtCallers:
    @pytest.fixture
    async def jwt_client(
        self, db: Database, settings: Settings, tmp_path: Path
    ) -> AsyncIterator[httpx.AsyncClient]:
        pem = tmp_path / "provider.pem"
        pem.write_bytes(_pem(PROVIDER_KEY))
        app = create_app(
            jwt_settings(settings, jwt_public_key_file=str(pem), auth_cache_seconds=60), database=db
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rj.test") as c:
            yield c

    async def test_are_unaffected_by_revoking_keys(self, jwt_client: httpx.AsyncClient, keys: Keys) -> None:
        assert (await jwt_client.get("/cases", headers=bearer(token()))).status_code == 200
        r = await jwt_client.post(
            f"/clients/{keys.practitioner.client_id}/revoke", headers=keys.admin.headers
        )
        assert r.status_code == 200, r.text

        assert (await jwt_client.get("/cases", headers=bearer(token()))).status_code == 200
        assert (await jwt_client.get("/cases", headers=keys.practitioner.headers)).status_code == 401
