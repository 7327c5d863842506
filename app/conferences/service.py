"""Conferences: arrangements, keep-apart checks, the outcome and its agreement."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.auth.access import sees_keep_apart_details
from app.cases.repository import CaseBundle
from app.cases.schemas import ConferenceDetails, ConferenceProposal
from app.common.enums import AssigneeType, CaseState, NoteKind, TaskKind
from app.conferences import agreements
from app.conferences.schemas import (
    AgreementItemPublic,
    ConferenceOutcome,
    ConferencePublic,
    KeepApartDecision,
)
from app.context import Principal, RequestContext
from app.db import Conn, scalar
from app.errors import InvalidStateError, KeepApartError, ValidationFailedError
from app.models.cases import Case
from app.models.conferences import Agreement, AgreementItem, Conference
from app.nonassociations.service import keep_apart_between
from app.notes import service as notes
from app.tasks import service as tasks
from app.workflows.case_workflow import keep_apart_allows


async def get_conference(session: AsyncSession, case_id: uuid.UUID) -> Conference | None:
    """The case's conference, if one was ever arranged."""
    return (
        await session.execute(select(Conference).where(col(Conference.case_id) == case_id))
    ).scalar_one_or_none()


async def scheduled_at(conn: Conn, case_id: uuid.UUID) -> datetime | None:
    """When the case's conference is to start (None when none was arranged), on either handle
    (`app.db.Conn`)."""
    when: datetime | None = await scalar(
        conn, select(col(Conference.scheduled_at)).where(col(Conference.case_id) == case_id)
    )
    return when


async def _arranged(session: AsyncSession, case: Case, doing: str) -> Conference:
    """The conference of a case in the conference state."""
    conference = await get_conference(session, case.id) if case.state == CaseState.CONFERENCE else None
    if conference is None:
        raise InvalidStateError(f"{doing} only while the case is in conference")
    return conference


def check_supporting_reps(bundle: CaseBundle, details: ConferenceDetails | ConferenceProposal) -> None:
    """Supporting reps must be assigned to the case: that is where their keep-apart was checked."""
    strangers = [r for r in details.supporting_rep_ids if r not in bundle.rep_ids]
    if strangers:
        raise ValidationFailedError(
            f"supporting reps must be assigned to {bundle.case.reference}: "
            + ", ".join(str(r) for r in strangers)
        )


def _arrangements(conference: Conference) -> dict[str, Any]:
    return {
        "scheduledAt": conference.scheduled_at,
        "location": conference.location,
        "facilitatorId": conference.facilitator_id,
        "supportingRepIds": conference.supporting_rep_ids,
        "attendees": conference.expected_attendees,
        "keepApartOverrideReason": conference.keep_apart_override_reason,
        "keepApartCheckedByHand": conference.keep_apart_checked_by_hand,
    }


async def save_arrangements(
    session: AsyncSession,
    case: Case,
    details: ConferenceDetails,
    *,
    now: datetime,
    keep_override: bool = False,
) -> Conference:
    """Store the arrangements and (re)issue the preparation tasks for the new time and place.

    `keep_override`: a practitioner's earlier override stands when no new reason is given.
    """
    conference = await get_conference(session, case.id)
    if conference is None:
        conference = Conference(
            case_id=case.id,
            scheduled_at=details.scheduled_at,
            location=details.location,
            facilitator_id=details.facilitator_id,
            created_at=now,
        )
    conference.scheduled_at = details.scheduled_at
    conference.location = details.location
    conference.facilitator_id = details.facilitator_id
    conference.supporting_rep_ids = [str(r) for r in details.supporting_rep_ids]
    conference.expected_attendees = list(details.attendees)
    if details.keep_apart_override_reason or not keep_override:
        conference.keep_apart_override_reason = details.keep_apart_override_reason
    conference.keep_apart_checked_by_hand = details.keep_apart_checked_by_hand
    conference.held = None
    session.add(conference)
    await tasks.cancel_open_tasks(
        session, case.id, [TaskKind.CONFERENCE_PREPARATION], reason="The conference was rearranged."
    )
    when = f"{details.scheduled_at:%Y-%m-%d %H:%M}"
    tasks.new_task(
        session,
        case=case,
        prison_id=case.prison_id,
        kind=TaskKind.CONFERENCE_PREPARATION,
        due_at=max(details.scheduled_at - timedelta(days=1), now),
        assignee_type=AssigneeType.PRACTITIONER,
        assignee_id=details.facilitator_id,
        instructions=(
            f"Prepare the conference for {case.reference} at {details.location} on "
            f"{when}: brief each party and the supporting reps."
        ),
        now=now,
    )
    for rep_id in details.supporting_rep_ids:
        tasks.new_task(
            session,
            case=case,
            prison_id=case.prison_id,
            kind=TaskKind.CONFERENCE_PREPARATION,
            due_at=max(details.scheduled_at - timedelta(hours=2), now),
            assignee_type=AssigneeType.REP,
            assignee_id=rep_id,
            instructions=(
                f"Support the conference for {case.reference} at {details.location} on {when}: "
                "meet the facilitator beforehand and be there at the start."
            ),
            now=now,
        )
    return conference


async def update_arrangements(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, details: ConferenceDetails
) -> Conference:
    """Change the time, place, facilitator, supporting reps or attendees of a scheduled conference.

    The keep-apart rule of `schedule_conference` applies again: non-associations may have been
    recorded since.
    """
    case = bundle.case
    conference = await _arranged(session, case, "conference arrangements change")
    if conference.held:
        raise InvalidStateError("the conference was held; its arrangements can no longer change")
    await tasks.check_assignee(
        session,
        case=case,
        prison_id=case.prison_id,
        assignee_type=AssigneeType.PRACTITIONER,
        assignee_id=details.facilitator_id,
    )
    check_supporting_reps(bundle, details)
    numbers = [p.prisoner_number for p in bundle.parties]
    keep_apart = await keep_apart_between(numbers, numbers)
    keep_apart.checked_by_hand = details.keep_apart_checked_by_hand
    override = details.keep_apart_override_reason or conference.keep_apart_override_reason
    if not keep_apart_allows(keep_apart, override):
        raise KeepApartError(
            (
                f"an open non-association keeps the parties apart ({keep_apart.detail}); "
                "a practitioner may override with keepApartOverrideReason"
            )
            if keep_apart.status == "conflict"
            else f"{keep_apart.detail}: check non-associations by hand and send keepApartCheckedByHand",
            extra={"keepApart": keep_apart.status},
        )
    before = _arrangements(conference)
    await save_arrangements(session, case, details, now=clock.now(), keep_override=True)
    record_case_change(
        session,
        ctx,
        case,
        action="conference.arranged",
        entity_type="conference",
        entity_id=conference.id,
        before=before,
        after={
            **_arrangements(conference),
            "keepApart": keep_apart.status,
            "keepApartDetail": keep_apart.detail,
        },
    )
    return conference


async def record_outcome(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, body: ConferenceOutcome
) -> Conference:
    """Whether the conference was held, who attended, and what was agreed: an agreement stands
    only when every party taking part who attended agreed to it."""
    case = bundle.case
    conference = await _arranged(session, case, "a conference outcome is recorded")
    if conference.held:
        raise InvalidStateError("the outcome of this conference is already recorded")
    if not body.held and body.agreement:
        raise ValidationFailedError.on("agreement", "nothing can be agreed at a conference that was not held")
    known = {p.id for p in bundle.parties}
    strangers = [str(p) for p in body.attended_party_ids if p not in known]
    if strangers:
        raise ValidationFailedError.on(
            "attendedPartyIds", f"not parties to {case.reference}: " + ", ".join(strangers)
        )
    if body.agreement and not body.attended_party_ids:
        raise ValidationFailedError.on(
            "attendedPartyIds", "say which parties attended: the agreement needs each one's agreement"
        )
    if body.agreement:
        agreements.check_agreement(
            bundle,
            body.agreement,
            body.agreed_by,
            attended=set(body.attended_party_ids),
            items_field="agreement",
        )
    elif body.agreed_by:
        raise ValidationFailedError.on("agreedBy", "nothing was agreed: agreedBy goes with an agreement")
    now = clock.now()
    conference.held = body.held
    conference.attendees = list(body.attendees)
    conference.attended_party_ids = [str(p) for p in dict.fromkeys(body.attended_party_ids)]
    conference.outcome_recorded_at = now
    session.add(conference)
    after: dict[str, Any] = {
        "held": body.held,
        "attendees": body.attendees,
        "attendedPartyIds": conference.attended_party_ids,
        "notes": body.notes,
        "agreement": [],
    }
    if body.agreement:
        agreement, items = await agreements.add_agreement(
            session,
            bundle,
            made_in=CaseState.CONFERENCE,
            conference_id=conference.id,
            items=body.agreement,
            agreed_by=body.agreed_by,
            now=now,
        )
        after.update(agreements.agreement_record(agreement, items))
    # Held or not, this arrangement's preparation is over; a new one brings new tasks.
    await tasks.cancel_open_tasks(
        session,
        case.id,
        [TaskKind.CONFERENCE_PREPARATION],
        reason="The conference's outcome was recorded.",
    )
    record_case_change(
        session,
        ctx,
        case,
        action="conference.outcome_recorded",
        entity_type="conference",
        entity_id=conference.id,
        after=after,
    )
    if body.notes:
        # Read back with the case's other notes, not only from the audit trail.
        await notes.write_note(session, ctx, case, text=body.notes, kind=NoteKind.CONFERENCE)
    return conference


async def present_conference(
    session: AsyncSession, principal: Principal, conference: Conference
) -> ConferencePublic:
    """The conference and its agreement, without keep-apart decisions for reps."""
    rows = await session.execute(
        select(AgreementItem)
        .where(col(AgreementItem.conference_id) == conference.id)
        .order_by(col(AgreementItem.position))
    )
    agreement = (
        await session.execute(select(Agreement).where(col(Agreement.conference_id) == conference.id))
    ).scalar_one_or_none()
    return ConferencePublic(
        id=conference.id,
        case_id=conference.case_id,
        scheduled_at=conference.scheduled_at,
        location=conference.location,
        facilitator_id=conference.facilitator_id,
        supporting_rep_ids=[uuid.UUID(r) for r in conference.supporting_rep_ids],
        attendees=conference.expected_attendees,
        held=conference.held,
        attended_by=conference.attendees,
        outcome_recorded_at=conference.outcome_recorded_at,
        keep_apart=KeepApartDecision(
            override_reason=conference.keep_apart_override_reason,
            checked_by_hand=conference.keep_apart_checked_by_hand,
        )
        if sees_keep_apart_details(principal)
        else None,
        attended_party_ids=[uuid.UUID(p) for p in conference.attended_party_ids],
        agreement=[AgreementItemPublic.model_validate(i) for i in rows.scalars()],
        agreed_by=agreements.agreed_by_of(agreement),
    )
