"""The reps register."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import ContextDep, PagingDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission, require_prison
from app.cases.schemas import PrisonId
from app.common.enums import RepStatus
from app.common.schemas import Page
from app.reps import service
from app.reps.schemas import RepCreate, RepPatch, RepPublic

router = APIRouter(prefix="/reps", tags=["reps"])


@router.post(
    "",
    status_code=201,
    response_model=RepPublic,
    responses=errors(409, 422),
    dependencies=[permission(Permission.REP_MANAGE)],
)
async def create_rep(body: RepCreate, session: SessionDep, ctx: ContextDep) -> RepPublic:
    """Register a rep in a prison of the caller's caseload."""
    require_prison(ctx.principal, body.prison_id)
    return RepPublic.model_validate(await service.create_rep(session, ctx, body))


@router.get(
    "",
    response_model=Page[RepPublic],
    responses=errors(422),
    dependencies=[permission(Permission.REP_READ)],
)
async def list_reps(
    session: SessionDep,
    principal: PrincipalDep,
    paging: PagingDep,
    prison_id: Annotated[PrisonId | None, Query(alias="prisonId")] = None,
    status: RepStatus | None = None,
) -> Page[RepPublic]:
    """Reps in the caller's caseload."""
    reps, total = await service.list_reps(
        session,
        principal,
        prison_id=prison_id,
        status=status.value if status else None,
        offset=paging.offset,
        limit=paging.size,
    )
    return Page[RepPublic].of(
        [RepPublic.model_validate(r) for r in reps],
        number=paging.page,
        size=paging.size,
        total=total,
    )


@router.get(
    "/{rep_id}",
    response_model=RepPublic,
    responses=errors(404),
    dependencies=[permission(Permission.REP_READ)],
)
async def get_rep(rep_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> RepPublic:
    """One rep."""
    return RepPublic.model_validate(await service.get_rep(session, principal, rep_id))


@router.patch(
    "/{rep_id}",
    response_model=RepPublic,
    responses=errors(404, 422),
    dependencies=[permission(Permission.REP_MANAGE)],
)
async def patch_rep(rep_id: uuid.UUID, body: RepPatch, session: SessionDep, ctx: ContextDep) -> RepPublic:
    """Change a rep's status, prison, location, case limit or training date."""
    rep = await service.get_rep(session, ctx.principal, rep_id)
    if body.prison_id is not None:
        require_prison(ctx.principal, body.prison_id)
    return RepPublic.model_validate(await service.patch_rep(session, ctx, rep, body))
