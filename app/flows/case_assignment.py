"""Assigning a practitioner and reps to a case: who may take it, and the open tasks that follow
the reps."""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.service import record_case_change
from app.auth.access import rep_scope
from app.auth.practitioners import is_practitioner_in
from app.cases import repository as repo
from app.cases.repository import CaseBundle
from app.cases.service import check_version, touch
from app.common.enums import CaseState, RepStatus
from app.context import Principal, RequestContext
from app.errors import AssignmentRefusedError, InvalidStateError
from app.flows.transitions import refuse_unmet_gates
from app.models.cases import Case, CaseRep
from app.models.reps import Rep
from app.nonassociations.service import keep_apart_between
from app.tasks import service as tasks
from app.workflows.case_workflow import Action

# States in which a case counts against a rep's limit of active cases.
ACTIVE_STATES = [s.value for s in CaseState if s != CaseState.CLOSED]


async def set_assignment(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    *,
    practitioner_id: uuid.UUID | None,
    rep_ids: list[uuid.UUID],
    expected_version: int | None,
    keep_apart_checked_by_hand: bool = False,
) -> None:
    """Assign a practitioner and reps, refusing any rep who may not take the case.

    Open tasks follow the reps: see `tasks.hand_over`.
    """
    case = bundle.case
    check_version(case, expected_version)
    if case.state == CaseState.CLOSED:
        raise InvalidStateError("a closed case cannot be assigned; reopen it first")
    if practitioner_id is not None:
        await _check_practitioner(session, practitioner_id, case.prison_id)
    rep_ids = list(dict.fromkeys(rep_ids))
    newly = [r for r in rep_ids if r not in bundle.rep_ids]
    if newly:
        refuse_unmet_gates(Action.REPS_ASSIGNED, ctx, bundle)
    keep_apart: dict[str, str] = {}
    for rep_id in newly:
        keep_apart[str(rep_id)] = await _check_rep(
            session, ctx.principal, case, bundle, rep_id, checked_by_hand=keep_apart_checked_by_hand
        )
    before = {"practitionerId": case.practitioner_id, "repIds": sorted(map(str, bundle.rep_ids))}
    previous_reps = list(bundle.rep_ids)
    if practitioner_id is not None:
        case.practitioner_id = practitioner_id
    await repo.set_reps(session, case.id, rep_ids)
    bundle.rep_ids = sorted(rep_ids)
    handed_over = await tasks.hand_over(session, case, before=previous_reps, after=bundle.rep_ids)
    await touch(session, case)
    record_case_change(
        session,
        ctx,
        case,
        action="assignment.changed",
        entity_type="assignment",
        before=before,
        after={
            "practitionerId": case.practitioner_id,
            "repIds": sorted(map(str, rep_ids)),
            "keepApart": keep_apart,
            "tasksHandedOver": handed_over,
        },
    )


async def _check_practitioner(session: AsyncSession, practitioner_id: uuid.UUID, prison_id: str) -> None:
    if not await is_practitioner_in(session, practitioner_id, prison_id):
        raise AssignmentRefusedError(
            f"{practitioner_id} is not an active practitioner working in {prison_id}",
            extra={"refusal": "not_a_practitioner_here"},
        )


async def _check_rep(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    bundle: CaseBundle,
    rep_id: uuid.UUID,
    *,
    checked_by_hand: bool,
) -> str:
    """Refuse a rep who may not take the case; say how keep-apart was settled ("clear" or
    "checked by hand")."""
    # A rep outside the caller's caseload is looked for, and refused, as one that does not exist
    # is: the same statement finding nothing, and the same words (never another prison's rep).
    rep = (
        await session.execute(select(Rep).where(col(Rep.id) == rep_id, rep_scope(principal)))
    ).scalar_one_or_none()
    if rep is None:
        raise AssignmentRefusedError(
            "no such rep in your caseload", extra={"refusal": "unknown_rep", "repId": str(rep_id)}
        )

    def refuse(why: str, code: str) -> AssignmentRefusedError:
        return AssignmentRefusedError(
            f"rep {rep.first_name} {rep.last_name} cannot take {case.reference}: {why}",
            extra={"refusal": code, "repId": str(rep_id)},
        )

    if rep.status != RepStatus.ACTIVE.value:
        raise refuse(f"the rep is {rep.status.replace('_', ' ')}, not active", "rep_not_active")
    if rep.prison_id != case.prison_id:
        raise refuse(f"the rep is in {rep.prison_id}, the case in {case.prison_id}", "rep_in_other_prison")
    if any(p.prisoner_number == rep.prisoner_number for p in bundle.parties):
        raise refuse("the rep is a party to the case", "rep_is_party")
    active = (
        await session.execute(
            select(func.count())
            .select_from(Case)
            .join(CaseRep, col(CaseRep.case_id) == col(Case.id))
            .where(col(CaseRep.rep_id) == rep_id, col(Case.state).in_(ACTIVE_STATES))
        )
    ).scalar_one()
    if active >= rep.max_active_cases:
        raise refuse(
            f"the rep already has {active} active cases (limit {rep.max_active_cases})",
            "rep_at_limit",
        )
    keep_apart = await keep_apart_between([rep.prisoner_number], [p.prisoner_number for p in bundle.parties])
    if keep_apart.status == "conflict":
        raise refuse(
            f"a non-association keeps the rep apart from a party ({keep_apart.detail})",
            "rep_keep_apart",
        )
    if keep_apart.status == "unknown":
        if not checked_by_hand:
            raise refuse(
                f"{keep_apart.detail}; check non-associations between the rep and the parties by hand "
                "and send keepApartCheckedByHand",
                "keep_apart_unchecked",
            )
        return "checked by hand"
    return keep_apart.status
