"""The audit trail: records for auditors, and verification of the hash chain."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlmodel import col

from app.api.deps import KNOWN_QUERY, PrincipalDep, SessionDep, database, permission
from app.api.responses import errors
from app.audit import service
from app.auth.access import Permission, audit_scope
from app.common.schemas import ApiModel, Cursor
from app.models.audit import AuditRecord

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[permission(Permission.AUDIT_READ)])


class AuditRecordPublic(ApiModel):
    id: int
    chain: str
    seq: int
    case_id: uuid.UUID | None
    occurred_at: datetime
    request_id: str | None
    actor: dict[str, Any]
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    content_hash: str
    prev_hash: str
    hash: str
    redacted: bool


class AuditPage(ApiModel):
    content: list[AuditRecordPublic]
    next_after: int | None


class VerifyResult(ApiModel):
    valid: bool
    checked: int
    redacted: int
    first_invalid: dict[str, Any] | None = None


@router.get("", response_model=AuditPage, responses=errors(422), dependencies=[KNOWN_QUERY])
async def audit_records(
    session: SessionDep,
    principal: PrincipalDep,
    case_id: Annotated[uuid.UUID | None, Query(alias="caseId")] = None,
    after: Annotated[Cursor, Query()] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Audit records in the order written, after the `after` id, optionally of one case,
    within the caller's caseload."""
    stmt = select(AuditRecord).where(col(AuditRecord.id) > after, audit_scope(principal))
    if case_id is not None:
        stmt = stmt.where(col(AuditRecord.case_id) == case_id)
    rows = list((await session.execute(stmt.order_by(col(AuditRecord.id)).limit(limit))).scalars())
    return AuditPage(
        content=[AuditRecordPublic.model_validate(r) for r in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/verify", response_model=VerifyResult, response_model_exclude_none=True, responses=errors())
async def verify(request: Request) -> VerifyResult:
    """Recompute every chain and name the first record changed, removed or reordered."""
    # One snapshot for heads and records alike, or concurrent changes look like tampering.
    async with database(request).snapshot() as session:
        result = await service.verify(session)
    return VerifyResult(
        valid=result.valid,
        checked=result.checked,
        redacted=result.redacted,
        first_invalid=result.first_invalid,
    )
