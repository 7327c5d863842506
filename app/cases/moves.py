"""Writing a case's change with its audit record and outbound event together: a move through the
workflow, and a new case's parties."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.chain import CONTENT_FIELDS
from app.audit.models import AuditRecord
from app.cases.models import Case, Party
from app.common.jsonable import canonical_json
from app.db import new_row, on_postgres
from app.events.models import OutboxEvent

# A move through the workflow on PostgreSQL: the case's new state, its audit record and its
# outbound event in one statement (the inserts run only if the case row was there to update).
_MOVED_COLUMNS = (
    "state",
    "previous_state",
    "paused_until",
    "pause_reason",
    "version",
    "updated_at",
    "audit_seq",
    "audit_head",
    "practitioner_id",
    "decline_reason",
    "outcome",
    "closed_at",
    "concluded_at",
)
_PG_MOVE = """WITH moved AS (
  UPDATE rj_case SET state = $2, previous_state = $3, paused_until = $4, pause_reason = $5,
    version = $6, updated_at = $7, audit_seq = $8, audit_head = $9, practitioner_id = $10,
    decline_reason = $11, outcome = $12, closed_at = $13, concluded_at = $14
  WHERE id = $1 RETURNING id
), audited AS (
  INSERT INTO audit_record (chain, seq, case_id, occurred_at, request_id, actor, action, entity_type,
    entity_id, before, after, content_hash, prev_hash, hash, redacted)
  SELECT $15::varchar, $16::integer, id, $17::timestamptz, $18::varchar, $19::json, $20::varchar,
    $21::varchar, $22::varchar, $23::json, $24::json, $25::varchar, $26::varchar, $27::varchar, false
  FROM moved
)
INSERT INTO outbox_event (event_id, event_type, case_id, prison_id, payload, created_at)
SELECT $28::uuid, $29::varchar, id, $30::varchar, $31::json, $32::timestamptz FROM moved
RETURNING 1"""


async def save_move(session: AsyncSession, case: Case, record: dict[str, Any], event: dict[str, Any]) -> None:
    """Write a case that moved, with its audit record and outbound event (one round trip on
    PostgreSQL; through the unit of work elsewhere). The caller holds the case row lock."""
    if not on_postgres(session):
        session.add(new_row(AuditRecord, record))
        session.add(new_row(OutboxEvent, event))
        session.add(case)
        return
    moved = [getattr(case, name) for name in _MOVED_COLUMNS]
    conn = await session.connection()
    written = (
        await conn.exec_driver_sql(
            _PG_MOVE, (case.id, *moved, *_audit_values(record), *_outbox_values(event))
        )
    ).first()
    if written is None:
        raise RuntimeError(f"case {case.id} vanished while locked")
    # Written already: the unit of work must not write the same change again.
    for name, value in zip(_MOVED_COLUMNS, moved, strict=True):
        set_committed_value(case, name, value)


# The audit record's columns in the order `_PG_MOVE` takes them from $15 on: the chain place,
# the content the hash covers (its case id comes from the updated row), then the hashes.
_AUDIT_COLUMNS = ("chain", "seq", *CONTENT_FIELDS[1:], "content_hash", "prev_hash", "hash")
# Stored as the canonical JSON text the audit chain hashes (None as JSON null, as the ORM does).
_AUDIT_JSON = tuple(_AUDIT_COLUMNS.index(name) for name in ("actor", "before", "after"))


def _audit_values(record: dict[str, Any]) -> list[Any]:
    """An audit record's values in `_AUDIT_COLUMNS` order, JSON as the chain's canonical text."""
    audit = [record[name] for name in _AUDIT_COLUMNS]
    for n in _AUDIT_JSON:
        audit[n] = canonical_json(audit[n])
    return audit


def _outbox_values(event: dict[str, Any]) -> list[Any]:
    """An outbox row's id, type, prison, payload and time, as both statements take them."""
    return [
        event["event_id"],
        event["event_type"],
        event["prison_id"],
        canonical_json(event["payload"]),
        event["created_at"],
    ]


# A new case's parties, first audit record and outbound event on PostgreSQL, in one statement
# (data-modifying WITH clauses all run, whether or not the last one reads them).
_PARTY_COLUMNS = ("id", "prisoner_number", "first_name", "last_name", "role", "location", "created_at")
_PARTY_TYPES = ("uuid", "varchar", "varchar", "varchar", "varchar", "varchar", "timestamptz")
_PG_INTAKE = f"""WITH parties AS (
  INSERT INTO party (case_id, {", ".join(_PARTY_COLUMNS)})
  SELECT $1::uuid, * FROM unnest({", ".join(f"${n}::{t}[]" for n, t in enumerate(_PARTY_TYPES, 2))})
), audited AS (
  INSERT INTO audit_record (chain, seq, case_id, occurred_at, request_id, actor, action, entity_type,
    entity_id, before, after, content_hash, prev_hash, hash, redacted)
  VALUES ($9::varchar, $10::integer, $1::uuid, $11::timestamptz, $12::varchar, $13::json, $14::varchar,
    $15::varchar, $16::varchar, $17::json, $18::json, $19::varchar, $20::varchar, $21::varchar, false)
)
INSERT INTO outbox_event (event_id, event_type, case_id, prison_id, payload, created_at)
VALUES ($22::uuid, $23::varchar, $1::uuid, $24::varchar, $25::json, $26::timestamptz)"""  # noqa: S608 - names from the code


async def save_intake(
    session: AsyncSession, case: Case, parties: list[Party], record: dict[str, Any], event: dict[str, Any]
) -> None:
    """Write a new case's parties with its first audit record and outbound event (one round trip
    on PostgreSQL; through the unit of work elsewhere). The case row is written already."""
    if not on_postgres(session):
        session.add_all(parties)
        session.add(new_row(AuditRecord, record))
        session.add(new_row(OutboxEvent, event))
        return
    columns = [[getattr(p, name) for p in parties] for name in _PARTY_COLUMNS]
    conn = await session.connection()
    await conn.exec_driver_sql(
        _PG_INTAKE, (case.id, *columns, *_audit_values(record), *_outbox_values(event))
    )
