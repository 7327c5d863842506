"""Appending to the audit trail and verifying it."""

import asyncio
import hashlib
import json
import multiprocessing
import os
import re
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any, cast

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import col

from app import clock
from app.audit import checkpoints, redaction
from app.audit.chain import canonical, content_from_texts, content_hash, link_hash
from app.audit.checkpoints import Checkpoint
from app.common.jsonable import plain
from app.config import get_settings
from app.context import RequestContext
from app.db import DriverConnection, DriverRow
from app.models.audit import GLOBAL_CHAIN, AuditChainHead, AuditRecord
from app.models.cases import Case


def _values(
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
) -> dict[str, Any]:
    """The columns of a new audit record, hashes included."""
    values: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "case_id": case_id,
        "occurred_at": clock.now(),
        "request_id": ctx.request_id,
        "actor": ctx.principal.actor(),
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id) if entity_id is not None else None,
        "before": plain(before) if before is not None else None,
        "after": plain(after) if after is not None else None,
        "prev_hash": prev_hash,
        "redacted": False,
    }
    values["content_hash"] = content_hash(values)
    values["hash"] = link_hash(chain, seq, prev_hash, values["content_hash"])
    return values


def next_case_record(
    ctx: RequestContext,
    case: Case,
    *,
    action: str,
    entity_type: str = "case",
    entity_id: Any = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of the case's next audit record; the case's chain head moves to it, so the
    caller must write both (it holds the case row lock)."""
    seq = case.audit_seq + 1
    values = _values(
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
    case.audit_head = values["hash"]
    return values


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
    record = AuditRecord(
        **next_case_record(
            ctx, case, action=action, entity_type=entity_type, entity_id=entity_id, before=before, after=after
        )
    )
    session.add(record)
    return record


async def record_change(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case | None,
    *,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append a record on the case's chain when there is a case (the caller holds its lock), else
    on the chain of changes outside cases."""
    if case is not None:
        return record_case_change(
            session,
            ctx,
            case,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
        )
    return await record_global_change(
        session, ctx, action=action, entity_type=entity_type, entity_id=entity_id, before=before, after=after
    )


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
    record = AuditRecord(
        **_values(
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


# The full record, JSON as its stored text: as the driver gives it, or a session's as a tuple.
Row = DriverRow | tuple[Any, ...]
_COLUMNS = (
    "chain, seq, id, case_id, occurred_at, request_id, actor::text, action, entity_type, "
    "entity_id, before::text, after::text, content_hash, prev_hash, hash, redacted"
)
# Positions in a full row.
_CHAIN, _SEQ, _ID, _CONTENT_HASH, _PREV, _HASH, _REDACTED = 0, 1, 2, 12, 13, 14, 15
# The links alone, in chain order: read from the (chain, seq) unique index, which carries them.
_LINKS = "SELECT chain, seq, id, prev_hash, hash FROM audit_record ORDER BY chain, seq"
# Every chain's expected end: each case's head, and the heads of the other chains.
_HEADS = (
    'SELECT chain COLLATE "C", seq, hash FROM ('
    "SELECT CAST(id AS text) AS chain, audit_seq AS seq, audit_head AS hash FROM rj_case "
    "UNION ALL SELECT chain, seq, hash FROM audit_chain_head) heads ORDER BY 1"
)
# The records of a range of pages, read in the table's own order. The JSON texts come joined
# with their keys as UTF-8 bytes: the part of the canonical content that needs no escaping,
# hashed as it arrives without being decoded.
_RANGE = (
    "SELECT chain, seq, id, redacted, action, convert_to("
    "',\"actor\":' || actor::text || ',\"after\":' || coalesce(after::text, 'null') "
    "|| ',\"before\":' || coalesce(before::text, 'null'), 'UTF8'), "
    "case_id::text, entity_id, entity_type, occurred_at, request_id, content_hash, prev_hash, hash "
    "FROM audit_record WHERE ctid >= $1 AND ctid < $2"
)
_LAST_PAGE = 2**32 - 1
_SNAPSHOT = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?$")


class _Links:
    """Checks the order and links of records in (chain, seq) order, and each chain's end against
    its expected head. Heads arrive in the records' chain order, so nothing is held per chain:
    the check is a merge of two sorted streams, whatever the size of the trail."""

    def __init__(self, prev_at: int, hash_at: int) -> None:
        self.prev_at = prev_at
        self.hash_at = hash_at
        self.checked = 0
        self.chain: str | None = None
        self.expected_seq = 1
        self.prev_hash = ""
        self.last_id: int | None = None
        self.head_seq = 0
        self.heads: list[tuple[str, int, str]] = []
        self.head_index = 0
        self.heads_done = False

    def need_heads(self, upto: str | None) -> bool:
        """Whether more heads must be read before checking records up to chain `upto` (None: all)."""
        return not self.heads_done and (
            upto is None or self.head_index >= len(self.heads) or self.heads[-1][0] <= upto
        )

    def add_heads(self, heads: list[tuple[str, int, str]]) -> None:
        """More heads, in chain order; an empty list means there are no more."""
        if not heads:
            self.heads_done = True
            return
        self.heads = self.heads[self.head_index :] + heads
        self.head_index = 0

    def _finish_chain(self, next_chain: str | None) -> dict[str, Any] | None:
        """Compare the chain just walked with its head; report chains with no record before `next_chain`."""
        chain = self.chain
        while self.head_index < len(self.heads):
            head_chain, seq, head_hash = self.heads[self.head_index]
            if chain is not None and head_chain == chain:
                # The chain's last record must be the head the service kept for it.
                self.head_index += 1
                if seq > self.expected_seq - 1:
                    return {
                        "chain": chain,
                        "seq": self.expected_seq,
                        "reason": "records missing at the end of the chain",
                    }
                if head_hash != self.prev_hash:
                    return {
                        "id": self.last_id,
                        "chain": chain,
                        "seq": self.expected_seq - 1,
                        "reason": "does not match the head kept for the chain",
                    }
                continue
            if next_chain is not None and head_chain >= next_chain:
                return None
            self.head_index += 1
            if seq > 0:
                return {"chain": head_chain, "seq": 1, "reason": "every record of the chain missing"}
        return None

    def row(self, row: Row) -> dict[str, Any] | None:
        """Check one record's place in its chain; a problem, or None."""
        chain, seq = row[0], row[1]
        if chain != self.chain:
            problem = self._finish_chain(chain)
            if problem:
                return problem
            self.chain, self.expected_seq, self.prev_hash = chain, 1, ""
            if self.head_index >= len(self.heads) or self.heads[self.head_index][0] != chain:
                reason = "a chain the service never started"
                return {"id": row[2], "chain": chain, "seq": seq, "reason": reason}
            self.head_seq = self.heads[self.head_index][1]
        if seq != self.expected_seq:
            reason = (
                f"record {self.expected_seq} of the chain is missing"
                if seq > self.expected_seq
                else "records out of order"
            )
            return {"id": row[2], "chain": chain, "seq": self.expected_seq, "foundSeq": seq, "reason": reason}
        if row[self.prev_at] != self.prev_hash:
            return {
                "id": row[2],
                "chain": chain,
                "seq": seq,
                "reason": "does not link to the previous record",
            }
        if seq > self.head_seq:
            return {"id": row[2], "chain": chain, "seq": seq, "reason": "beyond the head kept for the chain"}
        self.checked += 1
        self.last_id = row[2]
        self.expected_seq += 1
        self.prev_hash = row[self.hash_at]
        return None

    def end(self) -> dict[str, Any] | None:
        """After the last record: the last chain's head, then heads of chains with no record."""
        return self._finish_chain(None)


def _content_problem(row: Row) -> dict[str, Any] | None:
    """A record whose content or own hash does not match; it needs nothing but the record."""
    chain, seq = row[0], row[1]
    if not row[_REDACTED] and not _content_matches(row):
        return {"id": row[_ID], "chain": chain, "seq": seq, "reason": "content changed"}
    if link_hash(chain, seq, row[_PREV], row[_CONTENT_HASH]) != row[_HASH]:
        return {"id": row[_ID], "chain": chain, "seq": seq, "reason": "hash does not match"}
    return None


def _content_matches(row: Row) -> bool:
    """Whether the record's content still hashes to its content hash.

    The stored JSON texts are canonical when written by this service, so the canonical content
    is assembled from them as they are; only a record whose texts are not canonical (written
    before JSON columns were stored canonically) is parsed and serialised again."""
    case_id = str(row[3]) if row[3] is not None else None
    expected = row[_CONTENT_HASH]
    fast = content_from_texts(
        case_id=case_id,
        occurred_at=row[4],
        request_id=row[5],
        actor=row[6],
        action=row[7],
        entity_type=row[8],
        entity_id=row[9],
        before=row[10],
        after=row[11],
    )
    if hashlib.sha256(fast).hexdigest() == expected:
        return True
    content = {
        "caseId": case_id,
        "occurredAt": row[4].isoformat(timespec="microseconds"),
        "requestId": row[5],
        "actor": json.loads(row[6]),
        "action": row[7],
        "entityType": row[8],
        "entityId": row[9],
        "before": json.loads(row[10]) if row[10] is not None else None,
        "after": json.loads(row[11]) if row[11] is not None else None,
    }
    return bool(hashlib.sha256(canonical(content)).hexdigest() == expected)


async def verify(
    source: AsyncSession | AsyncEngine, *, batch_size: int = 10_000, checkpoint: Checkpoint | None = None
) -> Verification:
    """Recompute every chain; report the first record changed, removed or reordered, redacted
    without a lawful purge naming it (`app.audit.redaction`), or, given a checkpoint, no longer the
    record the checkpoint published as its chain's head.

    On PostgreSQL two connections share one snapshot: one walks the links in chain order from
    the index that carries them, merged with the heads; the other reads the records in the
    table's own order and recomputes each one's hashes. Neither holds anything per chain."""
    engine = source if isinstance(source, AsyncEngine) else source.bind
    if isinstance(engine, AsyncConnection):
        # A session on a connection of its own (`Database.snapshot()`): on PostgreSQL the walk
        # opens its own connections, which share one exported snapshot among themselves.
        engine = engine.engine
    if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql":
        return await _verify_postgres(engine, batch_size, checkpoint)
    if isinstance(source, AsyncEngine):
        async with AsyncSession(source) as own:
            return await _verify_generic(own, batch_size, checkpoint)
    return await _verify_generic(source, batch_size, checkpoint)


def _problem_key(problem: dict[str, Any]) -> tuple[str, int]:
    return (str(problem["chain"]), int(problem["seq"]))


def _first(*problems: dict[str, Any] | None) -> dict[str, Any] | None:
    """The first problem in chain order; of two at one place, the one given first."""
    return min((p for p in problems if p is not None), key=_problem_key, default=None)


# Above this many records the content checks are spread over processes, one per core.
PARALLEL_FROM = 200_000


async def _verify_postgres(
    engine: AsyncEngine, batch_size: int, checkpoint: Checkpoint | None
) -> Verification:
    async with engine.connect() as links_conn:
        links_pg = cast(DriverConnection, (await links_conn.get_raw_connection()).driver_connection)
        async with links_pg.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await links_pg.fetchval("SELECT pg_export_snapshot()")
            if not _SNAPSHOT.match(snapshot):  # pragma: no cover - PostgreSQL's own format
                raise RuntimeError(f"unexpected snapshot id {snapshot!r}")
            size = await links_pg.fetchrow(
                "SELECT pg_relation_size('audit_record') / current_setting('block_size')::int, "
                "reltuples FROM pg_class WHERE oid = 'audit_record'::regclass"
            )
            assert size is not None  # noqa: S101 - the table's own row in pg_class
            pages, estimate = size
            parts = (os.cpu_count() or 1) if estimate >= PARALLEL_FROM else 1
            ranges = [
                (pages * n // parts if n else None, pages * (n + 1) // parts if n < parts - 1 else None)
                for n in range(parts)
            ]
            dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            links, walked, extra = await asyncio.gather(
                _walk_links(links_pg, batch_size),
                _walk_ranges(dsn, snapshot, ranges, batch_size),
                _whole_trail(dsn, snapshot, checkpoint),
            )
            content = min((p for p, _r in walked if p is not None), key=_problem_key, default=None)
            redacted = sum(r for _p, r in walked)
            # The first problem in chain order, the order a single walk would have met it.
            first = _first(links[0], content, extra)
            if first is None:
                return Verification(True, links[1], redacted, None)
            counted = await links_pg.fetchrow(
                "SELECT count(*), count(*) FILTER (WHERE redacted) FROM audit_record "
                "WHERE (chain, seq) < ($1, $2)",
                first["chain"],
                first["seq"],
            )
            assert counted is not None  # noqa: S101 - an aggregate gives one row
            checked, redacted_before = counted
            return Verification(False, checked, redacted_before, first)


Walked = tuple[dict[str, Any] | None, int]


async def _whole_trail(dsn: str, snapshot: str, checkpoint: Checkpoint | None) -> dict[str, Any] | None:
    """The checks made of the whole trail at once (redactions; the checkpoint's heads), on a
    connection of their own in the walks' snapshot, while the walks go on."""
    import asyncpg

    pg = cast(DriverConnection, await asyncpg.connect(dsn))
    try:
        async with pg.transaction(isolation="repeatable_read", readonly=True):
            await pg.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            problem = await redaction.problem_on_driver(pg, get_settings().retention_years)
            if checkpoint is not None:
                problem = _first(problem, await checkpoints.problem_on_driver(pg, checkpoint))
            return problem
    finally:
        await pg.close()


async def _walk_ranges(
    dsn: str, snapshot: str, ranges: list[tuple[int | None, int | None]], batch_size: int
) -> list[Walked]:
    """Check the records page range by page range: here when one range, else one process each."""
    if len(ranges) == 1:
        return [await _walk_range(dsn, snapshot, ranges[0], batch_size)]
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
        futures = [loop.run_in_executor(pool, _walk_range_sync, dsn, snapshot, r, batch_size) for r in ranges]
        return list(await asyncio.gather(*futures))


def _walk_range_sync(
    dsn: str, snapshot: str, pages: tuple[int | None, int | None], batch_size: int
) -> Walked:
    """`_walk_range` in a process of its own."""
    return asyncio.run(_walk_range(dsn, snapshot, pages, batch_size))


async def _walk_range(
    dsn: str, snapshot: str, pages: tuple[int | None, int | None], batch_size: int
) -> Walked:
    """The first (in chain order) record of a page range whose hashes do not match, and how many
    records there are redacted; read in the snapshot the links are walked in."""
    import asyncpg

    pg = cast(DriverConnection, await asyncpg.connect(dsn))
    try:
        async with pg.transaction(isolation="repeatable_read", readonly=True):
            await pg.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            bounds = ((pages[0] or 0, 0), (pages[1] if pages[1] is not None else _LAST_PAGE, 0))
            return await _walk_records(pg, _RANGE, batch_size, bounds)
    finally:
        await pg.close()


async def _walk_links(pg: DriverConnection, batch_size: int) -> tuple[dict[str, Any] | None, int]:
    """The first problem of order, links or heads, and how many records were walked."""
    walk = _Links(prev_at=3, hash_at=4)
    heads = await pg.cursor(_HEADS)
    links = await pg.cursor(_LINKS)
    while True:
        rows = await links.fetch(batch_size)
        if not rows:
            break
        while walk.need_heads(rows[-1][0]):
            walk.add_heads([tuple(h) for h in await heads.fetch(batch_size)])
        for row in rows:
            problem = walk.row(row)
            if problem:
                return problem, walk.checked
        await asyncio.sleep(0)
    while walk.need_heads(None):
        walk.add_heads([tuple(h) for h in await heads.fetch(batch_size)])
    return walk.end(), walk.checked


async def _walk_records(pg: DriverConnection, query: str, batch_size: int, args: tuple[Any, ...]) -> Walked:
    """The first (in chain order) record whose hashes do not match, and how many are redacted.

    The loop is written out for speed; it builds the same bytes as `content_from_texts`, and a
    record that does not match is checked again from its fields by `_content_problem`."""
    first: dict[str, Any] | None = None
    redacted = 0
    sha256, enc = hashlib.sha256, encode_basestring
    records = await pg.cursor(query, *args)
    rows = await records.fetch(batch_size)
    while rows:
        # Ask for the next batch before hashing this one: reading and hashing overlap.
        pending = asyncio.ensure_future(records.fetch(batch_size))
        recheck: list[int] = []
        problems: list[dict[str, Any]] = []
        for start in range(0, len(rows), 2000):
            for (
                chain,
                seq,
                record_id,
                is_redacted,
                action,
                middle,
                case_id,
                entity_id,
                entity_type,
                occurred_at,
                request_id,
                digest,
                prev_hash,
                link,
            ) in rows[start : start + 2000]:
                if is_redacted:
                    redacted += 1
                else:
                    content = sha256(b'{"action":' + enc(action).encode())
                    content.update(middle)
                    content.update(
                        (
                            ',"caseId":'
                            + (enc(case_id) if case_id is not None else "null")
                            + ',"entityId":'
                            + (enc(entity_id) if entity_id is not None else "null")
                            + ',"entityType":'
                            + enc(entity_type)
                            + ',"occurredAt":"'
                            + occurred_at.isoformat(timespec="microseconds")
                            + '","requestId":'
                            + (enc(request_id) if request_id is not None else "null")
                            + "}"
                        ).encode()
                    )
                    if content.hexdigest() != digest:
                        recheck.append(record_id)
                        continue
                if sha256(f"{chain}|{seq}|{prev_hash}|{digest}".encode()).hexdigest() != link:
                    problems.append(
                        {"id": record_id, "chain": chain, "seq": seq, "reason": "hash does not match"}
                    )
            await asyncio.sleep(0)
        rows = await pending
        if recheck:
            full = f"SELECT {_COLUMNS} FROM audit_record WHERE id = ANY($1::bigint[])"  # noqa: S608
            problems += [p for p in map(_content_problem, await pg.fetch(full, recheck)) if p]
        for problem in problems:
            if first is None or _problem_key(problem) < _problem_key(first):
                first = problem
    return first, redacted


async def _verify_generic(
    session: AsyncSession, batch_size: int, checkpoint: Checkpoint | None
) -> Verification:
    """One walk in chain order doing every check (SQLite)."""
    extra = await redaction.problem_on_session(session, get_settings().retention_years)
    if checkpoint is not None:
        extra = _first(extra, await checkpoints.problem_on_session(session, checkpoint))
    # The walk stops at the first problem of the whole-trail checks, if it meets none before.
    stop = _problem_key(extra) if extra is not None else None
    walk = _Links(prev_at=_PREV, hash_at=_HASH)
    redacted = 0
    case_heads = select(col(Case.id), col(Case.audit_seq), col(Case.audit_head))
    heads = [(str(c), s, h) for c, s, h in await session.execute(case_heads)]
    heads += [(h.chain, h.seq, h.hash) for h in (await session.execute(select(AuditChainHead))).scalars()]
    walk.add_heads(sorted(heads))
    walk.add_heads([])
    text = Text()
    columns = (
        AuditRecord.chain,
        AuditRecord.seq,
        AuditRecord.id,
        AuditRecord.case_id,
        AuditRecord.occurred_at,
        AuditRecord.request_id,
        type_coerce(AuditRecord.actor, text),
        AuditRecord.action,
        AuditRecord.entity_type,
        AuditRecord.entity_id,
        type_coerce(AuditRecord.before, text),
        type_coerce(AuditRecord.after, text),
        AuditRecord.content_hash,
        AuditRecord.prev_hash,
        AuditRecord.hash,
        AuditRecord.redacted,
    )
    result = await session.stream(
        select(*columns)  # type: ignore[call-overload]
        .order_by(col(AuditRecord.chain), col(AuditRecord.seq))
        .execution_options(yield_per=batch_size)
    )
    async for partition in result.partitions():
        for r in partition:
            row = tuple(r)
            checked = walk.checked
            if stop is not None and (row[0], row[1]) > stop:
                return Verification(False, checked, redacted, extra)
            problem = walk.row(row) or _content_problem(row)
            if problem:
                return Verification(False, checked, redacted, _first(problem, extra))
            if (row[0], row[1]) == stop:
                return Verification(False, checked, redacted, extra)
            redacted += int(bool(row[_REDACTED]))
        await asyncio.sleep(0)
    problem = _first(walk.end(), extra)
    return Verification(problem is None, walk.checked, redacted, problem)
