"""The reps register, each rep's daily task list (also as a printable sheet) and their hours."""

import uuid
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import KNOWN_QUERY, ContextDep, PagingDep, PrincipalDep, SessionDep, UnitDep, permission
from app.api.negotiation import wants_html
from app.api.responses import errors, json_text_response
from app.auth.access import Permission, require_prison
from app.common.enums import RepStatus
from app.common.schemas import Day, Page, PrisonId
from app.context import Principal
from app.db import Unit
from app.errors import ForbiddenError
from app.models.reps import Rep
from app.reps import printable, service, supervision
from app.reps.schemas import (
    DailyList,
    RepActivity,
    RepCreate,
    RepPatch,
    RepPublic,
    SupervisionCreate,
    SupervisionRecord,
    Supervisions,
)

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
    return await _public(session, await service.create_rep(session, ctx, body))


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
    known = await supervision.summaries(session, reps)
    return Page[RepPublic].of(
        [RepPublic.model_validate(r).model_copy(update={"supervision": known[r.id]}) for r in reps],
        number=paging.page,
        size=paging.size,
        total=total,
    )


DAILY_LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    **errors(404, 422),
    200: {
        "description": "The list as JSON, or with `Accept: text/html` as one printable A4 sheet.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}


async def _daily_list(
    unit: Unit, principal: Principal, rep_id: uuid.UUID, day: date | None, accept: str | None
) -> Response:
    """The rep's list for the day (today if none) as JSON, or as one printable sheet."""
    day = day or service.local_today()
    if not wants_html(accept):
        return json_text_response(await service.day_list_json(await unit.conn(), principal, rep_id, day))
    session = await unit.session()
    daily = await service.daily_list(session, await service.get_rep(session, principal, rep_id), day)
    return HTMLResponse(
        printable.render(daily),
        headers={"Content-Security-Policy": printable.CONTENT_SECURITY_POLICY},
    )


DayQuery = Annotated[
    Day | None, Query(alias="date", description="YYYY-MM-DD; today in the prisons' local time if absent.")
]


@router.get(
    "/me/tasks",
    response_model=DailyList,
    responses=DAILY_LIST_RESPONSES,
    dependencies=[permission(Permission.TASK_READ), KNOWN_QUERY],
)
async def my_tasks(
    unit: UnitDep,
    principal: PrincipalDep,
    day: DayQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """The calling rep's task list for the day."""
    if principal.rep_id is None:
        raise ForbiddenError("only a rep has a task list of their own; use /reps/{id}/tasks")
    return await _daily_list(unit, principal, principal.rep_id, day, accept)


@router.get(
    "/{rep_id}/tasks",
    response_model=DailyList,
    responses=DAILY_LIST_RESPONSES,
    dependencies=[permission(Permission.TASK_READ), KNOWN_QUERY],
)
async def rep_tasks(
    rep_id: uuid.UUID,
    unit: UnitDep,
    principal: PrincipalDep,
    day: DayQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """A rep's task list for the day: open tasks due that day or overdue, most urgent first."""
    return await _daily_list(unit, principal, rep_id, day, accept)


def _activity_range(first: date | None, last: date | None) -> tuple[date, date]:
    last = last or service.local_today()
    return first or last - timedelta(days=27), last


@router.get(
    "/{rep_id}/activity",
    response_model=RepActivity,
    responses=errors(404, 422),
    dependencies=[permission(Permission.REP_READ)],
)
async def rep_activity(
    rep_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    first: Annotated[Day | None, Query(alias="from", description="Default: 27 days before `to`.")] = None,
    last: Annotated[Day | None, Query(alias="to", description="Default: today.")] = None,
) -> RepActivity:
    """The rep's volunteer hours and activities, naming no party (fit to show an assessor)."""
    rep = await service.get_rep(session, principal, rep_id)
    first, last = _activity_range(first, last)
    return await service.activity(session, rep, first=first, last=last)


@router.get(
    "/{rep_id}",
    response_model=RepPublic,
    responses=errors(404),
    dependencies=[permission(Permission.REP_READ)],
)
async def get_rep(rep_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> RepPublic:
    """One rep."""
    return await _public(session, await service.get_rep(session, principal, rep_id))


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
    return await _public(session, await service.patch_rep(session, ctx, rep, body))


async def _public(session: AsyncSession, rep: Rep) -> RepPublic:
    await session.flush()
    known = await supervision.summaries(session, [rep])
    return RepPublic.model_validate(rep).model_copy(update={"supervision": known[rep.id]})


@router.post(
    "/{rep_id}/supervisions",
    status_code=201,
    response_model=SupervisionRecord,
    responses=errors(404, 422),
    dependencies=[permission(Permission.SUPERVISION_RECORD)],
)
async def record_supervision(
    rep_id: uuid.UUID, body: SupervisionCreate, session: SessionDep, ctx: ContextDep
) -> SupervisionRecord:
    """Record a supervision session of the rep, and when the next is due (84 days at most)."""
    rep = await service.get_rep(session, ctx.principal, rep_id)
    return SupervisionRecord.model_validate(await supervision.record(session, ctx, rep, body))


@router.get(
    "/{rep_id}/supervisions",
    response_model=Supervisions,
    responses=errors(404),
    dependencies=[permission(Permission.REP_READ), KNOWN_QUERY],
)
async def supervisions(rep_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Supervisions:
    """The rep's supervision sessions, oldest first, and whether the next is overdue. A rep reads
    their own."""
    return await supervision.of_rep(session, await service.get_rep(session, principal, rep_id))
