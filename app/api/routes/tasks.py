"""Tasks: the work the workflow hands to reps and practitioners, and what practitioners change."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.api.deps import ContextDep, PagingDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission, require_prison, sees_cancel_reason, sees_task, task_scope
from app.cases.repository import get_case
from app.cases.service import visible_case
from app.common.enums import AssigneeType, CaseState, TaskKind, TaskStatus
from app.common.schemas import Page
from app.context import Principal
from app.errors import InvalidStateError, NotFoundError, ValidationFailedError
from app.flows import task_completion
from app.models.cases import Case, Party
from app.models.tasks import Task
from app.tasks import service
from app.tasks.schemas import (
    AssigneeRef,
    TaskCancel,
    TaskComplete,
    TaskCreate,
    TaskParty,
    TaskPublic,
    TaskReassign,
    TaskReschedule,
)

router = APIRouter(prefix="/tasks", tags=["tasks"])


async def present_tasks(
    session: AsyncSession,
    principal: Principal,
    tasks: list[Task],
    extra: dict[uuid.UUID, tuple[str | None, Party | None]] | None = None,
) -> list[TaskPublic]:
    """Tasks with their case reference and whom to see (looked up unless given)."""
    if extra is None:
        extra = await service.task_view_rows(session, tasks)
    reasons = sees_cancel_reason(principal)
    out = []
    for t in tasks:
        reference, party = extra[t.id]
        out.append(
            TaskPublic(
                id=t.id,
                case_id=t.case_id,
                case_reference=reference,
                kind=TaskKind(t.kind),
                due_at=t.due_at,
                status=TaskStatus(t.status),
                assignee=AssigneeRef(type=AssigneeType(t.assignee_type), id=t.assignee_id),
                party=TaskParty(name=service.party_name(party), location=party.location) if party else None,
                instructions=t.instructions,
                outcome=t.outcome,
                completed_at=t.completed_at,
                cancel_reason=t.cancel_reason if reasons else None,
                cancelled_at=t.cancelled_at,
            )
        )
    return out


async def _task_for_update(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID
) -> tuple[Task, Case | None]:
    """The task, if the caller may see it, with its case; both locked, the case first (the order
    every writer uses)."""
    task = await session.get(Task, task_id)
    if task is None or not sees_task(principal, task):
        raise NotFoundError(f"no task {task_id}")
    case = await get_case(session, str(task.case_id), lock=True) if task.case_id is not None else None
    await session.refresh(task, with_for_update=True)
    return task, case


@router.get(
    "",
    response_model=Page[TaskPublic],
    responses=errors(422),
    dependencies=[permission(Permission.TASK_READ)],
)
async def list_tasks(
    session: SessionDep,
    principal: PrincipalDep,
    paging: PagingDep,
    status: TaskStatus | None = None,
    kind: TaskKind | None = None,
    case_id: Annotated[uuid.UUID | None, Query(alias="caseId")] = None,
    assignee_id: Annotated[uuid.UUID | None, Query(alias="assigneeId")] = None,
) -> Page[TaskPublic]:
    """Tasks in the caller's scope: safeguarding tasks first, then soonest due first."""
    conditions = [task_scope(principal)]
    if status:
        conditions.append(col(Task.status) == status.value)
    if kind:
        conditions.append(col(Task.kind) == kind.value)
    if case_id:
        conditions.append(col(Task.case_id) == case_id)
    if assignee_id:
        conditions.append(col(Task.assignee_id) == assignee_id)
    total = (await session.execute(select(func.count()).select_from(Task).where(*conditions))).scalar_one()
    # The case reference and the party come with the page, in the same query.
    rows = (
        await session.execute(
            select(Task, col(Case.reference), Party)
            .outerjoin(Case, col(Case.id) == col(Task.case_id))
            .outerjoin(Party, col(Party.id) == col(Task.party_id))
            .where(*conditions)
            .order_by(service.safeguarding_first(), col(Task.due_at), col(Task.id))
            .offset(paging.offset)
            .limit(paging.size)
        )
    ).all()
    page = [task for task, _reference, _party in rows]
    extra: dict[uuid.UUID, tuple[str | None, Party | None]] = {
        task.id: (reference, party) for task, reference, party in rows
    }
    return Page[TaskPublic].of(
        await present_tasks(session, principal, page, extra),
        number=paging.page,
        size=paging.size,
        total=total,
    )


@router.post(
    "",
    status_code=201,
    response_model=TaskPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.TASK_MANAGE)],
)
async def add_task(body: TaskCreate, session: SessionDep, ctx: ContextDep) -> TaskPublic:
    """Add a task by hand, for a rep on the case or a practitioner."""
    case: Case | None = None
    party: Party | None = None
    if body.case_id is not None:
        bundle = await visible_case(session, ctx.principal, body.case_id, lock=True)
        case = bundle.case
        if case.state == CaseState.CLOSED:
            raise InvalidStateError("a closed case takes no new tasks; reopen it first")
        if body.prison_id is not None and body.prison_id != case.prison_id:
            raise ValidationFailedError(f"{case.reference} is in {case.prison_id}, not {body.prison_id}")
        prison_id = case.prison_id
        if body.party_id is not None:
            party = next((p for p in bundle.parties if p.id == body.party_id), None)
            if party is None:
                raise ValidationFailedError(f"{body.party_id} is not a party to {case.reference}")
    else:
        if body.prison_id is None:
            raise ValidationFailedError("give caseId, or prisonId for a task outside any case")
        if body.party_id is not None:
            raise ValidationFailedError("a party belongs to a case: give caseId too")
        require_prison(ctx.principal, body.prison_id)
        prison_id = body.prison_id
    task = await service.add_task(
        session,
        ctx,
        case=case,
        prison_id=prison_id,
        kind=body.kind,
        due_at=body.due_at,
        assignee_type=body.assignee.type,
        assignee_id=body.assignee.id,
        party=party,
        instructions=body.instructions,
    )
    return (await present_tasks(session, ctx.principal, [task]))[0]


@router.get(
    "/{task_id}",
    response_model=TaskPublic,
    responses=errors(404),
    dependencies=[permission(Permission.TASK_READ)],
)
async def get_task(task_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> TaskPublic:
    """One task."""
    task = await session.get(Task, task_id)
    if task is None or not sees_task(principal, task):
        raise NotFoundError(f"no task {task_id}")
    return (await present_tasks(session, principal, [task]))[0]


@router.post(
    "/{task_id}/complete",
    response_model=TaskPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.TASK_WORK)],
)
async def complete_task(
    task_id: uuid.UUID, body: TaskComplete, session: SessionDep, ctx: ContextDep
) -> TaskPublic:
    """Record a task as done, with its outcome and the time it took (and any concern found)."""
    task, case = await _task_for_update(session, ctx.principal, task_id)
    await task_completion.complete(session, ctx, task, case, body)
    return (await present_tasks(session, ctx.principal, [task]))[0]


@router.post(
    "/{task_id}/reassign",
    response_model=TaskPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.TASK_MANAGE)],
)
async def reassign_task(
    task_id: uuid.UUID, body: TaskReassign, session: SessionDep, ctx: ContextDep
) -> TaskPublic:
    """Give an open task to another rep on the case, or to a practitioner."""
    task, case = await _task_for_update(session, ctx.principal, task_id)
    await service.reassign_task(
        session,
        ctx,
        task,
        case=case,
        assignee_type=body.assignee.type,
        assignee_id=body.assignee.id,
        reason=body.reason,
    )
    return (await present_tasks(session, ctx.principal, [task]))[0]


@router.post(
    "/{task_id}/reschedule",
    response_model=TaskPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.TASK_MANAGE)],
)
async def reschedule_task(
    task_id: uuid.UUID, body: TaskReschedule, session: SessionDep, ctx: ContextDep
) -> TaskPublic:
    """Move an open task's due time, with the reason."""
    task, case = await _task_for_update(session, ctx.principal, task_id)
    await service.reschedule_task(session, ctx, task, case=case, due_at=body.due_at, reason=body.reason)
    return (await present_tasks(session, ctx.principal, [task]))[0]


@router.post(
    "/{task_id}/cancel",
    response_model=TaskPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.TASK_MANAGE)],
)
async def cancel_task(
    task_id: uuid.UUID, body: TaskCancel, session: SessionDep, ctx: ContextDep
) -> TaskPublic:
    """Cancel an open task that will not be done, with the reason (never a safeguarding check:
    it closes when its concern is acknowledged)."""
    task, case = await _task_for_update(session, ctx.principal, task_id)
    await service.cancel_task(session, ctx, task, case=case, reason=body.reason)
    return (await present_tasks(session, ctx.principal, [task]))[0]
