"""What falls due with time: a paused case's cooling-off ends, a task becomes overdue."""

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.cases import repository as repo
from app.cases.schemas import TransitionRequest
from app.common.enums import CaseState, Trigger
from app.context import SYSTEM_CONTEXT
from app.db import Database
from app.events.service import TASK_OVERDUE, emit, emit_case_event
from app.flows import transitions
from app.models.cases import Case, Party
from app.models.tasks import Task
from app.tasks import service as tasks

log = logging.getLogger(__name__)


async def resume_due_cases(db: Database, *, limit: int = 500) -> int:
    """Resume every case whose cooling-off time has passed; one transaction per case."""
    async with db.transaction() as session:
        due = list(
            (
                await session.execute(
                    select(col(Case.id))
                    .where(
                        col(Case.state) == CaseState.ON_HOLD.value,
                        col(Case.paused_until) <= clock.now(),
                    )
                    .order_by(col(Case.paused_until))
                    .limit(limit)
                )
            ).scalars()
        )
    resumed = 0
    for case_id in due:
        async with db.transaction() as session:
            case = await repo.get_case(session, str(case_id), lock=True)
            # Someone may have resumed or re-paused it since we looked.
            if case is None or case.state != CaseState.ON_HOLD or case.paused_until is None:
                continue
            if case.paused_until > clock.now():
                continue
            bundle = await repo.load_bundle(session, case)
            await transitions.fire_transition(
                session,
                SYSTEM_CONTEXT,
                bundle,
                TransitionRequest(trigger=Trigger.RESUME),
                expected_version=None,
            )
            resumed += 1
    if resumed:
        log.info("resumed %d case(s) after cooling off", resumed)
    return resumed


async def mark_overdue_tasks(db: Database, *, limit: int = 500) -> int:
    """Announce each open task past its due time, once: an audit record and a `task.overdue`
    event, one transaction per task."""
    async with db.transaction() as session:
        due = await tasks.overdue_candidates(session, clock.now(), limit)
    marked = 0
    for task_id in due:
        async with db.transaction() as session:
            task = await session.get(Task, task_id)
            if task is None:  # pragma: no cover - tasks are never deleted
                continue
            # The case row lock first, as every writer takes it; then claim the task.
            case = await repo.get_case(session, str(task.case_id), lock=True) if task.case_id else None
            if not await tasks.claim_overdue(session, task_id, clock.now()):
                continue  # done, cancelled, moved or announced since we looked
            await session.refresh(task)
            party = await session.get(Party, task.party_id) if task.party_id else None
            await _announce_overdue(session, task, case, party)
            marked += 1
    if marked:
        log.info("announced %d overdue task(s)", marked)
    return marked


async def _announce_overdue(
    session: AsyncSession, task: Task, case: Case | None, party: Party | None
) -> None:
    kind = task.kind.replace("_", " ")
    details = {
        "taskId": task.id,
        "kind": task.kind,
        "dueAt": task.due_at,
        "assigneeType": task.assignee_type,
        "assigneeId": task.assignee_id,
    }
    numbers = [party.prisoner_number] if party else []
    await tasks.audit_task(
        session, SYSTEM_CONTEXT, case, task, action="task.overdue", before=None, after=details
    )
    if case is not None:
        emit_case_event(
            session,
            case,
            event_type=TASK_OVERDUE,
            description=f"A {kind} task on restorative justice case {case.reference} is overdue",
            prisoner_numbers=numbers,
            extra=details,
        )
        return
    emit(
        session,
        event_type=TASK_OVERDUE,
        description=f"A {kind} task in {task.prison_id} is overdue",
        prisoner_numbers=numbers,
        detail_url=None,
        additional={**details, "prisonId": task.prison_id},
        prison_id=task.prison_id,
    )
