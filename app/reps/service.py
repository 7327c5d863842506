"""The reps register."""

import uuid

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_global_change
from app.common.enums import RepStatus
from app.context import Principal, RequestContext
from app.errors import ConflictError, NotFoundError
from app.reps.models import Rep
from app.reps.schemas import RepCreate, RepPatch


def rep_snapshot(rep: Rep) -> dict[str, object]:
    """A rep as the audit trail records it."""
    return {
        "prisonerNumber": rep.prisoner_number,
        "firstName": rep.first_name,
        "lastName": rep.last_name,
        "prisonId": rep.prison_id,
        "location": rep.location,
        "status": rep.status,
        "trainedOn": rep.trained_on,
        "maxActiveCases": rep.max_active_cases,
    }


async def create_rep(session: AsyncSession, ctx: RequestContext, body: RepCreate) -> Rep:
    """Register a rep; one current record per prisoner."""
    clash = await session.execute(
        select(col(Rep.id)).where(
            col(Rep.prisoner_number) == body.prisoner_number,
            col(Rep.status) != RepStatus.LEFT.value,
        )
    )
    if clash.first() is not None:
        raise ConflictError(f"{body.prisoner_number} is already a registered rep")
    now = clock.now()
    rep = Rep(**body.model_dump(), created_at=now, updated_at=now)
    rep.status = body.status.value
    session.add(rep)
    await session.flush()
    await record_global_change(
        session,
        ctx,
        action="rep.registered",
        entity_type="rep",
        entity_id=rep.id,
        after=rep_snapshot(rep),
    )
    return rep


async def get_rep(session: AsyncSession, principal: Principal, rep_id: uuid.UUID) -> Rep:
    """A rep within the caller's caseload (a rep principal sees only themself)."""
    rep = await session.get(Rep, rep_id)
    if rep is None or not principal.covers(rep.prison_id):
        raise NotFoundError(f"no rep {rep_id}")
    if principal.rep_id is not None and principal.rep_id != rep.id:
        raise NotFoundError(f"no rep {rep_id}")
    return rep


async def patch_rep(session: AsyncSession, ctx: RequestContext, rep: Rep, body: RepPatch) -> Rep:
    """Change a rep's status, prison, location, limit or training date."""
    changes = body.model_dump(exclude_unset=True)
    before = rep_snapshot(rep)
    for name, value in changes.items():
        setattr(rep, name, value.value if isinstance(value, RepStatus) else value)
    rep.updated_at = clock.now()
    session.add(rep)
    after = rep_snapshot(rep)
    await record_global_change(
        session,
        ctx,
        action="rep.updated",
        entity_type="rep",
        entity_id=rep.id,
        before={k: v for k, v in before.items() if after[k] != v},
        after={k: v for k, v in after.items() if before[k] != v},
    )
    return rep


async def list_reps(
    session: AsyncSession,
    principal: Principal,
    *,
    prison_id: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Rep], int]:
    """Reps in the caller's caseload, by name."""
    conditions: list[ColumnElement[bool]] = []
    if principal.prisons is not None:
        conditions.append(col(Rep.prison_id).in_(sorted(principal.prisons)))
    if prison_id:
        conditions.append(col(Rep.prison_id) == prison_id)
    if status:
        conditions.append(col(Rep.status) == status)
    total = (await session.execute(select(func.count()).select_from(Rep).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(Rep)
        .where(*conditions)
        .order_by(col(Rep.last_name), col(Rep.first_name), col(Rep.id))
        .offset(offset)
        .limit(limit)
    )
    return list(rows.scalars()), total
