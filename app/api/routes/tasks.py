"""Tasks: the work the workflow hands to reps and practitioners."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlmodel import col

from app.api.deps import ContextDep, PagingDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission, sees_task, task_scope
from app.cases.models import Case, Party
from app.cases.repository import get_case
from app.common.enums import AssigneeType, TaskKind, TaskStatus
from app.common.schemas import Page
from app.errors import NotFoundError
from app.tasks import service
from app.tasks.models import Task
from app.tasks.schemas import AssigneeRef, TaskComplete, TaskParty, TaskPublic

router = APIRouter(prefix="/tasks", tags=["tasks"])


async def present_tasks(
    session: SessionDep,
    tasks: list[Task],
    extra: dict[uuid.UUID, tuple[str | None, Party | None]] | None = None,
) -> list[TaskPublic]:
    """Tasks with their case reference and whom to see (looked up unless given)."""
    if extra is None:
        extra = await service.task_view_rows(session, tasks)
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
                party=TaskParty(name=f"{party.first_name} {party.last_name}", location=party.location)
                if party
                else None,
                instructions=t.instructions,
                outcome=t.outcome,
                completed_at=t.completed_at,
            )
        )
    return out


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
    """Tasks in the caller's scope, soonest due first."""
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
            .order_by(col(Task.due_at), col(Task.id))
            .offset(paging.offset)
            .limit(paging.size)
        )
    ).all()
    page = [task for task, _reference, _party in rows]
    extra: dict[uuid.UUID, tuple[str | None, Party | None]] = {
        task.id: (reference, party) for task, reference, party in rows
    }
    return Page[TaskPublic].of(
        await present_tasks(session, page, extra),
        number=paging.page,
        size=paging.size,
        total=total,
    )


@router.post(
    "/{task_id}/complete",
    response_model=TaskPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.TASK_WORK)],
)
async def complete_task(
    task_id: uuid.UUID, body: TaskComplete, session: SessionDep, ctx: ContextDep
) -> TaskPublic:
    """Record a task as done, with its outcome and the time it took."""
    task = await session.get(Task, task_id)
    if task is None or not sees_task(ctx.principal, task):
        raise NotFoundError(f"no task {task_id}")
    # Lock in the order every writer uses: the case first, then its task.
    if task.case_id is not None:
        await get_case(session, str(task.case_id), lock=True)
    await session.refresh(task, with_for_update=True)
    await service.complete_task(
        session,
        ctx,
        task,
        outcome=body.outcome,
        notes=body.notes,
        duration_minutes=body.duration_minutes,
    )
    return (await present_tasks(session, [task]))[0]
