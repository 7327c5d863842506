"""Changes that break the stage act at once, in the transaction that records them.

A consent withdrawn, a responsibility retracted or the risk raised is never refused. When the
change leaves the case's stage without what it depends on (the conference's gates in
`conference`, the pairing rule in `shuttle_mediation`), the service calls the work off by the
workflow's `call_off` (its destination decided by the table), and the practitioner gets an
urgent review task. Raising the risk above low while a rep facilitates hands the facilitation
to the practitioner.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.audit.service import record_case_change
from app.cases import responsibility
from app.cases import service as cases
from app.cases.parties import party_of
from app.cases.repository import CaseBundle
from app.cases.schemas import CasePatch, ConsentCreate, ResponsibilityCreate, TransitionRequest
from app.common.enums import AssigneeType, CaseState, Facilitator, RiskLevel, Role, TaskKind, Trigger
from app.conferences import service as conferences
from app.context import RequestContext
from app.flows.transitions import case_guards, fire_transition, refuse_unmet_gates
from app.letters.service import withhold_undelivered
from app.models.cases import Consent, Responsibility
from app.tasks import service as tasks
from app.workflows import case_workflow as wf

# What a conference depends on, judged whenever its safety may have changed.
_CONFERENCE_GATES = wf.ACTION_GATES[wf.Action.CONFERENCE_HELD]

# What the practitioner is asked after someone pulled out: the person's safety first.
_AFTER_WITHDRAWAL = (
    "Check on {name}'s safety: is there a risk of retaliation on the wing? Was the withdrawal "
    "made under pressure? Consider raising a safeguarding concern. Tell the other parties that "
    "the work has changed without saying who withdrew or why."
)


def stage_broken(ctx: RequestContext, bundle: CaseBundle) -> list[str]:
    """The gates of the case's current stage that are no longer met (none: the stage holds)."""
    g = case_guards(ctx, bundle)
    state = CaseState(bundle.case.state)
    if state == CaseState.CONFERENCE or (
        state == CaseState.ON_HOLD and bundle.case.previous_state == CaseState.CONFERENCE
    ):
        return [u.name for u in wf.unmet(_CONFERENCE_GATES, g)]
    if state == CaseState.SHUTTLE_MEDIATION:
        return [u.name for u in wf.unmet(("stage_pairing_holds",), g)]
    return []


async def act_on_change(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, *, reason: str
) -> bool:
    """If the change just recorded broke the stage, call the work off now: `call_off` from
    conference or shuttle mediation; a case paused from conference will resume to assessment,
    its arrangements cancelled. Whether anything was called off."""
    if not stage_broken(ctx, bundle):
        return False
    case = bundle.case
    if case.state == CaseState.CONFERENCE:
        # A conference already held is not called off: what follows it is the conclusion.
        conference = await conferences.get_conference(session, case.id)
        if conference is not None and conference.held:
            return False
    await session.flush()
    if case.state == CaseState.ON_HOLD:
        before = {"previousState": case.previous_state}
        case.previous_state = CaseState.ASSESSMENT.value
        await tasks.cancel_open_tasks(
            session, case.id, [TaskKind.CONFERENCE_PREPARATION], reason="The conference was called off."
        )
        await cases.touch(session, case)
        record_case_change(
            session,
            ctx,
            case,
            action="case.call_off",
            before=before,
            after={"previousState": case.previous_state, "reason": reason},
        )
        return True
    await fire_transition(
        session,
        ctx,
        bundle,
        TransitionRequest(trigger=Trigger.CALL_OFF, reason=reason),
        expected_version=None,
        by_system=True,
    )
    return True


def _review(session: AsyncSession, bundle: CaseBundle, why: str) -> None:
    tasks.schedule_practitioner_review(session, case=bundle.case, why=why, now=clock.now(), urgent=True)


async def record_consent(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, party_id: uuid.UUID, body: ConsentCreate
) -> Consent:
    """Record one consent (`record_consents` with one entry)."""
    (consent,) = await record_consents(session, ctx, bundle, [(party_id, body)])
    return consent


async def record_consents(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    entries: Sequence[tuple[uuid.UUID, ConsentCreate]],
) -> list[Consent]:
    """Record consents, in order, in the caller's one transaction (all or none). Withdrawals act
    at once on the stage they break, judged once after every entry is in; one the practitioner
    did not record themself (a rep heard it) asks them to review."""
    recorded: list[Consent] = []
    for party_id, body in entries:
        consent = await cases.record_consent(session, ctx, bundle, party_id, body)
        bundle.consents[(consent.party_id, consent.scope)] = consent
        recorded.append(consent)
    withdrawn = [c for c in recorded if not c.given]
    if not withdrawn:
        return recorded
    scopes = ", ".join(dict.fromkeys(c.scope.replace("_", " ") for c in withdrawn))
    called_off = await act_on_change(session, ctx, bundle, reason=f"A party withdrew consent ({scopes}).")
    if called_off or ctx.principal.role != Role.PRACTITIONER:
        what = "the work was called off" if called_off else "the case goes on as it is"
        names = [tasks.party_name(party_of(bundle, c.party_id)) for c in withdrawn]
        heard = "; ".join(
            f"{name} withdrew consent ({c.scope.replace('_', ' ')}), recorded by {c.recorded_by}"
            for name, c in zip(names, withdrawn, strict=True)
        )
        _review(
            session,
            bundle,
            f"Urgent: on {bundle.case.reference} {heard}; {what}. "
            + " ".join(_AFTER_WITHDRAWAL.format(name=name) for name in dict.fromkeys(names)),
        )
    return recorded


async def record_responsibility(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    party_id: uuid.UUID,
    body: ResponsibilityCreate,
) -> Responsibility:
    """Record an entry of the responsibility ledger; a retraction acts like a withdrawal: a
    conference is called off, the party's undelivered letters are withheld, and the
    practitioner reviews the case at once, whatever its state."""
    entry = await responsibility.record_responsibility(session, ctx, bundle, party_id, body)
    if entry.acknowledged:
        return entry
    party = party_of(bundle, party_id)
    case = bundle.case
    if case.state == CaseState.LETTER_EXCHANGE:
        await withhold_undelivered(session, ctx, case, party_id=party.id, written_by_only=True)
    called_off = await act_on_change(
        session, ctx, bundle, reason="A party no longer acknowledges their part in the harm."
    )
    what = "the work was called off" if called_off else f"the case stays in {case.state}"
    _review(
        session,
        bundle,
        f"Urgent: on {case.reference} {tasks.party_name(party)} no longer acknowledges "
        f"their part in the harm; {what}. Decide whether the work can go on. "
        + _AFTER_WITHDRAWAL.format(name=tasks.party_name(party)),
    )
    return entry


async def patch_case(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, body: CasePatch, *, expected_version: int
) -> None:
    """Change the case's details. Setting a rep as facilitator is gated (low risk only). A risk
    record is never refused: above low while a rep facilitates, the practitioner takes over the
    facilitation (and the rep's open shuttle visits); raised to high, a conference is called off."""
    case = bundle.case
    changes = body.model_dump(exclude_unset=True)
    risk = changes.get("risk_level")
    if changes.get("facilitator") == Facilitator.REP:
        refuse_unmet_gates(
            wf.Action.REP_FACILITATES,
            ctx,
            bundle,
            risk_level=risk.value if risk is not None else None,
            facilitator=Facilitator.REP.value,
        )
    was = case.risk_level
    await cases.patch_case(session, ctx, case, body, expected_version=expected_version)
    if risk is None or risk == RiskLevel.LOW:
        return
    if case.facilitator == Facilitator.REP:
        await _practitioner_facilitates(session, ctx, bundle)
    if risk == RiskLevel.HIGH and was != RiskLevel.HIGH:
        called_off = await act_on_change(session, ctx, bundle, reason="The risk was raised to high.")
        if called_off:
            _review(
                session,
                bundle,
                f"Urgent: the risk on {case.reference} was raised to high and the work was called "
                "off. Reassess the risk with each party before any contact resumes; consider raising a "
                "safeguarding concern.",
            )


async def _practitioner_facilitates(session: AsyncSession, ctx: RequestContext, bundle: CaseBundle) -> None:
    case = bundle.case
    visits = [
        t
        for t in await tasks.open_tasks(session, case.id, [TaskKind.SHUTTLE_VISIT])
        if t.assignee_type == AssigneeType.REP
    ]
    tasks.to_practitioner(session, case, visits)
    case.facilitator = Facilitator.PRACTITIONER.value
    session.add(case)
    after: dict[str, Any] = {"facilitator": case.facilitator, "reassignedTaskIds": [t.id for t in visits]}
    record_case_change(
        session,
        ctx,
        case,
        action="case.facilitator_switched",
        before={"facilitator": Facilitator.REP.value},
        after=after,
    )
    _review(
        session,
        bundle,
        f"Urgent: the risk on {case.reference} was raised to {case.risk_level} while a rep "
        "facilitated; the facilitation (and the open shuttle visits) passed to you. Review the "
        "case and tell the rep.",
    )
