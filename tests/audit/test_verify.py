"""Verification of the audit trail finds every change, removal and reordering behind the
service's back, on both backends, and accepts records whose JSON texts are not canonical."""

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.audit import service
from app.audit.service import verify
from app.db import Database
from tests.support import Api


async def _tamper(db: Database, statement: str, **params: Any) -> None:
    """Change the trail as someone with database access could (bypassing the trigger)."""
    async with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(statement), params)


async def _case_with_history(api: Api) -> str:
    case = await api.refer()
    await api.must_fire(case["id"], "accept")
    await api.patch(case["id"], riskLevel="low", facilitator="practitioner")
    return str(case["id"])


class TestVerify:
    async def test_an_untouched_trail_verifies(self, api: Api, db: Database) -> None:
        await _case_with_history(api)

        result = await verify(db.engine)

        assert result.valid
        assert result.checked > 3
        assert result.first_invalid is None

    async def test_changed_content_is_named(self, api: Api, db: Database) -> None:
        case_id = await _case_with_history(api)
        await _tamper(
            db,
            "UPDATE audit_record SET after = :after WHERE chain = :chain AND seq = 2",
            after='{"state":"closed"}',
            chain=case_id,
        )

        result = await verify(db.engine)

        assert not result.valid
        assert result.first_invalid is not None
        assert result.first_invalid["chain"] == case_id
        assert result.first_invalid["seq"] == 2
        assert result.first_invalid["reason"] == "content changed"

    async def test_a_removed_record_is_named(self, api: Api, db: Database) -> None:
        case_id = await _case_with_history(api)
        await _tamper(db, "DELETE FROM audit_record WHERE chain = :chain AND seq = 2", chain=case_id)

        result = await verify(db.engine)

        assert not result.valid
        assert result.first_invalid is not None
        assert result.first_invalid["reason"] == "record 2 of the chain is missing"

    async def test_a_removed_last_record_is_named(self, api: Api, db: Database) -> None:
        case_id = await _case_with_history(api)
        await _tamper(
            db,
            "DELETE FROM audit_record WHERE chain = :chain AND seq = "
            "(SELECT max(seq) FROM audit_record WHERE chain = :chain)",
            chain=case_id,
        )

        result = await verify(db.engine)

        assert result.first_invalid is not None
        assert result.first_invalid["reason"] == "records missing at the end of the chain"

    async def test_a_removed_chain_is_named(self, api: Api, db: Database) -> None:
        case_id = await _case_with_history(api)
        await _tamper(db, "DELETE FROM audit_record WHERE chain = :chain", chain=case_id)

        result = await verify(db.engine)

        assert result.first_invalid == {
            "chain": case_id,
            "seq": 1,
            "reason": "every record of the chain missing",
        }

    async def test_a_changed_link_is_named(self, api: Api, db: Database) -> None:
        case_id = await _case_with_history(api)
        await _tamper(
            db,
            "UPDATE audit_record SET prev_hash = :bad WHERE chain = :chain AND seq = 3",
            bad="0" * 64,
            chain=case_id,
        )

        result = await verify(db.engine)

        assert result.first_invalid is not None
        assert (result.first_invalid["seq"], result.first_invalid["reason"]) == (
            3,
            "does not link to the previous record",
        )

    async def test_the_first_problem_in_chain_order_is_reported(self, api: Api, db: Database) -> None:
        first, second = sorted([await _case_with_history(api), await _case_with_history(api)])
        await _tamper(
            db, "UPDATE audit_record SET action = 'x' WHERE chain = :chain AND seq = 3", chain=second
        )
        await _tamper(
            db, "UPDATE audit_record SET action = 'x' WHERE chain = :chain AND seq = 3", chain=first
        )

        result = await verify(db.engine)

        assert result.first_invalid is not None
        assert (result.first_invalid["chain"], result.first_invalid["seq"]) == (first, 3)
        assert result.checked == 2  # records 1 and 2 of the first chain in order

    async def test_json_written_in_another_form_still_verifies(self, api: Api, db: Database) -> None:
        case_id = await _case_with_history(api)
        async with db.engine.connect() as conn:
            stored = (
                await conn.execute(
                    text("SELECT CAST(actor AS TEXT) FROM audit_record WHERE chain = :c AND seq = 2"),
                    {"c": case_id},
                )
            ).scalar_one()
        # The same values with spaces and another key order: not canonical, but not changed.
        spaced = json.dumps(dict(reversed(list(json.loads(stored).items()))), indent=1)
        await _tamper(
            db,
            "UPDATE audit_record SET actor = :actor WHERE chain = :chain AND seq = 2",
            actor=spaced,
            chain=case_id,
        )

        result = await verify(db.engine)

        assert spaced != stored
        assert result.valid, result.first_invalid


class TestVerifyEndpoint:
    async def test_auditor_gets_the_outcome(self, api: Api, client: httpx.AsyncClient) -> None:
        await _case_with_history(api)

        r = await client.get("/audit/verify", headers=api.keys.auditor.headers)

        assert r.status_code == 200
        assert r.json()["valid"] is True
        assert r.json()["checked"] > 3


class TestVerifyInProcesses:
    """On a large trail the records are checked by one process per core, page range by range."""

    async def test_a_change_is_found_whichever_range_holds_it(
        self, api: Api, db: Database, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if not is_postgres:
            pytest.skip("page ranges are PostgreSQL's")
        monkeypatch.setattr(service, "PARALLEL_FROM", -1)
        case_ids = [await _case_with_history(api) for _ in range(3)]
        assert (await verify(db.engine)).valid
        await _tamper(
            db,
            "UPDATE audit_record SET entity_type = 'x' WHERE chain = :chain AND seq = 1",
            chain=case_ids[1],
        )

        result = await verify(db.engine)

        assert result.first_invalid is not None
        assert (result.first_invalid["chain"], result.first_invalid["reason"]) == (
            case_ids[1],
            "content changed",
        )
