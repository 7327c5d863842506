"""Tasks the workflow generates, and the queries the workflow's guards need."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.cases.models import Case, Party
from app.common.enums import AssigneeType, TaskKind, TaskStatus
from app.context import RequestContext
from app.tasks.models import Task


def new_task(
    session: AsyncSession,
    *,
    case: Case | None,
    prison_id: str,
    kind: TaskKind,
    due_at: datetime,
    assignee_type: AssigneeType,
    assignee_id: uuid.UUID | None,
    instructions: str,
    now: datetime,
    party: Party | None = None,
) -> Task:
    """Add one open task to the session."""
    task = Task(
        case_id=case.id if case else None,
        prison_id=prison_id,
        kind=kind.value,
        due_at=due_at,
        status=TaskStatus.OPEN.value,
        assignee_type=assignee_type.value,
        assignee_id=assignee_id,
        party_id=party.id if party else None,
        instructions=instructions,
        created_at=now,
    )
    session.add(task)
    return task


def safeguarding_first() -> ColumnElement[int]:
    """An ORDER BY term putting safeguarding tasks before every other kind."""
    return sql_case((col(Task.kind) == TaskKind.SAFEGUARDING_CHECK.value, 0), else_=1)


def _assignee(case: Case, rep_ids: list[uuid.UUID], index: int) -> tuple[AssigneeType, uuid.UUID | None]:
    if rep_ids:
        return AssigneeType.REP, rep_ids[index % len(rep_ids)]
    return AssigneeType.PRACTITIONER, case.practitioner_id


def schedule_wellbeing_checks(
    session: AsyncSession,
    *,
    case: Case,
    parties: list[Party],
    rep_ids: list[uuid.UUID],
    offsets_hours: list[float],
    now: datetime,
) -> list[Task]:
    """A wellbeing check for every party at each configured offset from now."""
    tasks = []
    for i, party in enumerate(parties):
        kind, who = _assignee(case, rep_ids, i)
        for hours in offsets_hours:
            tasks.append(
                new_task(
                    session,
                    case=case,
                    prison_id=case.prison_id,
                    kind=TaskKind.WELLBEING_CHECK,
                    due_at=now + timedelta(hours=hours),
                    assignee_type=kind,
                    assignee_id=who,
                    party=party,
                    instructions=(
                        f"Wellbeing check: visit {party.first_name} {party.last_name} and ask how they "
                        f"are since the {case.reference} work ended. Report any concern to staff at once."
                    ),
                    now=now,
                )
            )
    return tasks


def schedule_assessment_visits(
    session: AsyncSession,
    *,
    case: Case,
    parties: list[Party],
    rep_ids: list[uuid.UUID],
    now: datetime,
) -> list[Task]:
    """An assessment visit to each party, due within two days of acceptance."""
    tasks = []
    for i, party in enumerate(parties):
        kind, who = _assignee(case, rep_ids, i)
        tasks.append(
            new_task(
                session,
                case=case,
                prison_id=case.prison_id,
                kind=TaskKind.ASSESSMENT_VISIT,
                due_at=now + timedelta(days=2),
                assignee_type=kind,
                assignee_id=who,
                party=party,
                instructions=(
                    f"Assessment visit: explain restorative justice to {party.first_name} "
                    f"{party.last_name} and ask whether and how they want to take part."
                ),
                now=now,
            )
        )
    return tasks


async def open_wellbeing_checks(session: AsyncSession, case_id: uuid.UUID) -> int:
    """How many wellbeing checks of the case are still open."""
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Task)
                .where(
                    col(Task.case_id) == case_id,
                    col(Task.kind) == TaskKind.WELLBEING_CHECK.value,
                    col(Task.status) == TaskStatus.OPEN.value,
                )
            )
        ).scalar_one()
    )


async def cancel_open_tasks(session: AsyncSession, case_id: uuid.UUID, kinds: list[TaskKind]) -> None:
    """Cancel a case's open tasks of the given kinds (the work they were for has ended)."""
    await session.execute(
        update(Task)
        .where(
            col(Task.case_id) == case_id,
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.kind).in_([k.value for k in kinds]),
        )
        .values(status=TaskStatus.CANCELLED.value)
    )


async def task_view_rows(
    session: AsyncSession, tasks_: list[Task]
) -> dict[uuid.UUID, tuple[str | None, Party | None]]:
    """Case reference and party of each task, in two queries."""
    case_ids = {t.case_id for t in tasks_ if t.case_id}
    party_ids = {t.party_id for t in tasks_ if t.party_id}
    refs: dict[uuid.UUID, str] = {}
    if case_ids:
        for cid, ref in await session.execute(
            select(Case.id, Case.reference).where(col(Case.id).in_(case_ids))  # type: ignore[call-overload]
        ):
            refs[cid] = ref
    parties: dict[uuid.UUID, Party] = {}
    if party_ids:
        for party in (await session.execute(select(Party).where(col(Party.id).in_(party_ids)))).scalars():
            parties[party.id] = party
    return {
        t.id: (
            refs.get(t.case_id) if t.case_id else None,
            parties.get(t.party_id) if t.party_id else None,
        )
        for t in tasks_
    }


async def complete_task(
    session: AsyncSession,
    ctx: RequestContext,
    task: Task,
    *,
    outcome: str,
    notes: str | None,
    duration_minutes: int,
) -> Task:
    """Mark a task done with its outcome; audited on the case's chain when it has a case."""
    from app.audit.service import record_case_change, record_global_change
    from app.cases.repository import get_case
    from app.errors import InvalidStateError

    if task.status != TaskStatus.OPEN.value:
        raise InvalidStateError(f"the task is {task.status}, not open")
    now = clock.now()
    task.status = TaskStatus.DONE.value
    task.outcome = outcome
    task.notes = notes
    task.duration_minutes = duration_minutes
    task.completed_at = now
    session.add(task)
    after = {
        "kind": task.kind,
        "status": task.status,
        "outcome": outcome,
        "durationMinutes": duration_minutes,
    }
    if task.case_id is not None:
        case = await get_case(session, str(task.case_id), lock=True)
        assert case is not None  # noqa: S101 - a task's case is never deleted
        case.updated_at = now
        session.add(case)
        record_case_change(
            session,
            ctx,
            case,
            action="task.completed",
            entity_type="task",
            entity_id=task.id,
            before={"status": TaskStatus.OPEN.value},
            after=after,
        )
    else:
        await record_global_change(
            session,
            ctx,
            action="task.completed",
            entity_type="task",
            entity_id=task.id,
            before={"status": TaskStatus.OPEN.value},
            after=after,
        )
    return task
