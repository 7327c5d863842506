"""One place that decides which fields of a case each role sees."""

from app.auth.access import SEES_RISK_NOTES
from app.cases.repository import CaseBundle
from app.cases.schemas import (
    Assignment,
    CaseDetail,
    CaseFlagView,
    CaseForReferrer,
    CaseForRep,
    CaseView,
    ConsentStatus,
    Hold,
    PartyForRep,
    PartyPublic,
    Source,
)
from app.common.enums import CaseState, Role
from app.context import Principal


def present_case(principal: Principal, bundle: CaseBundle) -> CaseView:
    """The view of a case fit for the caller's role."""
    case = bundle.case
    common = {
        "id": case.id,
        "reference": case.reference,
        "prison_id": case.prison_id,
        "state": case.state,
        "version": case.version,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
    }
    if principal.role == Role.REFERRER:
        return CaseForReferrer(
            **common,
            source=Source(system=case.source_system, reference=case.source_reference),
            outcome=case.outcome,
        )
    assignment = Assignment(practitioner_id=case.practitioner_id, rep_ids=bundle.rep_ids)
    hold = (
        Hold(
            paused_from=CaseState(case.previous_state),
            until=case.paused_until,
            reason=case.pause_reason,
        )
        if case.state == CaseState.ON_HOLD and case.previous_state and case.paused_until
        else None
    )
    if principal.role == Role.REP:
        return CaseForRep(
            **common,
            category=case.category,
            summary=case.summary,
            risk_level=case.risk_level,
            facilitator=case.facilitator,
            parties=[
                PartyForRep(
                    id=p.id,
                    first_name=p.first_name,
                    last_name=p.last_name,
                    role=p.role,
                    location=p.location,
                )
                for p in bundle.parties
            ],
            assignment=assignment,
            hold=hold,
        )
    parties = [
        PartyPublic(
            id=p.id,
            prisoner_number=p.prisoner_number,
            first_name=p.first_name,
            last_name=p.last_name,
            role=p.role,
            location=p.location,
            consents={
                scope: ConsentStatus(
                    given=c.given,
                    method=c.method,
                    recorded_by=c.recorded_by,
                    recorded_at=c.recorded_at,
                )
                for (party_id, scope), c in sorted(bundle.consents.items(), key=lambda kv: kv[0][1])
                if party_id == p.id
            },
        )
        for p in bundle.parties
    ]
    return CaseDetail(
        **common,
        category=case.category,
        summary=case.summary,
        description=case.description,
        risk_level=case.risk_level,
        risk_notes=case.risk_notes if principal.role in SEES_RISK_NOTES else None,
        facilitator=case.facilitator,
        source=Source(system=case.source_system, reference=case.source_reference),
        parties=parties,
        assignment=assignment,
        hold=hold,
        outcome=case.outcome,
        decline_reason=case.decline_reason,
        referred_by=case.referred_by,
        incident_occurred_at=case.incident_occurred_at,
        closed_at=case.closed_at,
        flags=[CaseFlagView.model_validate(f) for f in bundle.flags],
    )
