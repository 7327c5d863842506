"""Participants' feedback: how heard and safe they felt, and whether they would recommend it.

Asked twice at most: as the work ends (`conclusion`) and after the last wellbeing check
(`follow_up`). The answers leave the service only as aggregates of at least five (the summary
report) and, with the comment, to the person themself through subject access.
"""

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.cases.parties import party_of
from app.cases.repository import CaseBundle
from app.cases.schemas import FeedbackCreate
from app.common.enums import CaseState, FeedbackStage, TaskKind, TaskStatus
from app.context import RequestContext
from app.errors import FeedbackExistsError, InvalidStateError
from app.models.cases import Party
from app.models.feedback import Feedback
from app.models.tasks import Task

# The work has ended once the case reached one of these.
ENDED = frozenset({CaseState.FOLLOW_UP, CaseState.CLOSED})


async def record_feedback(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    party_id: uuid.UUID,
    body: FeedbackCreate,
) -> Feedback:
    """Record a party's answers at a stage: once per party and stage (409 FEEDBACK_EXISTS), and
    only when the stage has come (409 INVALID_STATE). The caller holds the case's row lock, so
    two answers for the same stage cannot both pass the check."""
    case = bundle.case
    party = party_of(bundle, party_id)
    given = await session.execute(
        select(col(Feedback.id)).where(
            col(Feedback.party_id) == party.id, col(Feedback.stage) == body.stage.value
        )
    )
    if given.first() is not None:
        raise FeedbackExistsError(
            f"{party.first_name} {party.last_name} already gave feedback at {body.stage.value}; "
            "answers are never changed"
        )
    if body.stage == FeedbackStage.CONCLUSION and case.state not in ENDED:
        raise InvalidStateError(
            f"feedback at conclusion is asked once the case has reached follow_up or closed; "
            f"{case.reference} is in {case.state}"
        )
    if body.stage == FeedbackStage.FOLLOW_UP:
        await _refuse_before_last_check(session, party)
    principal = ctx.principal
    entry = Feedback(
        case_id=case.id,
        party_id=party.id,
        stage=body.stage.value,
        party_role=party.role,
        felt_heard=body.felt_heard,
        felt_safe=body.felt_safe,
        would_recommend=body.would_recommend,
        comment=body.comment,
        collected_by_client_id=principal.client_id,
        collected_by_role=principal.role.value,
        collected_by_rep_id=principal.rep_id,
        recorded_at=clock.now(),
    )
    session.add(entry)
    # The trail says that feedback was taken and by whom, never what was said: auditors read it.
    record_case_change(
        session,
        ctx,
        case,
        action="feedback.recorded",
        entity_type="feedback",
        entity_id=entry.id,
        after={"partyId": party.id, "party": f"{party.first_name} {party.last_name}", "stage": entry.stage},
    )
    return entry


async def _refuse_before_last_check(session: AsyncSession, party: Party) -> None:
    """Follow-up feedback comes after the party's last wellbeing check: at least one done and
    none still open (cancelled ones do not count either way)."""
    row = (
        await session.execute(
            select(
                func.count().filter(col(Task.status) == TaskStatus.DONE.value),
                func.count().filter(col(Task.status) == TaskStatus.OPEN.value),
            ).where(
                col(Task.party_id) == party.id,
                col(Task.kind) == TaskKind.WELLBEING_CHECK.value,
            )
        )
    ).one()
    done, still_open = int(row[0]), int(row[1])
    who = f"{party.first_name} {party.last_name}"
    if still_open:
        raise InvalidStateError(
            f"feedback at follow_up is asked after the last wellbeing check; {who} has "
            f"{still_open} still open"
        )
    if not done:
        raise InvalidStateError(
            f"feedback at follow_up is asked after the last wellbeing check; {who} has had none done"
        )
