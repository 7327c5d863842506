"""Appending to the audit trail and verifying it."""

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.audit.chain import content_hash, link_hash
from app.audit.models import GLOBAL_CHAIN, AuditChainHead, AuditRecord
from app.cases.models import Case
from app.common.jsonable import plain
from app.context import RequestContext


def _record(
    ctx: RequestContext,
    *,
    chain: str,
    seq: int,
    prev_hash: str,
    case_id: uuid.UUID | None,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditRecord:
    record = AuditRecord(
        chain=chain,
        seq=seq,
        case_id=case_id,
        occurred_at=clock.now(),
        request_id=ctx.request_id,
        actor=ctx.principal.actor(),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id) if entity_id is not None else None,
        before=plain(before) if before is not None else None,
        after=plain(after) if after is not None else None,
        content_hash="",
        prev_hash=prev_hash,
        hash="",
    )
    record.content_hash = content_hash(record)
    record.hash = link_hash(chain, seq, prev_hash, record.content_hash)
    return record


def record_case_change(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case,
    *,
    action: str,
    entity_type: str = "case",
    entity_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append a record to the case's own chain. The caller holds the case row lock."""
    seq = case.audit_seq + 1
    record = _record(
        ctx,
        chain=str(case.id),
        seq=seq,
        prev_hash=case.audit_head,
        case_id=case.id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id if entity_id is not None else case.id,
        before=before,
        after=after,
    )
    case.audit_seq = seq
    case.audit_head = record.hash
    session.add(record)
    return record


async def record_global_change(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append a record to the chain of changes outside cases, locking its head."""
    head = await _lock_global_head(session)
    record = _record(
        ctx,
        chain=GLOBAL_CHAIN,
        seq=head.seq + 1,
        prev_hash=head.hash,
        case_id=None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
    )
    head.seq = record.seq
    head.hash = record.hash
    session.add(record)
    return record


async def _lock_global_head(session: AsyncSession) -> AuditChainHead:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(AuditChainHead)
        .values(chain=GLOBAL_CHAIN, seq=0, hash="")
        .on_conflict_do_nothing(index_elements=["chain"])
    )
    head = (
        await session.execute(
            select(AuditChainHead)
            .where(AuditChainHead.chain == GLOBAL_CHAIN)  # type: ignore[arg-type]
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    return head


@dataclass(slots=True)
class Verification:
    """The outcome of recomputing every chain."""

    valid: bool
    checked: int
    redacted: int
    first_invalid: dict[str, Any] | None


async def verify(session: AsyncSession, *, batch_size: int = 5000) -> Verification:
    """Recompute every chain; report the first record changed, removed, reordered or added."""
    heads = await _expected_heads(session)
    checked = 0
    redacted = 0
    head: tuple[int, str] = (0, "")
    last: AuditRecord | None = None

    def end_of_chain() -> dict[str, Any] | None:
        # The chain's last record must be the head the service kept for it.
        if last is None:
            return None
        if head[0] > last.seq:
            return {
                "chain": last.chain,
                "seq": last.seq + 1,
                "reason": "records missing at the end of the chain",
            }
        if head[1] != last.hash:
            where = {"id": last.id, "chain": last.chain, "seq": last.seq}
            return {**where, "reason": "does not match the head kept for the chain"}
        return None

    async for record in _stream(session, batch_size):
        if last is None or record.chain != last.chain:
            problem = end_of_chain()
            if problem:
                return Verification(False, checked, redacted, problem)
            known = heads.pop(record.chain, None)
            if known is None:
                where = {"id": record.id, "chain": record.chain, "seq": record.seq}
                return Verification(
                    False, checked, redacted, {**where, "reason": "a chain the service never started"}
                )
            head, last = known, None
        problem = _check(record, last.seq + 1 if last else 1, last.hash if last else "")
        if problem is None and record.seq > head[0]:
            where = {"id": record.id, "chain": record.chain, "seq": record.seq}
            problem = {**where, "reason": "beyond the head kept for the chain"}
        if problem:
            return Verification(False, checked, redacted, problem)
        checked += 1
        redacted += int(record.redacted)
        last = record
    problem = end_of_chain()
    if problem:
        return Verification(False, checked, redacted, problem)
    for missing_chain, (seq, _hash) in sorted(heads.items()):
        if seq > 0:
            return Verification(
                False,
                checked,
                redacted,
                {"chain": missing_chain, "seq": 1, "reason": "every record of the chain missing"},
            )
    return Verification(True, checked, redacted, None)


def _check(record: AuditRecord, expected_seq: int, prev_hash: str) -> dict[str, Any] | None:
    where = {"id": record.id, "chain": record.chain, "seq": record.seq}
    if record.seq != expected_seq:
        reason = (
            f"record {expected_seq} of the chain is missing"
            if record.seq > expected_seq
            else "records out of order"
        )
        return {**where, "seq": expected_seq, "foundSeq": record.seq, "reason": reason}
    if record.prev_hash != prev_hash:
        return {**where, "reason": "does not link to the previous record"}
    if not record.redacted and content_hash(record) != record.content_hash:
        return {**where, "reason": "content changed"}
    if link_hash(record.chain, record.seq, prev_hash, record.content_hash) != record.hash:
        return {**where, "reason": "hash does not match"}
    return None


async def _expected_heads(session: AsyncSession) -> dict[str, tuple[int, str]]:
    heads: dict[str, tuple[int, str]] = {}
    for case_id, seq, head in await session.execute(
        select(Case.id, Case.audit_seq, Case.audit_head)  # type: ignore[call-overload]
    ):
        heads[str(case_id)] = (seq, head)
    for chain_head in (await session.execute(select(AuditChainHead))).scalars():
        heads[chain_head.chain] = (chain_head.seq, chain_head.hash)
    return heads


async def _stream(session: AsyncSession, batch_size: int) -> AsyncIterator[AuditRecord]:
    result = await session.stream(
        select(AuditRecord)
        .order_by(AuditRecord.chain, AuditRecord.seq)  # type: ignore[arg-type]
        .execution_options(yield_per=batch_size)
    )
    async for record in result.scalars():
        yield record
        session.expunge(record)
