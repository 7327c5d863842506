"""Cases: list, read, change, parties, consents, assignment, transitions, timeline."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field

from app.api.deps import (
    IF_MATCH,
    KNOWN_QUERY,
    CaseForRead,
    CaseForUpdate,
    ContextDep,
    IfMatchOptional,
    IfMatchRequired,
    PagingDep,
    PrincipalDep,
    SessionDep,
    UnitDep,
    allowed,
    parse_if_match,
    permission,
)
from app.api.responses import case_response, errors, page_response
from app.audit.timeline import actor_words, case_records, sentence
from app.auth.access import Permission, require
from app.cases import repository as repo
from app.cases import service
from app.cases.schemas import (
    CasePatch,
    CaseVersion,
    CaseView,
    ConsentBatch,
    ConsentCreate,
    ConsentRecord,
    ConsentsRecorded,
    GuardStatus,
    PartyCreate,
    TimelineEntry,
    TransitionOptions,
    TransitionRequest,
    TriggerOption,
)
from app.cases.views import list_views, refuse_unseen_filters, search_text, searched_view
from app.common.dates import local_day_bounds
from app.common.enums import CaseState, Category, RiskLevel
from app.common.schemas import Day, Page, PrisonerNumber, PrisonId, RequestModel, StrictBool, Timestamp
from app.context import RequestContext
from app.errors import invalid_field
from app.flows import case_assignment, safety, transitions

router = APIRouter(prefix="/cases", tags=["cases"])


@router.get("", response_model=Page[CaseView], responses=errors(422))
async def list_cases(
    request: Request,
    unit: UnitDep,
    principal: PrincipalDep,
    paging: PagingDep,
    state: CaseState | None = None,
    prison_id: Annotated[PrisonId | None, Query(alias="prisonId")] = None,
    rep_id: Annotated[uuid.UUID | None, Query(alias="repId")] = None,
    prisoner_number: Annotated[PrisonerNumber | None, Query(alias="prisonerNumber")] = None,
    updated_since: Annotated[Timestamp | None, Query(alias="updatedSince")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=2,
            max_length=100,
            # At least two characters besides spaces at either end.
            pattern=r"^\s*\S.*\S\s*$",
            description="Text looked for, ignoring case, in the fields of the caller's view of a "
            "case: names, references, prisoner numbers, source references and the summary; a rep "
            "only names and references, a referrer only references and source references.",
        ),
    ] = None,
    category: Category | None = None,
    risk_level: Annotated[RiskLevel | None, Query(alias="riskLevel")] = None,
    created_from: Annotated[Day | None, Query(alias="createdFrom")] = None,
    created_to: Annotated[Day | None, Query(alias="createdTo")] = None,
    has_open_concern: Annotated[bool | None, Query(alias="hasOpenConcern")] = None,
) -> Response:
    """Cases in the caller's scope: those with an open safeguarding concern first, then (with
    `q`) the best matches, then the most recently changed."""
    require(principal, Permission.CASE_READ)
    search = search_text(q)
    refuse_unseen_filters(principal, category=category, riskLevel=risk_level, hasOpenConcern=has_open_concern)
    if created_from and created_to and created_from > created_to:
        raise invalid_field("createdTo", "createdTo is before createdFrom")
    filters = repo.CaseFilters(
        state=state.value if state else None,
        prison_id=prison_id,
        rep_id=rep_id,
        prisoner_number=prisoner_number,
        updated_since=updated_since,
        category=category.value if category else None,
        risk_level=risk_level.value if risk_level else None,
        created_from=local_day_bounds(created_from)[0] if created_from else None,
        created_before=local_day_bounds(created_to)[1] if created_to else None,
        has_open_concern=has_open_concern,
        search=search,
        searched=searched_view(principal),
    )
    views, total = await list_views(
        await unit.conn(),
        principal,
        filters,
        offset=paging.offset,
        limit=paging.size,
        cache=request.app.state.case_views,
    )
    return page_response(views, number=paging.page, size=paging.size, total=total)


@router.get("/{case_id}", response_model=CaseView, responses=errors(404))
async def get_case(case_id: str, unit: UnitDep, principal: PrincipalDep) -> Response:
    """One case, by id or reference."""
    return case_response(
        principal, await service.visible_case(await unit.conn(), principal, case_id, lock=False)
    )


@router.post(
    "/{case_id}/transitions",
    response_model=CaseView,
    responses=errors(404, 409, 412, 422),
)
async def fire_transition(
    case_id: str,
    body: TransitionRequest,
    unit: UnitDep,
    ctx: Annotated[RequestContext, allowed(Permission.TRANSITION_FIRE)],
    if_match: Annotated[str | None, IF_MATCH] = None,
) -> Response:
    """Fire a workflow trigger (If-Match honoured when sent)."""
    version = None if if_match is None else parse_if_match(if_match)
    bundle = await transitions.fire(unit, ctx, case_id, body, expected_version=version)
    return case_response(ctx.principal, bundle)


@router.patch(
    "/{case_id}",
    response_model=CaseView,
    responses=errors(404, 409, 412, 422, 428),
    dependencies=[permission(Permission.CASE_UPDATE)],
)
async def patch_case(
    body: CasePatch,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
    version: IfMatchRequired,
) -> Response:
    """Change summary, category, risk level and notes, or facilitator (If-Match required)."""
    await safety.patch_case(session, ctx, bundle, body, expected_version=version)
    return case_response(ctx.principal, bundle)


@router.post(
    "/{case_id}/parties",
    status_code=201,
    response_model=CaseView,
    responses=errors(404, 409, 412, 422),
    dependencies=[permission(Permission.PARTY_MANAGE)],
)
async def add_party(
    body: PartyCreate,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
    version: IfMatchOptional,
) -> Response:
    """Add a prisoner to the conflict."""
    service.check_version(bundle.case, version)
    party = await service.add_party(session, ctx, bundle.case, body)
    bundle.parties.append(party)
    return case_response(ctx.principal, bundle, status_code=201)


@router.post(
    "/{case_id}/parties/{party_id}/consents",
    status_code=201,
    response_model=ConsentRecord,
    responses=errors(404, 409, 412, 422),
    dependencies=[permission(Permission.CONSENT_RECORD)],
)
async def record_consent(
    party_id: uuid.UUID,
    body: ConsentCreate,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
    version: IfMatchOptional,
    response: Response,
) -> ConsentRecord:
    """Append to a party's consent ledger (`given: false` withdraws). A rep may record only a
    withdrawal, which is kept as passed on by a rep (`via_rep`)."""
    service.check_version(bundle.case, version)
    consent = await safety.record_consent(session, ctx, bundle, party_id, body)
    response.headers["ETag"] = f'"{bundle.case.version}"'
    return ConsentRecord.model_validate(consent)


@router.post(
    "/{case_id}/consents",
    status_code=201,
    response_model=ConsentsRecorded,
    responses=errors(403, 404, 409, 412, 422),
    dependencies=[permission(Permission.CONSENT_RECORD)],
)
async def record_consents(
    body: ConsentBatch,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
    version: IfMatchOptional,
    response: Response,
) -> ConsentsRecorded:
    """Record several consents at once, all or none, in the order sent. What they change (a
    conference called off, say) is judged once, after all of them. A rep may send only
    withdrawals: one grant refuses the whole call."""
    service.check_version(bundle.case, version)
    recorded = await safety.record_consents(session, ctx, bundle, [(e.party_id, e) for e in body.entries])
    response.headers["ETag"] = f'"{bundle.case.version}"'
    return ConsentsRecorded(
        entries=[ConsentRecord.model_validate(c) for c in recorded],
        case=CaseVersion(state=bundle.case.state, version=bundle.case.version),
    )


@router.get(
    "/{case_id}/parties/{party_id}/consents",
    response_model=list[ConsentRecord],
    responses=errors(404),
    dependencies=[permission(Permission.CONSENT_READ), KNOWN_QUERY],
)
async def consent_ledger(
    party_id: uuid.UUID, bundle: CaseForRead, session: SessionDep
) -> list[ConsentRecord]:
    """Every consent given or withdrawn by a party, oldest first."""
    return [
        ConsentRecord.model_validate(c) for c in await service.consent_history(session, bundle.case, party_id)
    ]


class AssignmentBody(RequestModel):
    practitioner_id: uuid.UUID | None = None
    rep_ids: list[uuid.UUID]
    keep_apart_checked_by_hand: StrictBool = Field(
        default=False,
        description="The practitioner checked non-associations between new reps and the parties by "
        "hand, because the non-associations service is not configured or not reachable.",
    )


@router.put(
    "/{case_id}/assignment",
    response_model=CaseView,
    responses=errors(404, 409, 412, 422),
    dependencies=[permission(Permission.ASSIGNMENT_SET)],
)
async def set_assignment(
    body: AssignmentBody,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
    version: IfMatchOptional,
) -> Response:
    """Assign the practitioner and reps; refused (409) for a rep who may not take the case."""
    await case_assignment.set_assignment(
        session,
        ctx,
        bundle,
        practitioner_id=body.practitioner_id,
        rep_ids=body.rep_ids,
        expected_version=version,
        keep_apart_checked_by_hand=body.keep_apart_checked_by_hand,
    )
    return case_response(ctx.principal, bundle)


@router.get("/{case_id}/transitions", response_model=TransitionOptions, responses=errors(404))
async def transition_options(bundle: CaseForRead, session: SessionDep, ctx: ContextDep) -> TransitionOptions:
    """The triggers the caller could fire now, and the guards that block the rest."""
    options = await transitions.transition_options(session, ctx, bundle)
    return TransitionOptions(
        state=CaseState(bundle.case.state),
        version=bundle.case.version,
        triggers=[
            TriggerOption(
                trigger=t.trigger,
                to=t.dest.value if t.dest else (bundle.case.previous_state or ""),
                allowed=not unmet,
                unmet_guards=[GuardStatus(name=u.name, description=u.description) for u in unmet],
            )
            for t, unmet in options
        ],
    )


@router.get(
    "/{case_id}/timeline",
    response_model=list[TimelineEntry],
    responses=errors(404),
    dependencies=[permission(Permission.TIMELINE_READ), KNOWN_QUERY],
)
async def timeline(bundle: CaseForRead, session: SessionDep) -> list[TimelineEntry]:
    """The case's history, oldest first, in words a person can read."""
    return [
        TimelineEntry(
            at=r.occurred_at,
            action=r.action,
            text=sentence(r),
            actor=actor_words(r.actor),
            request_id=r.request_id,
        )
        for r in await case_records(session, bundle.case.id)
    ]
