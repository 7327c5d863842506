"""Provable redaction: the retention purge's record of what it blanks, and the rules every
redacted audit record is checked against.

For each case (or concern raised without a case) it anonymises, the purge appends one
`retention.purged` record to the global chain. Its `after` names every record the purge blanks
by its place in the chain and the content hash it had (`redacted`: [[seq, contentHash], ...]),
the record the retention period counts from (`closure`: [seq, contentHash], the case's closing
record or the concern's acknowledgement) and the period applied (`retentionYears`). Only then are
the records blanked: on PostgreSQL by the database function `audit_redact`, the one way past the
audit table's trigger, which checks the same rules before it changes anything.

A redacted record verifies only when
- a purge record names it, in its chain and place, with the content hash it still carries, and it
  holds no content any more (no before, no after, no actor's name);
- that purge names a closing record of the same case (or the concern's acknowledgement) with the
  content hash that record carries, and no reopening follows it in the case's chain;
- the closing record is at least `retentionYears` older than the purge record, and
  `retentionYears` is not fewer than the period the service keeps (RJ_RETENTION_YEARS).
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db import DriverConnection, DriverRow, UTCDateTime, on_postgres
from app.models.audit import GLOBAL_CHAIN, AuditRecord

PURGED = "retention.purged"
REOPENED = "case.reopen"
# The records a retention period counts from, by what the purge anonymised.
CLOSINGS: dict[str, tuple[str, ...]] = {
    "case": ("case.close", "case.decline"),
    "concern": ("concern.acknowledged",),
}


def retention_cutoff(now: datetime, years: int) -> datetime:
    """`years` before `now` (29 February falls back to the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def redacted_chain(entity_type: str, entity_id: str) -> str:
    """The chain holding the records a purge of this case or concern redacts."""
    return entity_id if entity_type == "case" else GLOBAL_CHAIN


@dataclass(slots=True)
class Plan:
    """What a purge will redact, and the closing record that allows it."""

    redacted: list[list[Any]]
    closure: list[Any]


async def plan(session: AsyncSession, entity_type: str, entity_id: uuid.UUID, cutoff: datetime) -> Plan | str:
    """The records a purge of the case (or concern) redacts and the closing record it names; or,
    when the audit trail does not show the case closed on or before `cutoff`, why not."""
    chain = redacted_chain(entity_type, str(entity_id))
    query = select(
        col(AuditRecord.seq),
        col(AuditRecord.content_hash),
        col(AuditRecord.action),
        col(AuditRecord.occurred_at),
        col(AuditRecord.redacted),
    ).where(col(AuditRecord.chain) == chain)
    if entity_type != "case":
        query = query.where(
            col(AuditRecord.entity_type) == entity_type, col(AuditRecord.entity_id) == str(entity_id)
        )
    records = (await session.execute(query.order_by(col(AuditRecord.seq)))).all()
    ends = [r for r in records if r.action in CLOSINGS[entity_type] or r.action == REOPENED]
    if not ends or ends[-1].action == REOPENED:
        return "the audit trail holds no closing record of it"
    closure = ends[-1]
    if closure.occurred_at > cutoff:
        return f"the audit trail shows it closed on {closure.occurred_at:%Y-%m-%d}, within retention"
    return Plan(
        redacted=[[r.seq, r.content_hash] for r in records if not r.redacted],
        closure=[closure.seq, closure.content_hash],
    )


async def redact(session: AsyncSession, purge: AuditRecord) -> int:
    """Blank the records the purge record names; how many. The purge record must be flushed."""
    if on_postgres(session):
        # The function checks the purge record against the rules and runs as the one role the
        # audit table's trigger lets blank a record.
        done = await session.execute(text("SELECT audit_redact(:id)"), {"id": purge.id})
        return int(done.scalar_one())
    assert purge.after is not None  # noqa: S101 - the purge wrote it
    chain = redacted_chain(purge.entity_type, str(purge.entity_id))
    seqs = [seq for seq, _hash in purge.after["redacted"]]
    records = (
        await session.execute(
            select(AuditRecord).where(col(AuditRecord.chain) == chain, col(AuditRecord.seq).in_(seqs))
        )
    ).scalars()
    count = 0
    for record in records:
        record.actor = {**record.actor, "name": None}
        record.before = None
        record.after = None
        record.redacted = True
        session.add(record)
        count += 1
    return count


# --- verification ------------------------------------------------------------------------------

# Each backend's way of reading the purge records' JSON; the queries are otherwise the same.
_SQL = {
    "postgresql": {
        "target": (
            "CAST(CASE WHEN entity_type = 'case' THEN entity_id ELSE '{chain}' END AS text) COLLATE \"C\""
        ),
        "valid": "",
        "years": "p.after ->> 'retentionYears'",
        "closure_seq": "p.after -> 'closure' ->> 0",
        "closure_hash": "p.after -> 'closure' ->> 1",
        "first_seq": "p.after -> 'redacted' -> 0 ->> 0",
        "listed": (
            "CASE WHEN json_typeof(p.after -> 'redacted') = 'array' "
            "THEN json_array_length(p.after -> 'redacted') ELSE 0 END"
        ),
        "elements": "CROSS JOIN LATERAL json_array_elements(p.after -> 'redacted') AS e(value)",
        "is_list": "json_typeof(p.after -> 'redacted') = 'array'",
        "element_seq": "e.value ->> 0",
        "element_hash": "e.value ->> 1",
        "same_seq": "l.seq = r.seq::text",
        "materialized": "MATERIALIZED ",
        # Planned apart from the LIMIT, or the planner walks the records in order and, for each,
        # every name: the hash join is linear.
        "fence": "OFFSET 0",
        "actor_name": "r.actor ->> 'name'",
        "blank": "(r.{0} IS NULL OR r.{0}::text = 'null')",
        "as_int": "CASE WHEN ({0}) ~ '^[0-9]{{1,9}}$' THEN ({0})::int END",
    },
    "sqlite": {
        "target": "CASE WHEN entity_type = 'case' THEN entity_id ELSE '{chain}' END",
        "valid": " AND json_valid(after)",
        "years": "json_extract(p.after, '$.retentionYears')",
        "closure_seq": "json_extract(p.after, '$.closure[0]')",
        "closure_hash": "json_extract(p.after, '$.closure[1]')",
        "first_seq": "json_extract(p.after, '$.redacted[0][0]')",
        "listed": "coalesce(json_array_length(p.after, '$.redacted'), 0)",
        "elements": "CROSS JOIN json_each(p.after, '$.redacted') AS e",
        "is_list": "json_type(p.after, '$.redacted') = 'array'",
        "element_seq": "CASE WHEN e.type = 'array' THEN json_extract(e.value, '$[0]') END",
        "element_hash": "CASE WHEN e.type = 'array' THEN json_extract(e.value, '$[1]') END",
        "same_seq": "l.seq = r.seq",
        "materialized": "",
        "fence": "",
        "actor_name": "CASE WHEN json_valid(r.actor) THEN json_extract(r.actor, '$.name') ELSE 'x' END",
        "blank": "(r.{0} IS NULL OR r.{0} = 'null')",
        "as_int": "CASE WHEN typeof({0}) = 'integer' THEN {0} END",
    },
}


def _purges(sql: dict[str, str]) -> str:
    """The purge records, each with the chain whose records it redacts (on SQLite only those whose
    JSON is valid: JSON functions fail on any other, and nothing else could be read of them)."""
    target = sql["target"].format(chain=GLOBAL_CHAIN)
    return (
        f"SELECT id, seq, occurred_at, entity_type, entity_id, after, {target} AS target "  # noqa: S608 - no values from outside
        f"FROM audit_record WHERE action = '{PURGED}' AND NOT redacted{sql['valid']}"
    )


def purges_query(dialect: str) -> str:
    """One row per purge record: what it names, and the records it points at."""
    sql = _SQL[dialect]
    closure_seq = sql["as_int"].format(sql["closure_seq"])
    first_seq = sql["as_int"].format(sql["first_seq"])
    return f"""
SELECT p.id, p.seq, p.occurred_at, p.entity_type, p.entity_id, p.target,
       {sql["years"]} AS years, {sql["closure_hash"]} AS closure_hash, {sql["listed"]} AS listed,
       {first_seq} AS first_seq, f.id AS first_id,
       c.seq AS closure_seq, c.action AS closure_action, c.occurred_at AS closure_at,
       c.content_hash AS closure_content_hash, c.entity_id AS closure_entity,
       CASE WHEN p.entity_type = 'case' AND c.id IS NOT NULL THEN EXISTS (
         SELECT 1 FROM audit_record x
         WHERE x.chain = c.chain AND x.seq > c.seq AND x.action = '{REOPENED}') END AS reopened
FROM ({_purges(sql)}) p
LEFT JOIN audit_record c ON c.chain = p.target AND c.seq = {closure_seq}
LEFT JOIN audit_record f ON f.chain = p.target AND f.seq = {first_seq}
"""  # noqa: S608 - no values from outside


def unnamed_query(dialect: str) -> str:
    """The first redacted record, in chain order, that no purge record names with the content
    hash it carries, or that still holds content.

    Each name is joined to its record on equalities alone (chain, place, content hash, and whose
    the record is: the case's, or the concern's), so that the join is one hash join, however
    many redacted records and purge records there are; only the problems are sorted."""
    sql = _SQL[dialect]
    holds = (
        f"NOT {sql['blank'].format('before')} OR NOT {sql['blank'].format('after')} "
        f"OR {sql['actor_name']} IS NOT NULL"
    )
    return f"""
WITH listed AS {sql["materialized"]}(
  SELECT p.target, {sql["element_seq"]} AS seq, {sql["element_hash"]} AS content_hash,
         CASE WHEN p.entity_type = 'case' THEN p.target ELSE p.entity_type || ':' || p.entity_id END AS owner
  FROM ({_purges(sql)}) p {sql["elements"]}
  WHERE {sql["is_list"]}
)
SELECT * FROM (
  SELECT r.id, r.chain, r.seq, {holds} AS holds_content
  FROM audit_record r
  LEFT JOIN listed l
    ON l.target = r.chain AND {sql["same_seq"]} AND l.content_hash = r.content_hash
    AND l.owner = CASE WHEN r.chain = '{GLOBAL_CHAIN}'
                       THEN r.entity_type || ':' || r.entity_id ELSE r.chain END
  WHERE r.redacted AND (l.target IS NULL OR {holds})
  {sql["fence"]}
) problems
ORDER BY chain, seq
LIMIT 1
"""  # noqa: S608 - no values from outside


def _years(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 5:
        return int(value)
    return None


def unlawful(purge: Mapping[Any, Any] | DriverRow, kept_years: int) -> str | None:
    """Why the purge record (a row of `purges_query`) may not redact what it names, or None."""
    name, entity = f"purge record {purge['id']}", purge["entity_type"]
    closings = CLOSINGS.get(entity)
    if closings is None:
        return f"redacted by {name}, of something the retention purge never redacts"
    years = _years(purge["years"])
    if years is None or years < kept_years:
        return (
            f"redacted by {name} under {purge['years']} years' retention, "
            f"fewer than the {kept_years} the service keeps"
        )
    if (
        purge["closure_seq"] is None
        or purge["closure_action"] not in closings
        or purge["closure_content_hash"] != purge["closure_hash"]
        or (entity != "case" and purge["closure_entity"] != purge["entity_id"])
    ):
        return f"redacted by {name}, which names no closing record of the {entity}"
    if purge["reopened"]:
        return f"redacted by {name}, though the case was reopened after the closing it names"
    if purge["closure_at"] > retention_cutoff(purge["occurred_at"], years):
        return f"redacted by {name} while the {entity} was within retention"
    return None


def _key(problem: dict[str, Any]) -> tuple[str, int]:
    return (str(problem["chain"]), int(problem["seq"]))


class Redactions:
    """Folds the purge records and the first unnamed redacted record into the first problem of
    the redactions, in chain order; holds nothing per record."""

    def __init__(self, kept_years: int) -> None:
        self.kept_years = kept_years
        self.first: dict[str, Any] | None = None

    def _add(self, problem: dict[str, Any]) -> None:
        if self.first is None or _key(problem) < _key(self.first):
            self.first = problem

    def purge(self, row: Mapping[Any, Any] | DriverRow) -> None:
        """A purge that may not redact what it names is named at the first record it names (or
        at itself, when that cannot be read)."""
        if not row["listed"]:
            return
        reason = unlawful(row, self.kept_years)
        if reason is None:
            return
        if row["first_seq"] is None:
            self._add({"id": row["id"], "chain": GLOBAL_CHAIN, "seq": row["seq"], "reason": reason})
            return
        where = {"chain": row["target"], "seq": row["first_seq"], "reason": reason}
        self._add({"id": row["first_id"], **where} if row["first_id"] is not None else where)

    def unnamed(self, row: Mapping[Any, Any] | DriverRow | None) -> None:
        """The first redacted record no purge names, or that still holds content."""
        if row is not None:
            reason = (
                "redacted, yet still holds content"
                if row["holds_content"]
                else "redacted without a purge record naming it"
            )
            self._add({"id": row["id"], "chain": row["chain"], "seq": row["seq"], "reason": reason})


async def problem_on_session(session: AsyncSession, kept_years: int) -> dict[str, Any] | None:
    """The first problem of the redactions, read through the session in its transaction."""
    dialect = "postgresql" if on_postgres(session) else "sqlite"
    fold = Redactions(kept_years)
    typed = text(purges_query(dialect)).columns(occurred_at=UTCDateTime(), closure_at=UTCDateTime())
    result = await session.stream(typed.execution_options(yield_per=1000))
    async for row in result.mappings():
        fold.purge(row)
    fold.unnamed((await session.execute(text(unnamed_query(dialect)))).mappings().first())
    return fold.first


async def problem_on_driver(pg: DriverConnection, kept_years: int) -> dict[str, Any] | None:
    """The first problem of the redactions, read on an asyncpg connection in its transaction."""
    fold = Redactions(kept_years)
    async for row in pg.cursor(purges_query("postgresql"), prefetch=1000):
        fold.purge(row)
    fold.unnamed(await pg.fetchrow(unnamed_query("postgresql")))
    return fold.first
