"""Changing cases: details, parties, consents, assignment, and moving through the workflow."""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import next_case_record, record_case_change
from app.auth.service import is_practitioner_in
from app.cases import moves
from app.cases import repository as repo
from app.cases.models import Case, CaseRep, Consent, Party
from app.cases.repository import CaseBundle
from app.cases.schemas import CasePatch, ConferenceDetails, ConsentCreate, PartyCreate, TransitionRequest
from app.common.enums import (
    CaseState,
    DeclineReason,
    Outcome,
    RepStatus,
    Role,
    TaskKind,
    Trigger,
)
from app.conferences import service as conferences
from app.config import get_settings
from app.context import SYSTEM, RequestContext
from app.errors import (
    AssignmentRefusedError,
    ConflictError,
    ForbiddenError,
    GuardFailedError,
    InvalidStateError,
    NotFoundError,
    TransitionNotAllowedError,
    ValidationFailedError,
    VersionMismatchError,
)
from app.events.service import CASE_CLOSED, CASE_STATE_CHANGED, case_event_values
from app.letters.service import withhold_undelivered
from app.nonassociations.service import keep_apart_between
from app.reps.models import Rep
from app.safeguarding.models import SafeguardingConcern
from app.tasks import service as tasks
from app.workflows import case_workflow as wf

CLOSED_OUTCOME_FOR_DECLINE = {
    DeclineReason.UNSUITABLE: Outcome.UNSUITABLE,
    DeclineReason.DUPLICATE: Outcome.UNSUITABLE,
    DeclineReason.OUT_OF_SCOPE: Outcome.UNSUITABLE,
    DeclineReason.PARTIES_UNAVAILABLE: Outcome.WITHDRAWN,
    DeclineReason.CONSENT_REFUSED: Outcome.WITHDRAWN,
}

# States in which a case counts against a rep's limit of active cases.
ACTIVE_STATES = [s.value for s in CaseState if s != CaseState.CLOSED]


def snapshot(case: Case) -> dict[str, Any]:
    """The case's own fields as the audit trail records them."""
    return {
        "state": case.state,
        "version": case.version,
        "category": case.category,
        "summary": case.summary,
        "riskLevel": case.risk_level,
        "riskNotes": case.risk_notes,
        "facilitator": case.facilitator,
        "outcome": case.outcome,
        "practitionerId": case.practitioner_id,
        "previousState": case.previous_state,
        "pausedUntil": case.paused_until,
    }


def check_version(case: Case, expected: int | None) -> None:
    """Refuse with 412 when the client's version is stale."""
    if expected is not None and expected != case.version:
        raise VersionMismatchError(
            f"the case is at version {case.version}, not {expected}; fetch it again",
            extra={"currentVersion": case.version},
        )


async def _touch(session: AsyncSession, case: Case) -> None:
    await repo.bump_version(session, case, clock.now())


async def patch_case(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case,
    patch: CasePatch,
    *,
    expected_version: int,
) -> Case:
    """Change summary, category, risk or facilitator, keeping the before and after."""
    check_version(case, expected_version)
    changes = patch.model_dump(exclude_unset=True)
    if not changes:
        raise ValidationFailedError("nothing to change: give at least one field")
    if case.state == CaseState.CLOSED:
        raise InvalidStateError("a closed case cannot be changed; reopen it first")
    before = snapshot(case)
    for name, value in changes.items():
        setattr(case, name, value.value if hasattr(value, "value") else value)
    await _touch(session, case)
    after = snapshot(case)
    record_case_change(
        session,
        ctx,
        case,
        action="case.updated",
        before={k: before[k] for k in before if before[k] != after[k] and k != "version"},
        after={k: after[k] for k in after if before[k] != after[k] and k != "version"},
    )
    return case


async def add_party(session: AsyncSession, ctx: RequestContext, case: Case, body: PartyCreate) -> Party:
    """Add a prisoner to the conflict."""
    if case.state == CaseState.CLOSED:
        raise InvalidStateError("a closed case cannot be changed; reopen it first")
    existing = await session.execute(
        select(col(Party.id)).where(
            col(Party.case_id) == case.id, col(Party.prisoner_number) == body.prisoner_number
        )
    )
    if existing.first() is not None:
        raise ConflictError(f"{body.prisoner_number} is already a party to {case.reference}")
    party = Party(
        case_id=case.id,
        prisoner_number=body.prisoner_number,
        first_name=body.first_name,
        last_name=body.last_name,
        role=body.role.value,
        location=body.location,
        created_at=clock.now(),
    )
    session.add(party)
    await _touch(session, case)
    record_case_change(
        session,
        ctx,
        case,
        action="party.added",
        entity_type="party",
        entity_id=party.id,
        after=party_snapshot(party),
    )
    return party


def party_snapshot(party: Party) -> dict[str, Any]:
    """A party as the audit trail records it."""
    return {
        "prisonerNumber": party.prisoner_number,
        "firstName": party.first_name,
        "lastName": party.last_name,
        "role": party.role,
        "location": party.location,
    }


async def record_consent(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, party_id: uuid.UUID, body: ConsentCreate
) -> Consent:
    """Append to the consent ledger; a withdrawal is a consent with `given: false`."""
    case = bundle.case
    party = next((p for p in bundle.parties if p.id == party_id), None)
    if party is None:
        raise NotFoundError(f"no party {party_id} on case {case.reference}")
    if case.state == CaseState.CLOSED:
        raise InvalidStateError("a closed case cannot be changed; reopen it first")
    consent = Consent(
        case_id=case.id,
        party_id=party.id,
        scope=body.scope.value,
        given=body.given,
        method=body.method.value,
        recorded_by=body.recorded_by,
        recorded_by_client_id=ctx.principal.client_id,
        recorded_at=clock.now(),
    )
    await _touch(session, case)
    record = record_case_change(
        session,
        ctx,
        case,
        action="consent.recorded",
        entity_type="consent",
        entity_id=consent.id,
        after={
            "partyId": party.id,
            "party": f"{party.first_name} {party.last_name}",
            "scope": consent.scope,
            "given": consent.given,
            "method": consent.method,
            "recordedBy": consent.recorded_by,
        },
    )
    consent.audit_seq = record.seq
    session.add(consent)
    return consent


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
    keep_apart: dict[str, str] = {}
    for rep_id in newly:
        keep_apart[str(rep_id)] = await _check_rep(
            session, case, bundle, rep_id, checked_by_hand=keep_apart_checked_by_hand
        )
    before = {"practitionerId": case.practitioner_id, "repIds": sorted(map(str, bundle.rep_ids))}
    previous_reps = list(bundle.rep_ids)
    if practitioner_id is not None:
        case.practitioner_id = practitioner_id
    await repo.set_reps(session, case.id, rep_ids)
    bundle.rep_ids = sorted(rep_ids)
    handed_over = await tasks.hand_over(session, case, before=previous_reps, after=bundle.rep_ids)
    await _touch(session, case)
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
    session: AsyncSession, case: Case, bundle: CaseBundle, rep_id: uuid.UUID, *, checked_by_hand: bool
) -> str:
    """Refuse a rep who may not take the case; say how keep-apart was settled ("clear" or
    "checked by hand")."""
    rep = await session.get(Rep, rep_id)
    if rep is None:
        raise AssignmentRefusedError(
            f"no rep {rep_id}", extra={"refusal": "unknown_rep", "repId": str(rep_id)}
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


# --- the workflow ---------------------------------------------------------------------------


async def _guard_context(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    body: TransitionRequest | None,
    needed: set[str],
) -> wf.GuardContext:
    case = bundle.case
    settings = get_settings()
    g = wf.GuardContext(
        state=CaseState(case.state),
        role=ctx.principal.role,
        now=clock.now(),
        risk_level=case.risk_level,
        facilitator=case.facilitator,
        party_ids=[p.id for p in bundle.parties],
        consents={key: c.given for key, c in bundle.consents.items()},
        rep_max_pause=timedelta(hours=settings.rep_max_pause_hours),
        purged=case.purged_at is not None,
    )
    if body is not None:
        g.reason, g.outcome, g.until, g.party_id = (
            body.reason,
            body.outcome,
            body.until,
            body.party_id,
        )
        if body.conference is not None:
            g.conference = wf.ConferenceInput(
                scheduled_at=body.conference.scheduled_at,
                location=body.conference.location,
                facilitator_id=body.conference.facilitator_id,
                facilitator_is_practitioner=body.conference.facilitator_id is not None
                and await is_practitioner_in(session, body.conference.facilitator_id, case.prison_id),
                keep_apart_override_reason=body.conference.keep_apart_override_reason,
            )
    if "conference_held_if_conference" in needed:
        conference = await conferences.get_conference(session, case.id)
        g.conference_held = bool(conference and conference.held)
    if "no_open_non_association" in needed:
        numbers = [p.prisoner_number for p in bundle.parties]
        g.keep_apart = await keep_apart_between(numbers, numbers)
        if body is not None and body.conference is not None:
            g.keep_apart.checked_by_hand = body.conference.keep_apart_checked_by_hand
    if "no_open_wellbeing_check" in needed:
        g.open_wellbeing_checks = await tasks.open_wellbeing_checks(session, case.id)
    if "no_open_safeguarding_concern" in needed:
        g.open_safeguarding_concerns = await open_concerns(session, case.id)
    return g


async def open_concerns(session: AsyncSession, case_id: uuid.UUID) -> int:
    """How many safeguarding concerns on the case are still open."""
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(SafeguardingConcern)
                .where(
                    col(SafeguardingConcern.case_id) == case_id,
                    col(SafeguardingConcern.status) == "open",
                )
            )
        ).scalar_one()
    )


def _may_fire(ctx: RequestContext, transition: wf.Transition) -> bool:
    if transition.automatic and ctx.principal is SYSTEM:
        return True
    return ctx.principal.role in transition.who


async def transition_options(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle
) -> list[tuple[wf.Transition, list[wf.Guard]]]:
    """Each trigger the caller could fire from the current state, with the guards it fails now."""
    state = CaseState(bundle.case.state)
    candidates = [t for t in wf.TABLE if state in t.sources and _may_fire(ctx, t)]
    needed = {g for t in candidates for g in t.guards}
    g = await _guard_context(session, ctx, bundle, None, needed)
    options = []
    for t in candidates:
        unmet = wf.unmet_guards(t, g)
        # Guards about the request body cannot be judged before it is sent.
        unmet = [u for u in unmet if u.name not in BODY_GUARDS]
        options.append((t, unmet))
    return options


BODY_GUARDS = frozenset(
    {
        "decline_reason_valid",
        "conclude_outcome_valid",
        "withdrawing_party_named",
        "until_given",
        "reason_given",
        "rep_pause_within_limit",
        "conference_details_given",
    }
)


async def fire_transition(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    body: TransitionRequest,
    *,
    expected_version: int | None,
) -> Case:
    """Fire a trigger: check table, role and guards, move, then audit, event and tasks."""
    case = bundle.case
    check_version(case, expected_version)
    transition = wf.BY_TRIGGER[body.trigger.value]
    if not _may_fire(ctx, transition):
        raise ForbiddenError(f"the {ctx.principal.role.value} role may not {transition.trigger}")
    state = CaseState(case.state)
    if state not in transition.sources:
        allowed = wf.allowed_from(state)
        raise TransitionNotAllowedError(
            f"{transition.trigger} is not allowed from {state.value}; allowed: "
            + (", ".join(allowed) or "none"),
            extra={"state": state.value, "allowedTriggers": allowed},
        )
    if transition.trigger == Trigger.SCHEDULE_CONFERENCE and body.conference is not None:
        conferences.check_supporting_reps(bundle, body.conference)
    g = await _guard_context(session, ctx, bundle, body, set(transition.guards))
    unmet = wf.unmet_guards(transition, g)
    if unmet:
        raise GuardFailedError(
            f"{transition.trigger} refused: " + "; ".join(u.description for u in unmet),
            extra={"unmetGuards": [{"name": u.name, "description": u.description} for u in unmet]},
        )
    await _apply(session, ctx, bundle, transition, body)
    return case


async def _apply(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    transition: wf.Transition,
    body: TransitionRequest,
) -> None:
    case = bundle.case
    now = clock.now()
    before = snapshot(case)
    trigger = Trigger(transition.trigger)
    _before_move(ctx, case, trigger, body, now)

    written: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def on_change(name: str, source: str, dest: str) -> None:
        case.state = dest
        if trigger == Trigger.RESUME:
            case.previous_state, case.paused_until, case.pause_reason = None, None, None
        case.version += 1
        case.updated_at = now
        after = snapshot(case)
        record = next_case_record(
            ctx,
            case,
            action=f"case.{name}",
            before=before,
            after={**after, "trigger": name, **_request_details(body)},
        )
        closing = dest == CaseState.CLOSED
        event = case_event_values(
            case,
            event_type=CASE_CLOSED if closing else CASE_STATE_CHANGED,
            description=(
                f"Restorative justice case {case.reference} was closed"
                if closing
                else f"Restorative justice case {case.reference} moved from {source} to {dest}"
            ),
            prisoner_numbers=[p.prisoner_number for p in bundle.parties],
            extra={"previousState": source, "trigger": name, "outcome": case.outcome},
        )
        written.append((record, event))

    wf.fire(wf.CaseFlow(case.state, case.previous_state, on_change), transition.trigger)
    for record, event in written:
        await moves.save_move(session, case, record, event)
    await _after_move(session, ctx, bundle, trigger, body, now)


def _request_details(body: TransitionRequest) -> dict[str, Any]:
    details = body.model_dump(exclude={"trigger"}, exclude_none=True, by_alias=True)
    return details


def _before_move(
    ctx: RequestContext, case: Case, trigger: Trigger, body: TransitionRequest, now: Any
) -> None:
    T = Trigger
    if trigger == T.ACCEPT and case.practitioner_id is None and ctx.principal.role == Role.PRACTITIONER:
        case.practitioner_id = ctx.principal.client_id
    elif trigger == T.DECLINE:
        reason = DeclineReason(body.reason or "")
        case.decline_reason = reason.value
        case.outcome = CLOSED_OUTCOME_FOR_DECLINE[reason].value
        case.closed_at = now
    elif trigger == T.CONCLUDE:
        case.outcome = body.outcome
        case.concluded_at = now
    elif trigger == T.WITHDRAW:
        case.outcome = Outcome.WITHDRAWN.value
        case.concluded_at = now
    elif trigger == T.PAUSE:
        case.previous_state = case.state
        case.paused_until = body.until
        case.pause_reason = body.reason
    elif trigger == T.CLOSE:
        case.closed_at = now
    elif trigger == T.REOPEN:
        case.outcome, case.decline_reason, case.closed_at, case.concluded_at = (
            None,
            None,
            None,
            None,
        )


async def _after_move(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    trigger: Trigger,
    body: TransitionRequest,
    now: Any,
) -> None:
    T = Trigger
    case = bundle.case
    settings = get_settings()
    if trigger == T.ACCEPT:
        tasks.schedule_assessment_visits(
            session, case=case, parties=bundle.parties, rep_ids=bundle.rep_ids, now=now
        )
    elif trigger in (T.CONCLUDE, T.WITHDRAW):
        await tasks.cancel_open_tasks(
            session,
            case.id,
            [TaskKind.SHUTTLE_VISIT, TaskKind.CONFERENCE_PREPARATION, TaskKind.ASSESSMENT_VISIT],
        )
        if trigger == T.WITHDRAW:
            await withhold_undelivered(session, ctx, case)
        tasks.schedule_wellbeing_checks(
            session,
            case=case,
            parties=bundle.parties,
            rep_ids=bundle.rep_ids,
            offsets_hours=settings.wellbeing_check_offsets_hours,
            now=now,
        )
    elif trigger == T.SCHEDULE_CONFERENCE and body.conference is not None:
        # The conference_details_given guard has passed: every arrangement is there.
        details = ConferenceDetails.model_validate(body.conference.model_dump())
        await conferences.save_arrangements(session, case, details, now=now)


async def consent_history(session: AsyncSession, case: Case, party_id: uuid.UUID) -> list[Consent]:
    """A party's whole consent ledger, oldest first."""
    party = await session.get(Party, party_id)
    if party is None or party.case_id != case.id:
        raise NotFoundError(f"no party {party_id} on case {case.reference}")
    rows = await session.execute(
        select(Consent).where(col(Consent.party_id) == party_id).order_by(col(Consent.audit_seq))
    )
    return list(rows.scalars())
