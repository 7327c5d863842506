"""Completing a task with everything that follows from it, in one transaction.

A visit task leaves a contact behind (so every visit is on the case's record and counts once
towards the rep's hours); a delivery task delivers its letter under the letter rules; a concern
found while doing the task is raised at once. Work that depends on consent (a shuttle visit, a
letter delivered) is refused unless its party still consents, as a move is refused when its
guards are unmet (`app.workflows.case_workflow.TASK_GATES`). Telling someone what became of an
agreement is recorded with what they were told.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.repository import load_bundle
from app.common.enums import CaseState, ContactKind, TaskKind, TaskStatus
from app.contacts.service import record_contact
from app.context import RequestContext
from app.errors import ValidationFailedError
from app.flows.transitions import refuse_unmet_gates
from app.letters import service as letters
from app.models.cases import Case, Party
from app.models.letters import Letter
from app.models.tasks import Task
from app.safeguarding.service import raise_concern
from app.tasks import service as tasks
from app.tasks.schemas import TaskComplete
from app.workflows.case_workflow import TASK_GATES

VISIT_CONTACTS = {
    TaskKind.ASSESSMENT_VISIT: ContactKind.ASSESSMENT,
    TaskKind.SHUTTLE_VISIT: ContactKind.SHUTTLE,
    TaskKind.WELLBEING_CHECK: ContactKind.WELLBEING,
    TaskKind.SAFEGUARDING_CHECK: ContactKind.WELLBEING,
}


async def complete(
    session: AsyncSession, ctx: RequestContext, task: Task, case: Case | None, body: TaskComplete
) -> Task:
    """Complete `task` of `case` (the caller holds the case's row lock, then the task's)."""
    bundle = await load_bundle(session, case) if case is not None else None
    party = await session.get(Party, task.party_id) if task.party_id else None
    if body.concern is not None and party is None:
        raise ValidationFailedError("a concern is raised about a person: this task names nobody")
    kind = TaskKind(task.kind)
    if (
        kind == TaskKind.OUTCOME_FEEDBACK
        and task.status == TaskStatus.OPEN
        and not (body.notes or "").strip()
    ):
        raise ValidationFailedError.on("notes", "say in notes what the person was told")
    action = TASK_GATES.get(kind)
    if action is not None and bundle is not None and task.status == TaskStatus.OPEN:
        # A concern never waits on consent: the refusal says how to raise it on its own.
        also = " (raise the concern on its own: POST /safeguarding-concerns)" if body.concern else ""
        refuse_unmet_gates(
            action, ctx, bundle, task.party_id, refused=f"completing the {kind.value} is refused{also}"
        )
    extra = {}
    if body.concern is not None and party is not None:
        concern = await raise_concern(
            session,
            ctx,
            prisoner_number=party.prisoner_number,
            prison_id=task.prison_id,
            case=case,
            category=body.concern.category,
            detail=body.concern.detail,
        )
        extra["concernId"] = concern.id
    letter = await session.get(Letter, task.letter_id) if task.letter_id else None
    if kind == TaskKind.LETTER_DELIVERY and letter is not None and bundle is not None:
        # Delivery goes through the letter rules (approved only), which complete this task.
        await letters.move(
            session,
            ctx,
            bundle,
            letter,
            "deliver",
            outcome=body.outcome,
            duration_minutes=body.duration_minutes,
            notes=body.notes,
        )
        return task
    await tasks.complete_task(
        session,
        ctx,
        task,
        case=case,
        outcome=body.outcome,
        notes=body.notes,
        duration_minutes=body.duration_minutes,
        extra=extra,
    )
    contact_kind = VISIT_CONTACTS.get(kind)
    if contact_kind and party is not None and bundle is not None and bundle.case.state != CaseState.CLOSED:
        assert task.completed_at is not None  # noqa: S101 - just completed
        await record_contact(
            session,
            ctx,
            bundle,
            kind=contact_kind,
            party_id=party.id,
            rep_id=None,
            occurred_at=task.completed_at,
            duration_minutes=body.duration_minutes,
            summary=body.outcome + (f"\n{body.notes}" if body.notes else ""),
            task_id=task.id,
        )
    return task
