"""What falls due with time: a paused case's cooling-off ends, a task becomes overdue, an
agreement's commitment passes its due date while still pending."""

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.cases import repository as repo
from app.cases.schemas import TransitionRequest
from app.common.dates import local_today
from app.common.enums import CaseState, Trigger
from app.conferences import agreements
from app.context import SYSTEM_CONTEXT
from app.db import Database
from app.events.service import AGREEMENT_ITEM_OVERDUE, TASK_OVERDUE, emit, emit_case_event
from app.flows import transitions
from app.models.cases import Case, Party
from app.models.conferences import AgreementItem
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


async def mark_overdue_agreement_items(db: Database, *, limit: int = 500) -> int:
    """Announce each agreement item whose due date has passed while pending, once (closed case
    or not): an audit record and a `agreement-item.overdue` event, one transaction per item."""
    async with db.transaction() as session:
        due = await agreements.overdue_items(session, local_today(), limit)
    marked = 0
    for item_id in due:
        async with db.transaction() as session:
            item = await session.get(AgreementItem, item_id)
            if item is None:  # pragma: no cover - items are never deleted
                continue
            # The case row lock first, as every writer takes it; then claim the item.
            case = await repo.get_case(session, str(item.case_id), lock=True)
            if case is None or not await agreements.claim_overdue_item(session, item_id, local_today()):
                continue  # settled or announced since we looked
            owner = await session.get(Party, item.owner_party_id)
            details = {
                "agreementItemId": item.id,
                "agreementId": item.agreement_id,
                "ownerPartyId": item.owner_party_id,
                "dueOn": item.due_on,
            }
            record_case_change(
                session,
                SYSTEM_CONTEXT,
                case,
                action="agreement_item.overdue",
                entity_type="agreement_item",
                entity_id=item.id,
                after={**details, "description": item.description},
            )
            emit_case_event(
                session,
                case,
                event_type=AGREEMENT_ITEM_OVERDUE,
                description=(
                    f"A commitment of the agreement on restorative justice case {case.reference} "
                    "passed its due date unsettled"
                ),
                prisoner_numbers=[owner.prisoner_number] if owner else [],
                extra=details,
            )
            marked += 1
    if marked:
        log.info("announced %d overdue agreement item(s)", marked)
    return marked
