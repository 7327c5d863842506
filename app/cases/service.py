"""Changing cases: details, parties and consents (moves through the workflow are
`app.flows.transitions`, assignment `app.flows.case_assignment`)."""

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.auth.access import Permission, may_record_grant, require, sees_case
from app.cases import repository as repo
from app.cases.repository import CaseBundle
from app.cases.schemas import CasePatch, ConsentCreate, PartyCreate
from app.common.enums import CaseState, ConsentMethod, Role
from app.context import Principal, RequestContext
from app.db import Conn, read_row
from app.errors import (
    ConflictError,
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
    VersionMismatchError,
)
from app.models.cases import Case, Consent, Party


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


async def touch(session: AsyncSession, case: Case) -> None:
    """Mark the case changed: a new version, updated now."""
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
    if case.state == CaseState.CLOSED:
        raise InvalidStateError("a closed case cannot be changed; reopen it first")
    before = snapshot(case)
    for name, value in changes.items():
        setattr(case, name, value.value if hasattr(value, "value") else value)
    await touch(session, case)
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
    await touch(session, case)
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


async def take_out(session: AsyncSession, bundle: CaseBundle, party_id: uuid.UUID) -> Party:
    """The party withdraws: from now on no guard counts them, and the bundle shows them out (the
    caller holds the case row lock and writes the audit record)."""
    await session.execute(update(Party).where(col(Party.id) == party_id).values(participating=False))
    for i, party in enumerate(bundle.parties):
        if party.id == party_id:
            # The bundle's parties are read for answers, never changed in place: a new one.
            values = {name: getattr(party, name) for name in _PARTY_COLUMNS}
            bundle.parties[i] = read_row(Party, {**values, "participating": False})
            return bundle.parties[i]
    raise ValueError(f"{party_id} is not a party to {bundle.case.reference}")


_PARTY_COLUMNS = tuple(c.name for c in Party.__table__.columns)  # type: ignore[attr-defined]


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
    """Append to the consent ledger; a withdrawal is a consent with `given: false`. A rep records
    only withdrawals (403 for a grant), always as passed on by a rep."""
    case = bundle.case
    party = next((p for p in bundle.parties if p.id == party_id), None)
    if party is None:
        raise NotFoundError(f"no party {party_id} on case {case.reference}")
    principal = ctx.principal
    if body.given and not may_record_grant(principal):
        raise ForbiddenError(
            f"a {principal.role.value} may record only a withdrawal of consent (given: false); "
            "a practitioner records consent given"
        )
    if case.state == CaseState.CLOSED:
        raise InvalidStateError("a closed case cannot be changed; reopen it first")
    method = ConsentMethod.VIA_REP if principal.role == Role.REP else body.method
    consent = Consent(
        case_id=case.id,
        party_id=party.id,
        scope=body.scope.value,
        given=body.given,
        method=method.value,
        recorded_by=body.recorded_by,
        recorded_by_client_id=principal.client_id,
        recorded_by_role=principal.role.value,
        recorded_at=clock.now(),
    )
    await touch(session, case)
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


async def consent_history(session: AsyncSession, case: Case, party_id: uuid.UUID) -> list[Consent]:
    """A party's whole consent ledger, oldest first."""
    party = await session.get(Party, party_id)
    if party is None or party.case_id != case.id:
        raise NotFoundError(f"no party {party_id} on case {case.reference}")
    rows = await session.execute(
        select(Consent).where(col(Consent.party_id) == party_id).order_by(col(Consent.audit_seq))
    )
    return list(rows.scalars())


def may_see(principal: Principal, bundle: CaseBundle) -> bool:
    """Whether the case is in the caller's scope (its caseload; a rep's own cases)."""
    return sees_case(
        principal,
        bundle.case,
        rep_assigned=principal.rep_id is not None and principal.rep_id in bundle.rep_ids,
    )


def in_scope(principal: Principal, key: str, bundle: CaseBundle | None) -> CaseBundle:
    """The case found for `key`, if the caller may see it (404 otherwise)."""
    if bundle is None or not may_see(principal, bundle):
        raise NotFoundError(f"no case {key}")
    return bundle


async def visible_case(conn: Conn, principal: Principal, key: str, *, lock: bool) -> CaseBundle:
    """The case `key` (id or reference) with all its responses show, if the caller may read it
    and it is in their scope (404 otherwise, as for a case that does not exist); `lock` takes
    its row lock for the transaction."""
    require(principal, Permission.CASE_READ)
    return in_scope(principal, key, await repo.find_bundle(conn, key, lock=lock, principal=principal))
