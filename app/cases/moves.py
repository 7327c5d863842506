"""Writing a move through the workflow: the case's new state, its audit record and its outbound
event together."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.chain import CONTENT_FIELDS
from app.audit.models import AuditRecord
from app.cases.models import Case
from app.common.jsonable import canonical_json
from app.db import on_postgres
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
        session.add(AuditRecord(**record))
        session.add(OutboxEvent(**event))
        session.add(case)
        return
    moved = [getattr(case, name) for name in _MOVED_COLUMNS]
    audit = [record[name] for name in _AUDIT_COLUMNS]
    for n in _AUDIT_JSON:
        audit[n] = canonical_json(audit[n])
    outbox = [
        event["event_id"],
        event["event_type"],
        event["prison_id"],
        canonical_json(event["payload"]),
        event["created_at"],
    ]
    conn = await session.connection()
    written = (await conn.exec_driver_sql(_PG_MOVE, (case.id, *moved, *audit, *outbox))).first()
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
