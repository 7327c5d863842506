"""What someone with write access to the database could do to the audit trail, for tests that
check it is found: change rows behind the service's back, blank records as a purge would, write
a purge record of their own, and rewrite a whole chain with fresh hashes; and the two ways of
asking whether it was found (the API and the command)."""

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlmodel import col

from app.audit.chain import content_hash, link_hash
from app.audit.service import record_global_change
from app.cli import main
from app.context import SYSTEM_CONTEXT
from app.db import Database
from app.models.audit import GLOBAL_CHAIN, AuditChainHead, AuditRecord
from app.models.cases import Case
from tests.records import audit_records
from tests.support import Api


async def tamper(db: Database, *statements: Update | Delete | Insert) -> None:
    """Change rows directly. On PostgreSQL the test's superuser switches the audit table's
    trigger off for the transaction, which is what verification must still catch."""
    async with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for statement in statements:
            await conn.execute(statement)


async def verify(api: Api) -> dict[str, Any]:
    """`GET /audit/verify`, as the auditor."""
    r = await api.client.get("/audit/verify", headers=api.keys.auditor.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def cli_verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`rj-casework audit verify` against the test database (RJ_DATABASE_URL is set by `settings`)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["audit", "verify"])
    out, err = capsys.readouterr()
    return code, out, err


def blanked(record: AuditRecord) -> Update:
    """The record's content removed and the record marked redacted, as the purge leaves it."""
    return (
        update(AuditRecord)
        .where(col(AuditRecord.id) == record.id)
        .values(actor={**record.actor, "name": None}, before=None, after=None, redacted=True)
    )


async def purge_record(db: Database, case_id: str, **after: Any) -> AuditRecord:
    """A `retention.purged` record of the case appended to the global chain, chained as the
    service chains records, saying whatever `after` says."""
    async with db.transaction() as session:
        return await record_global_change(
            session,
            SYSTEM_CONTEXT,
            action="retention.purged",
            entity_type="case",
            entity_id=uuid.UUID(case_id),
            after=after,
        )


async def forge_purge(
    db: Database, case_id: str, *, closure_seq: int | None = None, years: int = 6, **listed_hash: str
) -> tuple[AuditRecord, list[AuditRecord]]:
    """A purge of the case as the retention purge writes one, naming every record of the case
    (with the content hash given as `seq<n>=...` instead of its own) and the record at
    `closure_seq` (else the last) as its closing; then every record blanked directly."""
    records = await audit_records(db, case_id)
    closure = next(r for r in records if r.seq == (closure_seq or records[-1].seq))
    purge = await purge_record(
        db,
        case_id,
        retentionYears=years,
        closure=[closure.seq, closure.content_hash],
        redacted=[[r.seq, listed_hash.get(f"seq{r.seq}", r.content_hash)] for r in records],
    )
    await tamper(db, *(blanked(r) for r in records))
    return purge, records


async def rehash_chain(db: Database, chain: str) -> None:
    """Give every record of the chain fresh hashes from its content as it now is, and keep the new
    last hash as the chain's head: a rewritten chain that verifies against itself."""
    records = sorted((r for r in await audit_records(db) if r.chain == chain), key=lambda r: r.seq)
    statements: list[Update] = []
    prev = ""
    for record in records:
        digest = record.content_hash if record.redacted else content_hash(record)
        link = link_hash(chain, record.seq, prev, digest)
        statements.append(
            update(AuditRecord)
            .where(col(AuditRecord.id) == record.id)
            .values(content_hash=digest, prev_hash=prev, hash=link)
        )
        prev = link
    if chain == GLOBAL_CHAIN:
        statements.append(update(AuditChainHead).where(col(AuditChainHead.chain) == chain).values(hash=prev))
    else:
        statements.append(update(Case).where(col(Case.id) == uuid.UUID(chain)).values(audit_head=prev))
    await tamper(db, *statements)
