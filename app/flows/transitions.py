"""Moving a case through the workflow: what the caller may fire, the guards, the move with its
audit record and event, and the work that follows some moves (tasks, letters, a conference).

Most moves need nothing but the case bundle: their guards look only at the case and the
request, and nothing follows them. Such a move of the case alone (`moves_case_alone`) is checked
and planned here without touching a store (`plan_case_move`), then written on the request's
connection, on either backend (`fire`). Any other move loads what its guards need and does what
follows it through the session (`fire_transition`).
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import next_case_record
from app.auth.practitioners import is_practitioner_in
from app.cases import moves
from app.cases.parties import follow_up_after_withdrawal, responsible
from app.cases.repository import CaseBundle
from app.cases.schemas import ConferenceDetails, ConferenceProposal, TransitionRequest
from app.cases.service import check_version, snapshot, take_out, visible_case
from app.common.enums import CaseState, DeclineReason, NoteKind, Outcome, Role, Trigger
from app.conferences import agreements
from app.conferences import service as conferences
from app.config import get_settings
from app.context import SYSTEM, RequestContext
from app.db import Conn, Unit
from app.errors import ForbiddenError, GuardFailedError, TransitionNotAllowedError, ValidationFailedError
from app.events.service import CASE_CLOSED, CASE_PARTY_WITHDRAWN, CASE_STATE_CHANGED, case_event_values
from app.letters.service import withhold_undelivered
from app.models.cases import Party
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task
from app.nonassociations.service import keep_apart_between
from app.notes import service as notes
from app.tasks import service as tasks
from app.workflows import case_workflow as wf
from app.workflows import ended_work
from app.workflows.pairing import participating

CLOSED_OUTCOME_FOR_DECLINE = {
    DeclineReason.UNSUITABLE: Outcome.UNSUITABLE,
    DeclineReason.DUPLICATE: Outcome.UNSUITABLE,
    DeclineReason.OUT_OF_SCOPE: Outcome.UNSUITABLE,
    DeclineReason.PARTIES_UNAVAILABLE: Outcome.WITHDRAWN,
    DeclineReason.CONSENT_REFUSED: Outcome.WITHDRAWN,
}

# Guards about the request body: they cannot be judged before it is sent.
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

# A move's planned writes: its audit record and its outbound event, one pair per state entered.
Planned = list[tuple[dict[str, Any], dict[str, Any]]]


def may_fire(ctx: RequestContext, transition: wf.Transition) -> bool:
    """Whether the caller's role may fire `transition` (the system fires automatic ones)."""
    if transition.automatic and ctx.principal is SYSTEM:
        return True
    return ctx.principal.role in transition.who


# --- the guards --------------------------------------------------------------------------------


def case_guards(ctx: RequestContext, bundle: CaseBundle) -> wf.GuardContext:
    """What the guards read from the case bundle as it is now (no request body)."""
    return _case_guards(ctx, bundle, None)


def _case_guards(ctx: RequestContext, bundle: CaseBundle, body: TransitionRequest | None) -> wf.GuardContext:
    """What every guard may read from the case bundle and the request. Only the parties still
    taking part count."""
    case = bundle.case
    taking_part = participating(bundle.parties)
    state = CaseState(case.state)
    g = wf.GuardContext(
        state=state,
        role=ctx.principal.role,
        now=clock.now(),
        paused_from=CaseState(case.previous_state)
        if state == CaseState.ON_HOLD and case.previous_state
        else None,
        risk_level=case.risk_level,
        facilitator=case.facilitator,
        party_ids=[p.id for p in taking_part],
        roles={p.id: p.role for p in taking_part},
        consents={
            key: wf.consent_counts(c.scope, c.given, c.method, c.recorded_by_role)
            for key, c in bundle.consents.items()
        },
        responsible_ids=[p.id for p in responsible(taking_part)],
        acknowledged={party_id: e.acknowledged for party_id, e in bundle.responsibility.items()},
        rep_max_pause=timedelta(hours=get_settings().rep_max_pause_hours),
        purged=case.purged_at is not None,
    )
    if body is not None:
        g.reason, g.outcome, g.until, g.party_id = body.reason, body.outcome, body.until, body.party_id
        g.monitoring = body.monitoring
    return g


def refuse_unmet_gates(
    action: wf.Action,
    ctx: RequestContext,
    bundle: CaseBundle,
    party_id: Any = None,
    *,
    refused: str | None = None,
    risk_level: str | None = None,
    facilitator: str | None = None,
) -> None:
    """Refuse (409 `GUARD_FAILED`) `action` on the case when the gates it depends on
    (`case_workflow.ACTION_GATES`), judged now for the party `party_id`, are not all met: the
    same guards, judged the same way, as a move's. `risk_level` and `facilitator` judge the case
    as a change would leave it."""
    g = _case_guards(ctx, bundle, None)
    g.party_id = party_id
    if risk_level is not None:
        g.risk_level = risk_level
    if facilitator is not None:
        g.facilitator = facilitator
    _refuse(wf.unmet(wf.ACTION_GATES[action], g), refused or wf.ACTION_WORDS[action])


async def _conference_input(
    session: AsyncSession, prison_id: str, proposal: ConferenceProposal
) -> wf.ConferenceInput:
    return wf.ConferenceInput(
        scheduled_at=proposal.scheduled_at,
        location=proposal.location,
        facilitator_id=proposal.facilitator_id,
        facilitator_is_practitioner=proposal.facilitator_id is not None
        and await is_practitioner_in(session, proposal.facilitator_id, prison_id),
        keep_apart_override_reason=proposal.keep_apart_override_reason,
    )


StoredGuard = Callable[[AsyncSession, CaseBundle, TransitionRequest | None, wf.GuardContext], Awaitable[None]]


async def _conference_held(
    session: AsyncSession, bundle: CaseBundle, _body: TransitionRequest | None, g: wf.GuardContext
) -> None:
    conference = await conferences.get_conference(session, bundle.case.id)
    g.conference_held = bool(conference and conference.held)


async def _keep_apart(
    _session: AsyncSession, bundle: CaseBundle, body: TransitionRequest | None, g: wf.GuardContext
) -> None:
    numbers = [p.prisoner_number for p in participating(bundle.parties)]
    g.keep_apart = await keep_apart_between(numbers, numbers)
    if body is not None and body.conference is not None:
        g.keep_apart.checked_by_hand = body.conference.keep_apart_checked_by_hand


async def _wellbeing_checks(
    session: AsyncSession, bundle: CaseBundle, _body: TransitionRequest | None, g: wf.GuardContext
) -> None:
    g.open_wellbeing_checks = await tasks.open_wellbeing_checks(session, bundle.case.id)


async def _safeguarding_concerns(
    session: AsyncSession, bundle: CaseBundle, _body: TransitionRequest | None, g: wf.GuardContext
) -> None:
    g.open_safeguarding_concerns = await open_concerns(session, bundle.case.id)


async def _pending_agreement_items(
    session: AsyncSession, bundle: CaseBundle, _body: TransitionRequest | None, g: wf.GuardContext
) -> None:
    g.pending_agreement_items = await agreements.pending_items(session, bundle.case.id)


# Guards judged from other records or another system, each with what loads what it reads.
STORED_GUARDS: dict[str, StoredGuard] = {
    "conference_held_if_conference": _conference_held,
    "no_open_non_association": _keep_apart,
    "no_open_wellbeing_check": _wellbeing_checks,
    "no_open_safeguarding_concern": _safeguarding_concerns,
    "agreement_settled_or_monitored": _pending_agreement_items,
}


async def _guard_context(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    body: TransitionRequest | None,
    needed: set[str],
) -> wf.GuardContext:
    g = _case_guards(ctx, bundle, body)
    if body is not None and body.conference is not None:
        g.conference = await _conference_input(session, bundle.case.prison_id, body.conference)
    for name, load in STORED_GUARDS.items():
        if name in needed:
            await load(session, bundle, body, g)
    return g


async def open_concerns(session: AsyncSession, case_id: Any) -> int:
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


async def transition_options(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle
) -> list[tuple[wf.Transition, list[wf.Guard]]]:
    """Each trigger the caller could fire from the current state, with the guards it fails now."""
    state = CaseState(bundle.case.state)
    candidates = [t for t in wf.TABLE if state in t.sources and may_fire(ctx, t)]
    needed = {g for t in candidates for g in t.guards}
    g = await _guard_context(session, ctx, bundle, None, needed)
    return [(t, [u for u in wf.unmet_guards(t, g) if u.name not in BODY_GUARDS]) for t in candidates]


# --- firing ------------------------------------------------------------------------------------


def _checked(
    ctx: RequestContext,
    bundle: CaseBundle,
    body: TransitionRequest,
    expected_version: int | None,
    *,
    by_system: bool = False,
) -> wf.Transition:
    """The transition `body` fires, if the case's version, the caller's role and the case's state
    allow it (412, 403, 409 otherwise). `by_system`: the service fires it on a change the caller
    made, whatever their role."""
    case = bundle.case
    check_version(case, expected_version)
    transition = wf.BY_TRIGGER[body.trigger.value]
    if body.monitoring is not None and transition.trigger != Trigger.CLOSE:
        raise ValidationFailedError.on("monitoring", "monitoring goes with close only")
    if not (by_system and transition.by_system) and not may_fire(ctx, transition):
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
    return transition


def _refuse_unmet(transition: wf.Transition, g: wf.GuardContext) -> None:
    _refuse(wf.unmet_guards(transition, g), f"{transition.trigger} refused")


def _refuse(unmet: list[wf.Guard], refused: str) -> None:
    if unmet:
        raise GuardFailedError(
            f"{refused}: " + "; ".join(u.description for u in unmet),
            extra={"unmetGuards": [{"name": u.name, "description": u.description} for u in unmet]},
        )


async def fire_transition(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    body: TransitionRequest,
    *,
    expected_version: int | None,
    by_system: bool = False,
) -> None:
    """Fire a trigger: check table, role and guards, move (or, where the table says so, stay),
    then audit, event, the work the move ends and what follows. `by_system`: fired by the
    service on a change the caller made (see `_checked`)."""
    transition = _checked(ctx, bundle, body, expected_version, by_system=by_system)
    g = await _guard_context(session, ctx, bundle, body, set(transition.guards))
    _refuse_unmet(transition, g)
    now = clock.now()
    stays = wf.stays(transition, g)
    dest = (
        CaseState(bundle.case.state) if stays else wf.destination(transition, bundle.case.previous_state, g)
    )
    ending = await _work_ending(session, bundle, transition, body, dest=dest, stays=stays)
    done = {"cancelledTaskIds": [t.id for t, _ in ending.cancelled]} if ending.cancelled else {}
    done.update(_resume_fell_back(bundle, dest, g))
    back = bundle.case.previous_state
    if ending.to_practitioner:
        done["toPractitionerTaskIds"] = [t.id for t in ending.to_practitioner]
    planned = (
        [_stayed(ctx, bundle, transition, body, now, done)]
        if stays
        else _planned(ctx, bundle, transition, body, now, done, dest=dest)
    )
    for record, event in planned:
        await moves.save_move(session, bundle.case, record, event)
    for task, reason in ending.cancelled:
        tasks.cancel(session, [task], reason=reason, now=now)
    tasks.to_practitioner(session, bundle.case, ending.to_practitioner)
    if transition.trigger == Trigger.RESUME:
        await review_fallen_back_resume(session, bundle, back)
    follow_on = FOLLOW_ONS.get(Trigger(transition.trigger))
    if follow_on is not None:
        await follow_on(session, ctx, bundle, body, now)


async def fire(
    unit: Unit, ctx: RequestContext, key: str, body: TransitionRequest, *, expected_version: int | None
) -> CaseBundle:
    """Fire `body`'s trigger on the case `key` (id or reference) in the request's unit of work,
    if the caller may see the case (404 otherwise); the case as it now is. A move of the case
    alone is written on the unit's connection, in a few statements on either backend; any other
    move, and what follows it, through the unit's session."""
    if body.note is not None and body.trigger != Trigger.DECLINE:
        raise ValidationFailedError("note: only a decline takes a note (why the case was declined)")
    if moves_case_alone(body):
        conn = await unit.conn()
        bundle = await visible_case(conn, ctx.principal, key, lock=True)
        back = bundle.case.previous_state
        left = await _left_work(conn, bundle, body)
        done = {"cancelledTaskIds": [task_id for task_id, _ in left]} if left else {}
        now = clock.now()
        for record, event in plan_case_move(ctx, bundle, body, expected_version=expected_version, done=done):
            await moves.write_move(conn, bundle.case, record, event)
        for reason in dict.fromkeys(why for _, why in left):
            await tasks.end_tasks(conn, [t for t, why in left if why == reason], reason=reason, now=now)
        if body.trigger == Trigger.RESUME:
            await review_fallen_back_resume(conn, bundle, back)
        return bundle
    session = await unit.session()
    bundle = await visible_case(session, ctx.principal, key, lock=True)
    await fire_transition(session, ctx, bundle, body, expected_version=expected_version)
    return bundle


@dataclass(slots=True)
class _Ending:
    """The open tasks a move ends (each with the reason it records), and those that outlive it
    but no rep may keep."""

    cancelled: list[tuple[Task, str]] = field(default_factory=list)
    to_practitioner: list[Task] = field(default_factory=list)


async def _work_ending(
    session: AsyncSession,
    bundle: CaseBundle,
    transition: wf.Transition,
    body: TransitionRequest,
    *,
    dest: CaseState,
    stays: bool,
) -> _Ending:
    """What the move ends, by the table of ended work (`app.workflows.ended_work`)."""
    case = bundle.case
    ending = _Ending()
    seen: set[Any] = set()
    for row in ended_work.ended_by(transition.trigger, moved=not stays):
        party_id = body.party_id if row.whose == ended_work.Whose.PARTY else None
        for task in await tasks.open_tasks(session, case.id, row.kinds, party_id=party_id):
            if task.id not in seen:
                seen.add(task.id)
                ending.cancelled.append((task, row.reason))
    for row in ended_work.ended_leaving(transition.trigger, CaseState(case.state)):
        if await _applies(session, row, bundle, body):
            for task in await tasks.open_tasks(session, case.id, row.kinds):
                if task.id not in seen:
                    seen.add(task.id)
                    ending.cancelled.append((task, row.reason))
    if dest in ended_work.NO_REP_WORK:
        ending.to_practitioner = [t for t in await tasks.open_rep_work(session, case.id) if t.id not in seen]
    return ending


async def _applies(
    conn: Conn, row: ended_work.EndedWork, bundle: CaseBundle, body: TransitionRequest
) -> bool:
    """Whether a row of ended work that applies on leaving a state holds for this move."""
    if not row.if_pause_outlasts_meeting:
        return True
    when = await conferences.scheduled_at(conn, bundle.case.id)
    return when is not None and body.until is not None and body.until >= when


async def _left_work(conn: Conn, bundle: CaseBundle, body: TransitionRequest) -> list[tuple[uuid.UUID, str]]:
    """The open tasks a move of the case alone ends because it leaves the case's state (the
    rows of `ended_work.ended_leaving`), each with its reason, on either handle."""
    left: list[tuple[uuid.UUID, str]] = []
    for row in ended_work.ended_leaving(body.trigger.value, CaseState(bundle.case.state)):
        if await _applies(conn, row, bundle, body):
            ids = await tasks.open_task_ids(conn, bundle.case.id, row.kinds)
            left += [(task_id, row.reason) for task_id in ids if task_id not in {t for t, _ in left}]
    return left


def moves_case_alone(body: TransitionRequest) -> bool:
    """Whether firing `body` needs nothing beyond the case bundle: no guard judged from other
    records, no conference proposal to check, nothing to do after the move but end the tasks of
    the state it leaves (`ended_work.ended_leaving`)."""
    transition = wf.BY_TRIGGER[body.trigger.value]
    return (
        body.conference is None
        and not any(name in STORED_GUARDS for name in transition.guards)
        and Trigger(transition.trigger) not in FOLLOW_ONS
        and not ended_work.ends_work(transition.trigger, transition.dest)
    )


def plan_case_move(
    ctx: RequestContext,
    bundle: CaseBundle,
    body: TransitionRequest,
    *,
    expected_version: int | None,
    done: dict[str, Any] | None = None,
) -> Planned:
    """A move of the case alone (`moves_case_alone(body)`), checked and made on the bundle's
    case: the audit records and events it must write with the case, in order (the same checks
    and changes as `fire_transition`; `done`: what else the move does, for its audit record)."""
    if not moves_case_alone(body):
        raise ValueError(f"{body.trigger.value} with this body needs more than the case")
    transition = _checked(ctx, bundle, body, expected_version)
    g = _case_guards(ctx, bundle, body)
    _refuse_unmet(transition, g)
    dest = wf.destination(transition, bundle.case.previous_state, g)
    done = {**(done or {}), **_resume_fell_back(bundle, dest, g)}
    return _planned(ctx, bundle, transition, body, clock.now(), done, dest=dest)


def _resume_fell_back(bundle: CaseBundle, dest: CaseState, g: wf.GuardContext) -> dict[str, Any]:
    """What the audit record says when `resume` went to assessment instead of the state paused
    from: the gates of that state no longer met."""
    back = bundle.case.previous_state
    if bundle.case.state != CaseState.ON_HOLD or back is None or dest != CaseState.ASSESSMENT:
        return {}
    if CaseState(back) not in wf.RESUME_GATES:
        return {}
    return {"unmetResumeGates": [u.name for u in wf.unmet(wf.RESUME_GATES[CaseState(back)], g)]}


async def review_fallen_back_resume(conn: Conn, bundle: CaseBundle, back: str | None) -> None:
    """An urgent review when `resume` could not go back to `back` (the case is in assessment)."""
    case = bundle.case
    if back is None or case.state == back or case.state != CaseState.ASSESSMENT:
        return
    await tasks.add_practitioner_review(
        conn,
        case=case,
        why=(
            f"Urgent: {case.reference} could not resume {back.replace('_', ' ')} after cooling off: "
            "what that stage needs (consent, risk or responsibility) no longer holds, so it is back in "
            "assessment. Review it with the parties."
        ),
        now=clock.now(),
    )


def _planned(
    ctx: RequestContext,
    bundle: CaseBundle,
    transition: wf.Transition,
    body: TransitionRequest,
    now: datetime,
    done: dict[str, Any] | None = None,
    *,
    dest: CaseState | None = None,
) -> Planned:
    """Move the bundle's case; the audit record and event of each state it enters (the record
    also names what else the move `done`: the tasks it ended, say)."""
    case = bundle.case
    before = snapshot(case)
    trigger = Trigger(transition.trigger)
    _before_move(ctx, case, trigger, body, now)
    planned: Planned = []

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
            after={**after, "trigger": name, **_request_details(body), **(done or {})},
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
        planned.append((record, event))

    chosen = (dest or wf.destination(transition, case.previous_state)).value
    wf.fire(wf.CaseFlow(case.state, case.previous_state, on_change, chosen), transition.trigger)
    return planned


def _stayed(
    ctx: RequestContext,
    bundle: CaseBundle,
    transition: wf.Transition,
    body: TransitionRequest,
    now: datetime,
    done: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A withdrawal the other parties go on after: the case keeps its state and takes a new
    version (the party is out); its audit record, and the event that says a party left."""
    case = bundle.case
    before = snapshot(case)
    case.version += 1
    case.updated_at = now
    record = next_case_record(
        ctx,
        case,
        action=f"case.{transition.trigger}",
        before=before,
        after={
            **snapshot(case),
            "trigger": transition.trigger,
            **_request_details(body),
            "participating": False,
            **done,
        },
    )
    leaver = _party(bundle, body.party_id)
    event = case_event_values(
        case,
        event_type=CASE_PARTY_WITHDRAWN,
        description=f"A party withdrew from restorative justice case {case.reference}; the case goes on",
        prisoner_numbers=[leaver.prisoner_number],
        extra={"trigger": transition.trigger, "partyId": leaver.id},
    )
    return record, event


def _party(bundle: CaseBundle, party_id: Any) -> Party:
    return next(p for p in bundle.parties if p.id == party_id)


def _request_details(body: TransitionRequest) -> dict[str, Any]:
    return body.model_dump(exclude={"trigger"}, exclude_none=True, by_alias=True)


def _before_move(
    ctx: RequestContext, case: Any, trigger: Trigger, body: TransitionRequest, now: datetime
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
        case.previous_state, case.paused_until, case.pause_reason = None, None, None
    elif trigger == T.PAUSE:
        case.previous_state = case.state
        case.paused_until = body.until
        case.pause_reason = body.reason
    elif trigger == T.CLOSE:
        case.closed_at = now
    elif trigger == T.REOPEN:
        case.outcome, case.decline_reason, case.closed_at, case.concluded_at = None, None, None, None


# --- what follows a move -----------------------------------------------------------------------

FollowOn = Callable[[AsyncSession, RequestContext, CaseBundle, TransitionRequest, datetime], Awaitable[None]]


async def _schedule_assessment(
    session: AsyncSession, _ctx: RequestContext, bundle: CaseBundle, _body: TransitionRequest, now: datetime
) -> None:
    tasks.schedule_assessment_visits(
        session, case=bundle.case, parties=bundle.parties, rep_ids=bundle.rep_ids, now=now
    )


async def _wind_down(
    session: AsyncSession, _ctx: RequestContext, bundle: CaseBundle, _body: TransitionRequest, now: datetime
) -> None:
    """Concluded: the wellbeing checks start for the parties still taking part (those who left
    had theirs from when they withdrew)."""
    _check_on(session, bundle, participating(bundle.parties), now)


async def _withdraw(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, body: TransitionRequest, now: datetime
) -> None:
    """A party withdrew: they are out of the case, with their own wellbeing checks from now. If
    the case ended with it, every letter not yet delivered is withheld and every party still
    taking part is checked on too; if it goes on, only the letters to or from them are."""
    case = bundle.case
    leaver = _party(bundle, body.party_id)
    ended = case.state == CaseState.FOLLOW_UP
    await withhold_undelivered(session, ctx, case, party_id=None if ended else leaver.id)
    await follow_up_after_withdrawal(session, bundle, leaver.id)
    was, leaver = leaver.follow_up, _party(bundle, leaver.id)  # as the bundle now holds them
    if leaver.follow_up != was:
        # Their open tasks follow the new preference, as when a practitioner sets it.
        await tasks.follow_preference(session, ctx, case, leaver, bundle.rep_ids)
    _check_on(session, bundle, participating(bundle.parties) if ended else [leaver], now)
    await take_out(session, bundle, leaver.id)


def _check_on(session: AsyncSession, bundle: CaseBundle, parties: list[Party], now: datetime) -> None:
    tasks.schedule_wellbeing_checks(
        session,
        case=bundle.case,
        parties=parties,
        rep_ids=bundle.rep_ids,
        offsets_hours=get_settings().wellbeing_check_offsets_hours,
        now=now,
    )


async def _arrange_conference(
    session: AsyncSession, _ctx: RequestContext, bundle: CaseBundle, body: TransitionRequest, now: datetime
) -> None:
    if body.conference is not None:
        # The conference_details_given guard has passed: every arrangement is there.
        details = ConferenceDetails.model_validate(body.conference.model_dump())
        await conferences.save_arrangements(session, bundle.case, details, now=now)


async def _explain_decline(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, body: TransitionRequest, _now: datetime
) -> None:
    if body.note is not None:
        await notes.write_note(session, ctx, bundle.case, text=body.note, kind=NoteKind.DECLINE)


# The work that follows a move, by trigger: on records other than the case's own.
FOLLOW_ONS: dict[Trigger, FollowOn] = {
    Trigger.ACCEPT: _schedule_assessment,
    Trigger.DECLINE: _explain_decline,
    Trigger.CONCLUDE: _wind_down,
    Trigger.WITHDRAW: _withdraw,
    Trigger.SCHEDULE_CONFERENCE: _arrange_conference,
}
