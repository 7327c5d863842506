"""Writing a case's change with its audit record and outbound event together: a move through the
workflow, and a new case's parties."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.chain import CONTENT_FIELDS
from app.common.jsonable import canonical_json
from app.db import Conn, DriverConnection, new_row, on_postgres, on_sqlite
from app.models.audit import AuditRecord
from app.models.cases import Case, Party, own_columns
from app.models.events import OutboxEvent

# What a move through the workflow changes on the case row.
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
# The audit record's columns in the order both statements take them: the chain place, the
# content the hash covers (its case id comes from the case row), then the hashes.
_AUDIT_COLUMNS = ("chain", "seq", *CONTENT_FIELDS[1:], "content_hash", "prev_hash", "hash")
# The outbox row's columns in the order both statements take them (its case id is the case's).
_OUTBOX_COLUMNS = ("event_id", "event_type", "prison_id", "payload", "created_at")
# How each parameter is cast. Text is cast to varchar without the column's length: an explicit
# cast to varchar(n) would cut a longer value short instead of refusing it. JSON goes as the
# canonical text the audit chain hashes (None as JSON null, as the ORM writes it).
_CASTS = {
    "chain": "varchar",
    "seq": "integer",
    "occurred_at": "timestamptz",
    "request_id": "varchar",
    "actor": "json",
    "action": "varchar",
    "entity_type": "varchar",
    "entity_id": "varchar",
    "before": "json",
    "after": "json",
    "content_hash": "varchar",
    "prev_hash": "varchar",
    "hash": "varchar",
    "event_id": "uuid",
    "event_type": "varchar",
    "prison_id": "varchar",
    "payload": "json",
    "created_at": "timestamptz",
}


def _params(columns: tuple[str, ...], first: int) -> list[str]:
    """The cast parameters `$first::cast, ...` of `columns`."""
    return [f"${n}::{_CASTS[name]}" for n, name in enumerate(columns, first)]


def _audited(first: int, case_id: str, source: str) -> str:
    """The INSERT of the audit record, its values from `$first` on, its case id `case_id`."""
    chain, seq, *content = _params(_AUDIT_COLUMNS, first)
    columns = ("chain", "seq", "case_id", *_AUDIT_COLUMNS[2:], "redacted")
    values = (chain, seq, case_id, *content, "false")
    return f"INSERT INTO audit_record ({', '.join(columns)})\n  SELECT {', '.join(values)}{source}"  # noqa: S608 - names from the code


def _outbound(first: int, case_id: str, source: str) -> str:
    """The INSERT of the outbox row, its values from `$first` on, its case id `case_id`."""
    event_id, event_type, *rest = _params(_OUTBOX_COLUMNS, first)
    columns = ("event_id", "event_type", "case_id", *_OUTBOX_COLUMNS[2:])
    values = (event_id, event_type, case_id, *rest)
    return f"INSERT INTO outbox_event ({', '.join(columns)})\nSELECT {', '.join(values)}{source}"  # noqa: S608 - names from the code


def _values(row: dict[str, Any], columns: tuple[str, ...]) -> list[Any]:
    """`row`'s values of `columns` as the statements take them."""
    return [canonical_json(row[name]) if _CASTS[name] == "json" else row[name] for name in columns]


# A move on PostgreSQL: the case's new state, its audit record and its outbound event in one
# statement (the inserts run only if the case row was there to update).
_MOVE_AUDIT = 2 + len(_MOVED_COLUMNS)
_PG_MOVE = f"""WITH moved AS (
  UPDATE rj_case SET {", ".join(f"{name} = ${n}" for n, name in enumerate(_MOVED_COLUMNS, 2))}
  WHERE id = $1 RETURNING id
), audited AS (
  {_audited(_MOVE_AUDIT, "id", " FROM moved")}
)
{_outbound(_MOVE_AUDIT + len(_AUDIT_COLUMNS), "id", " FROM moved")}
RETURNING 1"""  # noqa: S608 - names from the code


def _move_values(case: Case, record: dict[str, Any], event: dict[str, Any]) -> tuple[Any, ...]:
    """The parameters of `_PG_MOVE` for a case that moved, its audit record and its event."""
    moved = (getattr(case, name) for name in _MOVED_COLUMNS)
    return (case.id, *moved, *_values(record, _AUDIT_COLUMNS), *_values(event, _OUTBOX_COLUMNS))


async def save_move(session: AsyncSession, case: Case, record: dict[str, Any], event: dict[str, Any]) -> None:
    """Write a case that moved, with its audit record and outbound event (one round trip on
    PostgreSQL; through the unit of work elsewhere). The caller holds the case row lock."""
    if not on_postgres(session):
        session.add(new_row(AuditRecord, record))
        session.add(new_row(OutboxEvent, event))
        session.add(case)
        return
    conn = await session.connection()
    if (await conn.exec_driver_sql(_PG_MOVE, _move_values(case, record, event))).first() is None:
        raise RuntimeError(f"case {case.id} vanished while locked")
    # Written already: the unit of work must not write the same change again.
    for name in _MOVED_COLUMNS:
        set_committed_value(case, name, getattr(case, name))


async def write_move(conn: Conn, case: Case, record: dict[str, Any], event: dict[str, Any]) -> None:
    """`save_move` on either handle (`app.db.Conn`), in a transaction that holds the case row
    lock (the case as `app.cases.repository.find_bundle` locked it on that handle)."""
    if isinstance(conn, AsyncSession):
        await save_move(conn, case, record, event)
        return
    if await conn.fetchval(_PG_MOVE, *_move_values(case, record, event)) is None:
        raise RuntimeError(f"case {case.id} vanished while locked")


# A new case's parties, first audit record and outbound event on PostgreSQL, in one statement
# (data-modifying WITH clauses all run, whether or not the last one reads them). The parties
# come as one array per column, cast as below.
_PARTY_COLUMNS = own_columns(Party)
_PARTY_CASTS = {
    "id": "uuid",
    "prisoner_number": "varchar",
    "first_name": "varchar",
    "last_name": "varchar",
    "role": "varchar",
    "location": "varchar",
    "created_at": "timestamptz",
    "follow_up": "varchar",
    "participating": "boolean",
    "outcome_updates": "boolean",
}
_PARTY_ARRAYS = ", ".join(f"${n}::{_PARTY_CASTS[name]}[]" for n, name in enumerate(_PARTY_COLUMNS, 2))
_INTAKE_AUDIT = 2 + len(_PARTY_COLUMNS)
_PG_INTAKE = f"""WITH parties AS (
  INSERT INTO party (case_id, {", ".join(_PARTY_COLUMNS)})
  SELECT $1::uuid, * FROM unnest({_PARTY_ARRAYS})
), audited AS (
  {_audited(_INTAKE_AUDIT, "$1::uuid", "")}
)
{_outbound(_INTAKE_AUDIT + len(_AUDIT_COLUMNS), "$1::uuid", "")}"""  # noqa: S608 - names from the code


async def save_intake(
    session: AsyncSession | DriverConnection,
    case: Case,
    parties: list[Party],
    record: dict[str, Any],
    event: dict[str, Any],
) -> None:
    """Write a new case's parties with its first audit record and outbound event (one round trip
    on PostgreSQL, on the session's connection or on a driver connection in its transaction;
    through the unit of work elsewhere). The case row is written already."""
    if on_sqlite(session):
        session.add_all(parties)
        session.add(new_row(AuditRecord, record))
        session.add(new_row(OutboxEvent, event))
        return
    columns = [[getattr(p, name) for p in parties] for name in _PARTY_COLUMNS]
    values = (case.id, *columns, *_values(record, _AUDIT_COLUMNS), *_values(event, _OUTBOX_COLUMNS))
    if not isinstance(session, AsyncSession):
        await session.execute(_PG_INTAKE, *values)
        return
    conn = await session.connection()
    await conn.exec_driver_sql(_PG_INTAKE, values)
