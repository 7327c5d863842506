"""Safeguarding concerns: raising one tells staff at once; nobody at risk is left unacknowledged.

Raising a concern, in the caller's transaction: the concern, its audit record, the outbound
`restorative-justice.safeguarding.raised` event, an urgent task for the case's practitioner (or
the prison's duty practitioner, or, with neither, the prison's practitioners as a group) and a
wellbeing check on the prisoner within `RJ_CONCERN_CHECK_HOURS`. Nothing is committed here.
"""

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_change, record_global_change
from app.auth.access import concern_scope, require_prison, sees_case, sees_concern
from app.cases import repository as cases_repo
from app.common.enums import AssigneeType, ConcernCategory, ConcernStatus, Role, TaskKind, TaskStatus
from app.config import get_settings
from app.context import SYSTEM_CONTEXT, Principal, RequestContext
from app.db import Database
from app.errors import ForbiddenError, InvalidStateError, NotFoundError, ValidationFailedError
from app.events.service import SAFEGUARDING_OVERDUE, SAFEGUARDING_RAISED, emit
from app.models.auth import ApiClient
from app.models.cases import Case, CaseRep, Party
from app.models.reps import Rep
from app.models.safeguarding import DutyPractitioner, SafeguardingConcern
from app.models.tasks import Task
from app.safeguarding.schemas import ConcernCreate
from app.tasks.service import new_task

log = logging.getLogger(__name__)

CATEGORY_WORDS = {
    ConcernCategory.SELF_HARM: "self-harm",
    ConcernCategory.SUICIDE_RISK: "suicide risk",
    ConcernCategory.VIOLENCE_THREAT: "a threat of violence",
    ConcernCategory.DISCLOSURE: "a disclosure",
    ConcernCategory.BULLYING: "bullying",
    ConcernCategory.OTHER: "a safeguarding concern",
}


def concern_url(concern: SafeguardingConcern) -> str:
    """Where a listener can fetch the concern (practitioners and managers may read it)."""
    return f"{get_settings().base_url.rstrip('/')}/safeguarding-concerns/{concern.id}"


def concern_snapshot(concern: SafeguardingConcern) -> dict[str, Any]:
    """A concern as the audit trail records it."""
    return {
        "prisonerNumber": concern.prisoner_number,
        "prisonId": concern.prison_id,
        "caseId": concern.case_id,
        "category": concern.category,
        "detail": concern.detail,
        "status": concern.status,
        "acknowledgedBy": concern.acknowledged_by,
        "externalReference": concern.external_reference,
        "taskId": concern.task_id,
        "checkTaskId": concern.check_task_id,
    }


def is_overdue(concern: SafeguardingConcern, now: datetime) -> bool:
    """Open for longer than the acknowledgement window."""
    window = timedelta(minutes=get_settings().concern_ack_minutes)
    return concern.status == ConcernStatus.OPEN.value and concern.raised_at + window <= now


async def duty_practitioner(session: AsyncSession, prison_id: str) -> uuid.UUID | None:
    """The practitioner on duty in the prison, if one is set."""
    row = await session.get(DutyPractitioner, prison_id)
    return row.practitioner_id if row else None


async def _record(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case | None,
    *,
    action: str,
    concern: SafeguardingConcern,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    await record_change(
        session,
        ctx,
        case,
        action=action,
        entity_type="concern",
        entity_id=concern.id,
        before=before,
        after=after,
    )


async def raise_concern(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    prisoner_number: str,
    prison_id: str,
    case: Case | None,
    category: ConcernCategory | str,
    detail: str,
) -> SafeguardingConcern:
    """Record a concern and, in the same transaction, tell staff: audit, event, urgent task, check.

    With a case, the caller holds the case's row lock (as for any change to a case).
    """
    category = ConcernCategory(category)
    if case is not None and case.prison_id != prison_id:
        raise ValidationFailedError(f"case {case.reference} is in {case.prison_id}, not {prison_id}")
    now = clock.now()
    settings = get_settings()
    concern = SafeguardingConcern(
        prisoner_number=prisoner_number,
        prison_id=prison_id,
        case_id=case.id if case else None,
        category=category.value,
        detail=detail,
        status=ConcernStatus.OPEN.value,
        raised_by_client_id=ctx.principal.client_id,
        raised_at=now,
    )
    practitioner_id = case.practitioner_id if case and case.practitioner_id else None
    if practitioner_id is None:
        practitioner_id = await duty_practitioner(session, prison_id)
    party = None
    if case is not None:
        party = (
            await session.execute(
                select(Party).where(
                    col(Party.case_id) == case.id, col(Party.prisoner_number) == prisoner_number
                )
            )
        ).scalar_one_or_none()
    where = f" ({case.reference})" if case else ""
    what = CATEGORY_WORDS[category]
    urgent = new_task(
        session,
        case=case,
        prison_id=prison_id,
        kind=TaskKind.SAFEGUARDING_CHECK,
        due_at=now + timedelta(minutes=settings.concern_ack_minutes),
        assignee_type=AssigneeType.PRACTITIONER,
        assignee_id=practitioner_id,
        party=party,
        instructions=(
            f"URGENT: {what} reported about {prisoner_number}{where}. Tell the safer-custody team "
            f"now and record their acknowledgement on the concern (ACCT reference if one is opened)."
        ),
        now=now,
    )
    check = new_task(
        session,
        case=case,
        prison_id=prison_id,
        kind=TaskKind.WELLBEING_CHECK,
        due_at=now + timedelta(hours=settings.concern_check_hours),
        assignee_type=AssigneeType.PRACTITIONER,
        assignee_id=practitioner_id,
        party=party,
        instructions=(
            f"Wellbeing check after a safeguarding concern: see {prisoner_number}{where} in person "
            f"and ask how they are. Escalate to staff at once if the risk remains."
        ),
        now=now,
    )
    concern.task_id, concern.check_task_id = urgent.id, check.id
    await session.flush()  # the tasks first: the concern refers to them
    session.add(concern)
    await _record(
        session,
        ctx,
        case,
        action="concern.raised",
        concern=concern,
        before=None,
        after=concern_snapshot(concern),
    )
    additional: dict[str, Any] = {
        "concernId": concern.id,
        "category": category.value,
        "prisonId": prison_id,
        "assignedPractitionerId": practitioner_id,
        "acknowledgeWithinMinutes": settings.concern_ack_minutes,
    }
    if case is not None:
        additional |= {"caseId": case.id, "reference": case.reference}
    emit(
        session,
        event_type=SAFEGUARDING_RAISED,
        description=f"Safeguarding concern ({what}) raised in {prison_id}{where}",
        prisoner_numbers=[prisoner_number],
        detail_url=concern_url(concern),
        additional=additional,
        case=case,
        prison_id=prison_id,
    )
    return concern


async def create_concern(
    session: AsyncSession, ctx: RequestContext, body: ConcernCreate
) -> SafeguardingConcern:
    """`POST /safeguarding-concerns`: check the case and who may raise on it, then raise."""
    principal = ctx.principal
    case: Case | None = None
    if body.case_id is not None:
        case = await cases_repo.get_case(session, body.case_id, lock=True)
        if case is None or not sees_case(
            principal, case, rep_assigned=await cases_repo.rep_is_assigned(session, case.id, principal.rep_id)
        ):
            raise NotFoundError(f"no case {body.case_id}")
        if body.prison_id is not None and body.prison_id != case.prison_id:
            raise ValidationFailedError(f"case {case.reference} is in {case.prison_id}, not {body.prison_id}")
        if not await _involved(session, case, body.prisoner_number):
            raise ValidationFailedError(
                f"{body.prisoner_number} is neither a party nor a rep on case {case.reference}"
            )
        prison_id = case.prison_id
    else:
        if principal.role == Role.REP:
            raise ForbiddenError("a rep raises concerns on their own cases: give caseId")
        prison_id = _prison_for(principal, body.prison_id)
    return await raise_concern(
        session,
        ctx,
        prisoner_number=body.prisoner_number,
        prison_id=prison_id,
        case=case,
        category=body.category,
        detail=body.detail,
    )


def _prison_for(principal: Principal, prison_id: str | None) -> str:
    if prison_id is not None:
        require_prison(principal, prison_id)
        return prison_id
    if principal.prisons is not None and len(principal.prisons) == 1:
        return next(iter(principal.prisons))
    raise ValidationFailedError("give prisonId (or caseId): your caseload has more than one prison")


async def _involved(session: AsyncSession, case: Case, prisoner_number: str) -> bool:
    party = await session.execute(
        select(col(Party.id)).where(
            col(Party.case_id) == case.id, col(Party.prisoner_number) == prisoner_number
        )
    )
    if party.first() is not None:
        return True
    rep = await session.execute(
        select(col(Rep.id))
        .join(CaseRep, col(CaseRep.rep_id) == col(Rep.id))
        .where(col(CaseRep.case_id) == case.id, col(Rep.prisoner_number) == prisoner_number)
    )
    return rep.first() is not None


async def get_concern(
    session: AsyncSession, principal: Principal, concern_id: uuid.UUID, *, lock: bool = False
) -> SafeguardingConcern:
    """A concern the caller may see (404 otherwise); `lock` takes the case's lock, then the concern's."""
    concern = await session.get(SafeguardingConcern, concern_id)
    if concern is None:
        raise NotFoundError(f"no safeguarding concern {concern_id}")
    assigned = concern.case_id is not None and await cases_repo.rep_is_assigned(
        session, concern.case_id, principal.rep_id
    )
    if not sees_concern(principal, concern, rep_assigned=assigned):
        raise NotFoundError(f"no safeguarding concern {concern_id}")
    if lock:
        if concern.case_id is not None:
            await cases_repo.get_case(session, str(concern.case_id), lock=True)
        await session.refresh(concern, with_for_update=True)
    return concern


async def acknowledge(
    session: AsyncSession,
    ctx: RequestContext,
    concern: SafeguardingConcern,
    *,
    acknowledged_by: str,
    external_reference: str | None,
) -> SafeguardingConcern:
    """Staff have been told: record who and their reference, and close the urgent task."""
    if concern.status != ConcernStatus.OPEN.value:
        raise InvalidStateError(f"the concern was already acknowledged by {concern.acknowledged_by}")
    now = clock.now()
    before = concern_snapshot(concern)
    concern.status = ConcernStatus.ACKNOWLEDGED.value
    concern.acknowledged_by = acknowledged_by
    concern.acknowledged_at = now
    concern.external_reference = external_reference
    session.add(concern)
    if concern.task_id is not None:
        task = await session.get(Task, concern.task_id, with_for_update=True)
        if task is not None and task.status == TaskStatus.OPEN.value:
            task.status = TaskStatus.DONE.value
            task.outcome = f"acknowledged by {acknowledged_by}"
            task.completed_at = now
            session.add(task)
    case = await cases_repo.get_case(session, str(concern.case_id)) if concern.case_id else None
    after = concern_snapshot(concern)
    await _record(
        session,
        ctx,
        case,
        action="concern.acknowledged",
        concern=concern,
        before={k: v for k, v in before.items() if v != after[k]},
        after={k: v for k, v in after.items() if v != before[k]},
    )
    return concern


async def list_concerns(
    session: AsyncSession,
    principal: Principal,
    *,
    status: ConcernStatus | None,
    prison_id: str | None,
    case_id: uuid.UUID | None,
    offset: int,
    limit: int,
) -> tuple[list[SafeguardingConcern], int]:
    """Concerns in the caller's prisons: open ones first, longest waiting first."""
    conditions = [concern_scope(principal)]
    if status is not None:
        conditions.append(col(SafeguardingConcern.status) == status.value)
    if prison_id is not None:
        conditions.append(col(SafeguardingConcern.prison_id) == prison_id)
    if case_id is not None:
        conditions.append(col(SafeguardingConcern.case_id) == case_id)
    total = (
        await session.execute(select(func.count()).select_from(SafeguardingConcern).where(*conditions))
    ).scalar_one()
    open_first = sql_case((col(SafeguardingConcern.status) == ConcernStatus.OPEN.value, 0), else_=1)
    rows = await session.execute(
        select(SafeguardingConcern)
        .where(*conditions)
        .order_by(open_first, col(SafeguardingConcern.raised_at), col(SafeguardingConcern.id))
        .offset(offset)
        .limit(limit)
    )
    return list(rows.scalars()), int(total)


async def case_references(session: AsyncSession, concerns: list[SafeguardingConcern]) -> dict[uuid.UUID, str]:
    """The reference of each concern's case, in one query."""
    ids = {c.case_id for c in concerns if c.case_id}
    if not ids:
        return {}
    rows = await session.execute(
        select(Case.id, Case.reference).where(col(Case.id).in_(ids))  # type: ignore[call-overload]
    )
    return {cid: ref for cid, ref in rows}


async def set_duty_practitioner(
    session: AsyncSession, ctx: RequestContext, prison_id: str, practitioner_id: uuid.UUID | None
) -> DutyPractitioner | None:
    """Name the practitioner on duty in a prison (None: nobody; concerns go to the prison's practitioners)."""
    require_prison(ctx.principal, prison_id)
    if practitioner_id is not None:
        client = await session.get(ApiClient, practitioner_id)
        if (
            client is None
            or not client.active
            or client.role != Role.PRACTITIONER.value
            or not (client.all_prisons or prison_id in client.prisons)
        ):
            raise ValidationFailedError(f"{practitioner_id} is not an active practitioner of {prison_id}")
    row = await session.get(DutyPractitioner, prison_id, with_for_update=True)
    before = {"practitionerId": row.practitioner_id if row else None}
    if practitioner_id is None:
        if row is not None:
            await session.delete(row)
        row = None
    else:
        if row is None:
            row = DutyPractitioner(prison_id=prison_id, practitioner_id=practitioner_id, set_at=clock.now())
        row.practitioner_id = practitioner_id
        row.set_by_client_id = ctx.principal.client_id
        row.set_at = clock.now()
        session.add(row)
    await record_global_change(
        session,
        ctx,
        action="duty.set",
        entity_type="prison",
        entity_id=prison_id,
        before=before,
        after={"practitionerId": practitioner_id},
    )
    return row


async def notify_overdue(db: Database, *, limit: int = 500) -> int:
    """Emit one overdue event for each concern still open past the window; one transaction each."""
    window = timedelta(minutes=get_settings().concern_ack_minutes)
    async with db.transaction() as session:
        due = list(
            (
                await session.execute(
                    select(col(SafeguardingConcern.id))
                    .where(
                        col(SafeguardingConcern.status) == ConcernStatus.OPEN.value,
                        col(SafeguardingConcern.overdue_notified).is_(False),
                        col(SafeguardingConcern.raised_at) <= clock.now() - window,
                    )
                    .order_by(col(SafeguardingConcern.raised_at))
                    .limit(limit)
                )
            ).scalars()
        )
    notified = 0
    for concern_id in due:
        async with db.transaction() as session:
            concern = await session.get(SafeguardingConcern, concern_id)
            if concern is None:
                continue
            case = None
            if concern.case_id is not None:
                case = await cases_repo.get_case(session, str(concern.case_id), lock=True)
            await session.refresh(concern, with_for_update=True)
            # Someone may have acknowledged it, or another timed-work runner notified, since we looked.
            if concern.overdue_notified or not is_overdue(concern, clock.now()):
                continue
            concern.overdue_notified = True
            session.add(concern)
            await _notify_one(session, concern, case, window)
            notified += 1
    if notified:
        log.warning("%d safeguarding concern(s) not acknowledged in time", notified)
    return notified


async def _notify_one(
    session: AsyncSession, concern: SafeguardingConcern, case: Case | None, window: timedelta
) -> None:
    minutes = int(window.total_seconds() // 60)
    await _record(
        session,
        SYSTEM_CONTEXT,
        case,
        action="concern.overdue",
        concern=concern,
        before={"overdueNotified": False},
        after={"overdueNotified": True, "ackWithinMinutes": minutes},
    )
    additional: dict[str, Any] = {
        "concernId": concern.id,
        "category": concern.category,
        "prisonId": concern.prison_id,
        "raisedAt": concern.raised_at,
        "acknowledgeWithinMinutes": minutes,
    }
    if case is not None:
        additional |= {"caseId": case.id, "reference": case.reference}
    emit(
        session,
        event_type=SAFEGUARDING_OVERDUE,
        description=(
            f"Safeguarding concern in {concern.prison_id} not acknowledged within {minutes} minutes"
        ),
        prisoner_numbers=[concern.prisoner_number],
        detail_url=concern_url(concern),
        additional=additional,
        case=case,
        prison_id=concern.prison_id,
    )
