"""Tasks the workflow generates, the changes practitioners make to them, and their queries."""

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import ColumnElement, Integer, bindparam, func, insert, literal_column, or_, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_change
from app.auth.practitioners import is_practitioner_in
from app.cases.parties import follow_up_of, visited_by_reps
from app.cases.repository import rep_is_assigned
from app.common.enums import AssigneeType, CaseState, FollowUp, RepStatus, TaskKind, TaskStatus
from app.common.sql_json import json_flag, json_quoted, json_text_agg, json_text_object, json_time, json_value
from app.context import RequestContext
from app.db import Conn, changed, column, new_id
from app.errors import InvalidStateError, ValidationFailedError
from app.models.cases import Case, Party
from app.models.reps import Rep
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task

# The contract's promise: someone checks on the person within 4 hours of a safeguarding concern.
SAFEGUARDING_CHECK_WITHIN = timedelta(hours=4)
LETTER_DELIVERY_WITHIN = timedelta(days=1)
PRACTITIONER_REVIEW_WITHIN = timedelta(days=1)

# Work a rep does on the wings; the rest (preparing conferences, reviews) is a practitioner's.
REP_WORK = (
    TaskKind.ASSESSMENT_VISIT,
    TaskKind.SHUTTLE_VISIT,
    TaskKind.LETTER_DELIVERY,
    TaskKind.WELLBEING_CHECK,
    TaskKind.SAFEGUARDING_CHECK,
)


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
    letter_id: uuid.UUID | None = None,
    agreement_item_id: uuid.UUID | None = None,
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
        letter_id=letter_id,
        agreement_item_id=agreement_item_id,
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


def _visitor(
    case: Case, party: Party, rep_ids: list[uuid.UUID], index: int
) -> tuple[AssigneeType, uuid.UUID | None]:
    """Who visits the party: the case's reps in turn, or the practitioner when it has none or
    the party asked not to be visited by reps."""
    return _assignee(case, rep_ids if visited_by_reps(party) else [], index)


def schedule_wellbeing_checks(
    session: AsyncSession,
    *,
    case: Case,
    parties: list[Party],
    rep_ids: list[uuid.UUID],
    offsets_hours: list[float],
    now: datetime,
) -> list[Task]:
    """A wellbeing check for every party at each configured offset from now, as the party wants
    to be checked on: by the case's reps (the practitioner when it has none), by the
    practitioner only, or not at all."""
    tasks = []
    for i, party in enumerate(parties):
        if follow_up_of(party) == FollowUp.NO_CONTACT:
            continue
        kind, who = _visitor(case, party, rep_ids, i)
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
    """An assessment visit to each party, due within two days of acceptance, by the reps in turn
    (the practitioner for a party not visited by reps)."""
    tasks = []
    for i, party in enumerate(parties):
        kind, who = _visitor(case, party, rep_ids, i)
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


def _routine_checks(case_id: uuid.UUID, party_id: uuid.UUID) -> Any:
    """The party's open wellbeing checks that follow the end of the work: not those a
    safeguarding concern asked for, which no preference stops."""
    after_concern = select(col(SafeguardingConcern.check_task_id)).where(
        col(SafeguardingConcern.check_task_id).is_not(None)
    )
    return (
        select(Task)
        .where(
            col(Task.case_id) == case_id,
            col(Task.party_id) == party_id,
            col(Task.kind) == TaskKind.WELLBEING_CHECK.value,
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.id).not_in(after_concern),
        )
        .order_by(col(Task.due_at), col(Task.id))
    )


FOLLOW_UP_WORDS = {
    FollowUp.REP_VISIT: "the party asked to be checked on by rep visits",
    FollowUp.PRACTITIONER_ONLY: "the party asked to be checked on by the practitioner only",
    FollowUp.NO_CONTACT: "the party asked not to be contacted",
}


async def follow_preference(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case,
    party: Party,
    rep_ids: list[uuid.UUID],
) -> dict[str, int]:
    """Make the party's open tasks follow how they now want to be visited: their routine
    wellbeing checks given to the case's reps (when it has any) or to the practitioner, or
    cancelled; and, unless reps may visit them, every other task of theirs a rep holds given to
    the practitioner. Each task changed is audited; how many were reassigned and cancelled."""
    follow_up = follow_up_of(party)
    why = FOLLOW_UP_WORDS[follow_up]
    reassigned = cancelled = 0
    now = clock.now()
    for i, task in enumerate((await session.execute(_routine_checks(case.id, party.id))).scalars()):
        if follow_up == FollowUp.NO_CONTACT:
            cancel(session, [task], reason=why, now=now)
            await _audit_cancelled(session, ctx, case, task, why)
            cancelled += 1
            continue
        who_type, who = _visitor(case, party, rep_ids, i)
        if task.assignee_type == who_type.value:
            continue
        await _give_to(session, ctx, case, task, who_type, who, why)
        reassigned += 1
    if not visited_by_reps(party):
        # Other visits the practitioner holds stay with them when reps may visit again: they may
        # have taken them for a reason (a raised risk, say).
        for task in await _held_by_reps(session, case.id, party.id):
            await _give_to(session, ctx, case, task, AssigneeType.PRACTITIONER, case.practitioner_id, why)
            reassigned += 1
    return {"tasksReassigned": reassigned, "tasksCancelled": cancelled}


async def _held_by_reps(session: AsyncSession, case_id: uuid.UUID, party_id: uuid.UUID) -> list[Task]:
    """The party's open tasks that reps hold, soonest due first."""
    rows = await session.execute(
        select(Task)
        .where(
            col(Task.case_id) == case_id,
            col(Task.party_id) == party_id,
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.assignee_type) == AssigneeType.REP.value,
        )
        .order_by(col(Task.due_at), col(Task.id))
    )
    return list(rows.scalars())


async def cancel_open_tasks(
    session: AsyncSession, case_id: uuid.UUID, kinds: list[TaskKind], *, reason: str
) -> None:
    """Cancel a case's open tasks of the given kinds (the work they were for has ended)."""
    await session.execute(
        update(Task)
        .where(
            col(Task.case_id) == case_id,
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.kind).in_([k.value for k in kinds]),
        )
        .values(status=TaskStatus.CANCELLED.value, cancel_reason=reason, cancelled_at=clock.now())
    )


async def open_task_ids(conn: Conn, case_id: uuid.UUID, kinds: Iterable[TaskKind]) -> list[uuid.UUID]:
    """The ids of a case's open tasks of the given kinds, soonest due first, on either handle
    (`app.db.Conn`)."""
    ids = await column(
        conn,
        select(col(Task.id))
        .where(
            col(Task.case_id) == case_id,
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.kind).in_([k.value for k in kinds]),
        )
        .order_by(col(Task.due_at), col(Task.id)),
    )
    return [uuid.UUID(str(i)) for i in ids]


async def end_tasks(conn: Conn, task_ids: list[uuid.UUID], *, reason: str, now: datetime) -> None:
    """`cancel` on either handle, by the tasks' ids (those still open)."""
    if task_ids:
        await changed(
            conn,
            update(Task)
            .where(col(Task.id).in_(task_ids), col(Task.status) == TaskStatus.OPEN.value)
            .values(status=TaskStatus.CANCELLED.value, cancel_reason=reason, cancelled_at=now),
        )


async def open_tasks(
    session: AsyncSession,
    case_id: uuid.UUID,
    kinds: Iterable[TaskKind],
    *,
    party_id: uuid.UUID | None = None,
    letter_ids: Iterable[uuid.UUID] | None = None,
) -> list[Task]:
    """A case's open tasks of the given kinds, soonest due first: those about one party when
    `party_id` is given, those for the letters named when `letter_ids` is."""
    conditions: list[ColumnElement[bool]] = [
        col(Task.case_id) == case_id,
        col(Task.status) == TaskStatus.OPEN.value,
        col(Task.kind).in_([k.value for k in kinds]),
    ]
    if party_id is not None:
        conditions.append(col(Task.party_id) == party_id)
    if letter_ids is not None:
        conditions.append(col(Task.letter_id).in_(list(letter_ids)))
    rows = await session.execute(select(Task).where(*conditions).order_by(col(Task.due_at), col(Task.id)))
    return list(rows.scalars())


def cancel(session: AsyncSession, tasks_: Iterable[Task], *, reason: str, now: datetime) -> None:
    """Cancel open tasks whose work can no longer happen, recording why on each."""
    for task in tasks_:
        task.status = TaskStatus.CANCELLED.value
        task.cancel_reason = reason
        task.cancelled_at = now
        session.add(task)


async def cancel_with_audit(
    session: AsyncSession, ctx: RequestContext, case: Case, tasks_: Iterable[Task], *, reason: str
) -> None:
    """Cancel open tasks a change to the case has made pointless, each audited with the reason."""
    now = clock.now()
    for task in tasks_:
        cancel(session, [task], reason=reason, now=now)
        await audit_task(
            session,
            ctx,
            case,
            task,
            action="task.cancelled",
            before={"status": TaskStatus.OPEN.value},
            after={"kind": task.kind, "status": task.status, "reason": reason},
        )


async def cancel_task(
    session: AsyncSession, ctx: RequestContext, task: Task, *, case: Case | None, reason: str
) -> Task:
    """A practitioner cancels an open task, with the reason; audited (the caller holds the case's
    row lock, then the task's). A safeguarding check is never cancelled: it closes when its
    concern is acknowledged."""
    if task.kind == TaskKind.SAFEGUARDING_CHECK.value:
        raise InvalidStateError(
            "a safeguarding check is never cancelled: it closes when its concern is acknowledged"
        )
    _require_open(task)
    now = clock.now()
    cancel(session, [task], reason=reason, now=now)
    if case is not None:
        case.updated_at = now
        session.add(case)
    await _audit_cancelled(session, ctx, case, task, reason)
    return task


async def _audit_cancelled(
    session: AsyncSession, ctx: RequestContext, case: Case | None, task: Task, reason: str
) -> None:
    """Audit a task cancelled, with the reason (no event: cancelling is internal work)."""
    await audit_task(
        session,
        ctx,
        case,
        task,
        action="task.cancelled",
        before={"status": TaskStatus.OPEN.value},
        after={"kind": task.kind, "status": task.status, "reason": reason},
    )


async def open_rep_work(session: AsyncSession, case_id: uuid.UUID) -> list[Task]:
    """The case's open tasks held by reps, soonest due first."""
    rows = await session.execute(
        select(Task)
        .where(
            col(Task.case_id) == case_id,
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.assignee_type) == AssigneeType.REP.value,
        )
        .order_by(col(Task.due_at), col(Task.id))
    )
    return list(rows.scalars())


def to_practitioner(session: AsyncSession, case: Case, tasks_: Iterable[Task]) -> None:
    """Give tasks to the case's practitioner (whoever is on duty when it has none)."""
    for task in tasks_:
        task.assignee_type, task.assignee_id = AssigneeType.PRACTITIONER.value, case.practitioner_id
        session.add(task)


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


class Named(Protocol):
    """Anything with a person's names: a party, or a row carrying a party's columns."""

    first_name: str
    last_name: str


def party_name(party: Named) -> str:
    """How a task names the person to see."""
    return f"{party.first_name} {party.last_name}"


def schedule_letter_delivery(
    session: AsyncSession,
    *,
    case: Case,
    letter_id: uuid.UUID,
    author: Party,
    recipient: Party,
    rep_ids: list[uuid.UUID],
    now: datetime,
) -> Task:
    """A delivery for the assigned rep (the practitioner when no rep is assigned, or when the
    recipient asked not to be visited by reps)."""
    who_type, who = _visitor(case, recipient, rep_ids, 0)
    return new_task(
        session,
        case=case,
        prison_id=case.prison_id,
        kind=TaskKind.LETTER_DELIVERY,
        due_at=now + LETTER_DELIVERY_WITHIN,
        assignee_type=who_type,
        assignee_id=who,
        party=recipient,
        letter_id=letter_id,
        instructions=(
            f"Deliver the approved letter from {party_name(author)} to {party_name(recipient)} "
            "in person, then record the delivery."
        ),
        now=now,
    )


def schedule_practitioner_review(
    session: AsyncSession, *, case: Case, why: str, now: datetime, urgent: bool = False
) -> Task:
    """A review for the case's practitioner when something agreed has gone wrong; `urgent`: due
    at once (safety changed)."""
    return new_task(
        session,
        case=case,
        prison_id=case.prison_id,
        kind=TaskKind.PRACTITIONER_REVIEW,
        due_at=now if urgent else now + PRACTITIONER_REVIEW_WITHIN,
        assignee_type=AssigneeType.PRACTITIONER,
        assignee_id=case.practitioner_id,
        instructions=why,
        now=now,
    )


async def add_practitioner_review(conn: Conn, *, case: Case, why: str, now: datetime) -> None:
    """An urgent review for the case's practitioner, on either handle (`app.db.Conn`): written
    with a move made on the driver's connection."""
    if isinstance(conn, AsyncSession):
        schedule_practitioner_review(conn, case=case, why=why, now=now, urgent=True)
        return
    await changed(
        conn,
        insert(Task).values(
            id=new_id(),
            case_id=case.id,
            prison_id=case.prison_id,
            kind=TaskKind.PRACTITIONER_REVIEW.value,
            due_at=now,
            status=TaskStatus.OPEN.value,
            assignee_type=AssigneeType.PRACTITIONER.value,
            assignee_id=case.practitioner_id,
            instructions=why,
            overdue_notified=False,
            created_at=now,
        ),
    )


def task_snapshot(task: Task) -> dict[str, Any]:
    """A task as the audit trail records it."""
    return {
        "kind": task.kind,
        "status": task.status,
        "dueAt": task.due_at,
        "assigneeType": task.assignee_type,
        "assigneeId": task.assignee_id,
        "partyId": task.party_id,
    }


async def audit_task(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case | None,
    task: Task,
    *,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
) -> None:
    """Audit a change to a task: on the case's chain when it has a case (the caller holds its
    lock), else on the global chain."""
    await record_change(
        session, ctx, case, action=action, entity_type="task", entity_id=task.id, before=before, after=after
    )


def _require_open(task: Task) -> None:
    if task.status != TaskStatus.OPEN.value:
        raise InvalidStateError(f"the task is {task.status}, not open")


async def complete_task(
    session: AsyncSession,
    ctx: RequestContext,
    task: Task,
    *,
    case: Case | None,
    outcome: str,
    notes: str | None,
    duration_minutes: int,
    extra: dict[str, Any] | None = None,
) -> Task:
    """Mark a task done with its outcome; audited on the case's chain (the caller holds its lock)."""
    _require_open(task)
    now = clock.now()
    task.status = TaskStatus.DONE.value
    task.outcome = outcome
    task.notes = notes
    task.duration_minutes = duration_minutes
    task.completed_at = now
    task.completed_by_rep_id = ctx.principal.rep_id
    session.add(task)
    if case is not None:
        case.updated_at = now
        session.add(case)
    await audit_task(
        session,
        ctx,
        case,
        task,
        action="task.completed",
        before={"status": TaskStatus.OPEN.value},
        after={
            "kind": task.kind,
            "status": task.status,
            "outcome": outcome,
            "durationMinutes": duration_minutes,
            **(extra or {}),
        },
    )
    return task


async def check_assignee(
    session: AsyncSession,
    *,
    case: Case | None,
    prison_id: str,
    assignee_type: AssigneeType,
    assignee_id: uuid.UUID | None,
    party: Party | None = None,
) -> None:
    """Refuse (422) an assignee who cannot do the work: a rep must be active and on the case,
    and never given the task of a party who asked not to be visited by reps."""
    if assignee_type == AssigneeType.REP:
        if party is not None and not visited_by_reps(party):
            raise ValidationFailedError(
                f"{party_name(party)} asked not to be visited by reps (followUp "
                f"{follow_up_of(party).value}): give the task to a practitioner"
            )
        rep = await session.get(Rep, assignee_id) if assignee_id else None
        if rep is None or rep.status != RepStatus.ACTIVE.value or rep.prison_id != prison_id:
            raise ValidationFailedError(f"{assignee_id} is not an active rep in {prison_id}")
        if case is not None and not await rep_is_assigned(session, case.id, rep.id):
            raise ValidationFailedError(
                f"rep {rep.first_name} {rep.last_name} is not assigned to {case.reference}"
            )
        return
    if assignee_id is None:
        return  # the practitioners of the prison, whoever is on duty
    if not await is_practitioner_in(session, assignee_id, prison_id):
        raise ValidationFailedError(f"{assignee_id} is not an active practitioner working in {prison_id}")


async def add_task(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    case: Case | None,
    prison_id: str,
    kind: TaskKind,
    due_at: datetime,
    assignee_type: AssigneeType,
    assignee_id: uuid.UUID | None,
    party: Party | None,
    instructions: str,
) -> Task:
    """A task a practitioner adds by hand."""
    await check_assignee(
        session,
        case=case,
        prison_id=prison_id,
        assignee_type=assignee_type,
        assignee_id=assignee_id,
        party=party,
    )
    task = new_task(
        session,
        case=case,
        prison_id=prison_id,
        kind=kind,
        due_at=due_at,
        assignee_type=assignee_type,
        assignee_id=assignee_id,
        party=party,
        instructions=instructions,
        now=clock.now(),
    )
    await session.flush()
    await audit_task(
        session,
        ctx,
        case,
        task,
        action="task.added",
        before=None,
        after={**task_snapshot(task), "instructions": instructions},
    )
    return task


async def reassign_task(
    session: AsyncSession,
    ctx: RequestContext,
    task: Task,
    *,
    case: Case | None,
    assignee_type: AssigneeType,
    assignee_id: uuid.UUID | None,
    reason: str,
) -> Task:
    """Give an open task to someone else; never to a rep once the case is closed."""
    _require_open(task)
    if case is not None and case.state == CaseState.CLOSED and assignee_type == AssigneeType.REP:
        raise InvalidStateError("no rep works on a closed case: its tasks are practitioners'")
    party = await session.get(Party, task.party_id) if task.party_id is not None else None
    await check_assignee(
        session,
        case=case,
        prison_id=task.prison_id,
        assignee_type=assignee_type,
        assignee_id=assignee_id,
        party=party,
    )
    await _give_to(session, ctx, case, task, assignee_type, assignee_id, reason)
    return task


async def _give_to(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case | None,
    task: Task,
    assignee_type: AssigneeType,
    assignee_id: uuid.UUID | None,
    reason: str | None,
) -> None:
    """Give the task to someone else, audited with the reason."""
    before = {"assigneeType": task.assignee_type, "assigneeId": task.assignee_id}
    task.assignee_type, task.assignee_id = assignee_type.value, assignee_id
    session.add(task)
    await audit_task(
        session,
        ctx,
        case,
        task,
        action="task.reassigned",
        before=before,
        after={"assigneeType": task.assignee_type, "assigneeId": task.assignee_id, "reason": reason},
    )


async def reschedule_task(
    session: AsyncSession,
    ctx: RequestContext,
    task: Task,
    *,
    case: Case | None,
    due_at: datetime,
    reason: str,
) -> Task:
    """Move an open task's due time, with the reason."""
    _require_open(task)
    before = {"dueAt": task.due_at}
    task.due_at = due_at
    session.add(task)
    await audit_task(
        session,
        ctx,
        case,
        task,
        action="task.rescheduled",
        before=before,
        after={"dueAt": due_at, "reason": reason, "kind": task.kind},
    )
    return task


async def hand_over(
    session: AsyncSession,
    case: Case,
    *,
    before: list[uuid.UUID],
    after: list[uuid.UUID],
) -> int:
    """After an assignment change, keep every open task of the case with someone who is on it.

    A rep taken off the case keeps none of its tasks (they would show people no longer theirs to
    see): the tasks go to the remaining reps, or to the practitioner. When a case gets its first
    reps, the rep work the practitioner held for want of a rep goes to them, but for the tasks of
    a party who asked not to be visited by reps, which stay with the practitioner.
    """
    removed = [r for r in before if r not in after]
    conditions: list[ColumnElement[bool]] = []
    if removed:
        conditions.append(
            (col(Task.assignee_type) == AssigneeType.REP.value) & col(Task.assignee_id).in_(removed)
        )
    if not before and after:
        conditions.append(
            (col(Task.assignee_type) == AssigneeType.PRACTITIONER.value)
            & col(Task.kind).in_([k.value for k in REP_WORK])
        )
    if not conditions:
        return 0
    not_by_reps = set(
        (
            await session.execute(
                select(col(Party.id)).where(
                    col(Party.case_id) == case.id,
                    col(Party.follow_up).in_([FollowUp.PRACTITIONER_ONLY.value, FollowUp.NO_CONTACT.value]),
                )
            )
        ).scalars()
    )
    rows = await session.execute(
        select(Task)
        .where(col(Task.case_id) == case.id, col(Task.status) == TaskStatus.OPEN.value, or_(*conditions))
        .order_by(col(Task.due_at), col(Task.id))
    )
    moved = 0
    for i, task in enumerate(rows.scalars()):
        if task.party_id in not_by_reps:
            if task.assignee_type == AssigneeType.PRACTITIONER.value:
                continue  # with a practitioner already: theirs to keep
            who_type, who = AssigneeType.PRACTITIONER, case.practitioner_id
        else:
            who_type, who = _assignee(case, after, i)
        task.assignee_type, task.assignee_id = who_type.value, who
        session.add(task)
        moved += 1
    return moved


def day_order(reference: Any) -> list[Any]:
    """The order of a rep's daily list: overdue, safeguarding, wellbeing, then by due time.

    Its constants are written into the SQL, not sent as parameters, so that the same order
    written twice in one statement (`DAY_TASKS_JSON`: the list's and its numbering's) is seen by
    PostgreSQL as one, and sorted once."""
    first: ColumnElement[int] = literal_column("0")
    then: ColumnElement[int] = literal_column("1")

    def kind(value: TaskKind) -> Any:
        return literal_column(f"'{value.value}'")

    return [
        sql_case((col(Task.due_at) < reference, first), else_=then),
        sql_case((col(Task.kind) == kind(TaskKind.SAFEGUARDING_CHECK), first), else_=then),
        sql_case((col(Task.kind) == kind(TaskKind.WELLBEING_CHECK), first), else_=then),
        col(Task.due_at),
        col(Task.id),
    ]


class DayRow(NamedTuple):
    """A task of a rep's daily list, with its case's reference and the party to see."""

    id: uuid.UUID
    case_id: uuid.UUID | None
    reference: str | None
    kind: str
    due_at: datetime
    instructions: str
    first_name: str | None
    last_name: str | None
    location: str | None


# Built once, with its values as parameters: building and keying the statement on every
# request cost more than running it. Its columns are `DayRow`'s.
_DAY_ROWS = (
    select(
        col(Task.id),
        col(Task.case_id),
        col(Case.reference),
        col(Task.kind),
        col(Task.due_at),
        col(Task.instructions),
        col(Party.first_name),
        col(Party.last_name),
        col(Party.location),
    )
    .select_from(Task)
    .outerjoin(Case, col(Case.id) == col(Task.case_id))
    .outerjoin(Party, col(Party.id) == col(Task.party_id))
    .where(
        col(Task.assignee_type) == AssigneeType.REP.value,
        col(Task.assignee_id) == bindparam("rep_id"),
        col(Task.status) == TaskStatus.OPEN.value,
        col(Task.due_at) < bindparam("day_end"),
        # No rep works on a declined or closed case, whatever task of it is still open.
        col(Case.state).is_distinct_from(literal_column(f"'{CaseState.CLOSED.value}'")),
    )
    .order_by(*day_order(bindparam("reference")))
    .limit(bindparam("limit", type_=Integer))
)


# The same tasks as the JSON array `DailyList.tasks` is written as, for a statement that reads
# the rep with them (the rep named by the same `rep_id`): `app.reps.service.day_list_json`.
# Numbered in the list's order, so that the array keeps it.
_DAY_NUMBERED = _DAY_ROWS.add_columns(
    (col(Task.due_at) < bindparam("reference")).label("overdue"),
    func.row_number().over(order_by=day_order(bindparam("reference"))).label("n"),
).subquery("d")
_DAY_TASK_JSON = json_text_object(
    id=json_quoted("d.id::text"),
    case_id=json_quoted("d.case_id::text"),
    case_reference=json_value("d.reference"),
    kind=json_value("d.kind"),
    due_at=json_quoted(json_time("d.due_at")),
    overdue=json_flag("d.overdue"),
    what=json_value("d.instructions"),
    whom=json_value("d.first_name || ' ' || d.last_name"),
    where=json_value("d.location"),
)
DAY_TASKS_JSON = (
    select(literal_column(json_text_agg(_DAY_TASK_JSON, "d.n"))).select_from(_DAY_NUMBERED).scalar_subquery()
)


async def rep_day_rows(
    session: AsyncSession, rep_id: uuid.UUID, *, day_end: datetime, reference: datetime, limit: int
) -> list[DayRow]:
    """A rep's open tasks due before `day_end`, none of a closed case, most urgent first, each
    with its case reference and the party to see (name and location): one query, no objects built."""
    values = day_rows_values(rep_id, day_end=day_end, reference=reference, limit=limit)
    return [DayRow(*row) for row in await session.execute(_DAY_ROWS, values)]


def day_rows_values(
    rep_id: uuid.UUID, *, day_end: datetime, reference: datetime, limit: int
) -> dict[str, Any]:
    """The values of the day rows' parameters (`_DAY_ROWS`, `DAY_TASKS_JSON`), by name."""
    return {"rep_id": rep_id, "day_end": day_end, "reference": reference, "limit": limit}


async def overdue_candidates(session: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    """Open tasks past due whose lateness has not been announced yet."""
    rows = await session.execute(
        select(col(Task.id))
        .where(
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.due_at) < now,
            col(Task.overdue_notified).is_(False),
        )
        .order_by(col(Task.due_at))
        .limit(limit)
    )
    return list(rows.scalars())


async def claim_overdue(session: AsyncSession, task_id: uuid.UUID, now: datetime) -> bool:
    """Mark a task as announced overdue; False when it is no longer open and overdue, or already
    announced (by a concurrent timed-work runner), so each task's event goes out once."""
    result = await session.execute(
        update(Task)
        .where(
            col(Task.id) == task_id,
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.due_at) < now,
            col(Task.overdue_notified).is_(False),
        )
        .values(overdue_notified=True)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
