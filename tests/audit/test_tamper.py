"""A record changed, removed or reordered behind the service's back is found, and named exactly."""

import json
from typing import Any

import pytest
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Update
from sqlmodel import col

from app.audit.chain import content_hash, link_hash
from app.models.audit import GLOBAL_CHAIN, AuditRecord
from tests.audit.forge import cli_verify, tamper, verify
from tests.records import audit_records, count_audit_records
from tests.support import Api


def good_before(records: list[AuditRecord], target: AuditRecord) -> int:
    """How many records verification checks before reaching `target` (chains in order, then seq)."""
    return sum(1 for r in records if (r.chain, r.seq) < (target.chain, target.seq))


@pytest.fixture
async def trail(api: Api) -> list[str]:
    """Two cases with a few records each."""
    ids = []
    for _ in range(2):
        case = await api.to_state("assessment")
        ids.append(case["id"])
    return ids


class TestUntouchedTrail:
    async def test_verifies_over_http_and_on_the_command_line(
        self, api: Api, trail: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        total = await count_audit_records(api.db)
        assert await verify(api) == {"valid": True, "checked": total, "redacted": 0}
        code, out, err = await cli_verify(capsys)
        assert code == 0, err
        assert out == f"audit trail verifies: {total} records checked (0 redacted)\n"

    async def test_every_kind_of_change_verifies(self, api: Api) -> None:
        # Cases in every state: referrals, patches, consents, conference details, pauses, closures.
        for state in ("conference", "on_hold", "closed", "follow_up"):
            await api.to_state(state)
        assert await verify(api) == {
            "valid": True,
            "checked": await count_audit_records(api.db),
            "redacted": 0,
        }


class TestDatabaseRefusesChanges:
    async def test_postgresql_trigger_refuses_update_and_delete(
        self, api: Api, trail: list[str], is_postgres: bool
    ) -> None:
        if not is_postgres:
            pytest.skip("the refusing trigger is PostgreSQL's; SQLite relies on verification alone")
        target = (await audit_records(api.db, trail[0]))[2]
        for statement in (
            update(AuditRecord).where(col(AuditRecord.id) == target.id).values(action="case.nothing"),
            delete(AuditRecord).where(col(AuditRecord.id) == target.id),
        ):
            with pytest.raises(DBAPIError, match="audit records cannot be changed or removed"):
                async with api.db.engine.begin() as conn:
                    await conn.execute(statement)
        assert (await audit_records(api.db, trail[0]))[2].action == target.action
        assert (await verify(api))["valid"] is True


class TestEditedRecord:
    async def test_changed_content_names_that_record(
        self, api: Api, trail: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        records = await audit_records(api.db)
        target = next(r for r in records if r.chain == trail[1] and r.seq == 3)
        assert target.after is not None
        forged = {**target.after, "given": False}
        await tamper(api.db, update(AuditRecord).where(col(AuditRecord.id) == target.id).values(after=forged))

        result = await verify(api)

        expected = {"id": target.id, "chain": trail[1], "seq": 3, "reason": "content changed"}
        ordered = sorted(records, key=lambda r: (r.chain, r.seq))
        assert result == {
            "valid": False,
            "checked": good_before(ordered, target),
            "redacted": 0,
            "firstInvalid": expected,
        }
        code, out, err = await cli_verify(capsys)
        assert code == 1
        assert out == ""
        assert err.count("\n") == 1
        assert err.startswith("rj-casework: audit trail broken after")
        assert json.loads(err.split(": ", 2)[2]) == expected

    async def test_changed_actor_is_found(self, api: Api, trail: list[str]) -> None:
        target = (await audit_records(api.db, trail[0]))[1]
        await tamper(
            api.db,
            update(AuditRecord)
            .where(col(AuditRecord.id) == target.id)
            .values(actor={**target.actor, "name": "someone else"}),
        )
        assert (await verify(api))["firstInvalid"] == {
            "id": target.id,
            "chain": trail[0],
            "seq": 2,
            "reason": "content changed",
        }

    async def test_content_and_hash_rewritten_together_breaks_the_link(
        self, api: Api, trail: list[str]
    ) -> None:
        from app.audit.chain import content_hash

        target = (await audit_records(api.db, trail[0]))[1]
        target.action = "case.nothing"
        await tamper(
            api.db,
            update(AuditRecord)
            .where(col(AuditRecord.id) == target.id)
            .values(action="case.nothing", content_hash=content_hash(target)),
        )
        assert (await verify(api))["firstInvalid"] == {
            "id": target.id,
            "chain": trail[0],
            "seq": 2,
            "reason": "hash does not match",
        }

    async def test_edited_record_outside_cases_is_found(self, api: Api, trail: list[str]) -> None:
        target = next(r for r in await audit_records(api.db) if r.chain == GLOBAL_CHAIN and r.seq == 2)
        assert target.after is not None
        await tamper(
            api.db,
            update(AuditRecord)
            .where(col(AuditRecord.id) == target.id)
            .values(after={**target.after, "role": "admin"}),
        )
        assert (await verify(api))["firstInvalid"] == {
            "id": target.id,
            "chain": GLOBAL_CHAIN,
            "seq": 2,
            "reason": "content changed",
        }


class TestRemovedRecord:
    async def test_deleted_middle_record_names_chain_and_missing_seq(
        self, api: Api, trail: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        chain = await audit_records(api.db, trail[0])
        assert len(chain) > 4
        await tamper(api.db, delete(AuditRecord).where(col(AuditRecord.id) == chain[2].id))

        result = await verify(api)

        assert result["valid"] is False
        assert result["firstInvalid"] == {
            "id": chain[3].id,
            "chain": trail[0],
            "seq": 3,
            "foundSeq": 4,
            "reason": "record 3 of the chain is missing",
        }
        code, _out, err = await cli_verify(capsys)
        assert code == 1
        assert '"seq": 3' in err and trail[0] in err and "record 3 of the chain is missing" in err

    async def test_deleted_last_record_is_found(self, api: Api, trail: list[str]) -> None:
        chain = await audit_records(api.db, trail[1])
        await tamper(api.db, delete(AuditRecord).where(col(AuditRecord.id) == chain[-1].id))
        result = await verify(api)
        assert result["valid"] is False
        assert result["firstInvalid"] == {
            "chain": trail[1],
            "seq": len(chain),
            "reason": "records missing at the end of the chain",
        }

    async def test_deleted_first_record_is_found(self, api: Api, trail: list[str]) -> None:
        chain = await audit_records(api.db, trail[0])
        await tamper(api.db, delete(AuditRecord).where(col(AuditRecord.id) == chain[0].id))
        assert (await verify(api))["firstInvalid"] == {
            "id": chain[1].id,
            "chain": trail[0],
            "seq": 1,
            "foundSeq": 2,
            "reason": "record 1 of the chain is missing",
        }

    async def test_whole_chain_deleted_is_found(self, api: Api, trail: list[str]) -> None:
        await tamper(api.db, delete(AuditRecord).where(col(AuditRecord.chain) == trail[0]))
        assert (await verify(api))["firstInvalid"] == {
            "chain": trail[0],
            "seq": 1,
            "reason": "every record of the chain missing",
        }


class TestReorderedRecords:
    async def test_swapped_seq_is_found(
        self, api: Api, trail: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        chain = await audit_records(api.db, trail[0])
        second, third = chain[1], chain[2]

        def set_seq(record: AuditRecord, seq: int) -> Update:
            return update(AuditRecord).where(col(AuditRecord.id) == record.id).values(seq=seq)

        await tamper(api.db, set_seq(second, -1), set_seq(third, 2), set_seq(second, 3))

        result = await verify(api)

        assert result["valid"] is False
        assert result["firstInvalid"] == {
            "id": third.id,
            "chain": trail[0],
            "seq": 2,
            "reason": "does not link to the previous record",
        }
        code, _out, err = await cli_verify(capsys)
        assert code == 1
        assert f'"id": {third.id}' in err


def resealed(record: AuditRecord, **changes: Any) -> dict[str, Any]:
    """Column values for `record` changed and given fresh, self-consistent hashes."""
    for name, value in changes.items():
        setattr(record, name, value)
    record.content_hash = content_hash(record)
    record.hash = link_hash(record.chain, record.seq, record.prev_hash, record.content_hash)
    return {c.name: getattr(record, c.name) for c in AuditRecord.__table__.columns if c.name != "id"}


class TestForgedRecords:
    async def test_last_record_rewritten_with_fresh_hashes_is_found(self, api: Api, trail: list[str]) -> None:
        last = (await audit_records(api.db, trail[0]))[-1]
        assert last.after is not None
        values = resealed(last, after={**last.after, "riskLevel": "high"})
        await tamper(api.db, update(AuditRecord).where(col(AuditRecord.id) == last.id).values(**values))
        assert (await verify(api))["firstInvalid"] == {
            "id": last.id,
            "chain": trail[0],
            "seq": last.seq,
            "reason": "does not match the head kept for the chain",
        }

    async def test_record_appended_behind_the_services_back_is_found(
        self, api: Api, trail: list[str]
    ) -> None:
        last = (await audit_records(api.db, trail[1]))[-1]
        forged = AuditRecord(**{**last.model_dump(), "id": None})
        forged.seq, forged.prev_hash, forged.action = last.seq + 1, last.hash, "case.decline"
        await tamper(api.db, insert(AuditRecord).values(**resealed(forged)))
        forged_id = (await audit_records(api.db, trail[1]))[-1].id
        assert (await verify(api))["firstInvalid"] == {
            "id": forged_id,
            "chain": trail[1],
            "seq": last.seq + 1,
            "reason": "beyond the head kept for the chain",
        }

    async def test_chain_the_service_never_started_is_found(self, api: Api, trail: list[str]) -> None:
        first = (await audit_records(api.db, trail[0]))[0]
        invented = AuditRecord(**{**first.model_dump(), "id": None})
        invented.chain = "00000000-0000-0000-0000-000000000000"
        await tamper(api.db, insert(AuditRecord).values(**resealed(invented)))
        result = await verify(api)
        assert result["valid"] is False
        assert result["firstInvalid"]["chain"] == invented.chain
        assert result["firstInvalid"]["seq"] == 1
        assert result["firstInvalid"]["reason"] == "a chain the service never started"
