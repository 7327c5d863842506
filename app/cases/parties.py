"""A case's parties: which take part, how each wants to be checked on, and changes to them."""

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.service import record_case_change
from app.cases.repository import CaseBundle
from app.cases.schemas import PartyPatch
from app.cases.service import check_version, touch
from app.common.enums import CaseState, FollowUp, PartyRole
from app.context import RequestContext
from app.db import read_row
from app.errors import InvalidStateError, NotFoundError
from app.models.cases import Party
from app.workflows.pairing import participating

# How a party is checked on when nobody has said otherwise.
DEFAULT_FOLLOW_UP = FollowUp.REP_VISIT
# Who is asked to acknowledge their part in the harm.
RESPONSIBLE_ROLES = frozenset({PartyRole.HARMER.value, PartyRole.BOTH.value})


def responsible(parties: Iterable[Party]) -> list[Party]:
    """The participating parties asked to acknowledge their part in the harm: those whose role
    is `harmer` or `both`, whatever kind of person they are."""
    return [p for p in participating(parties) if p.role in RESPONSIBLE_ROLES]


def follow_up_of(party: Party) -> FollowUp:
    """How the party wants to be checked on (the default when nobody has said)."""
    return FollowUp(party.follow_up) if party.follow_up else DEFAULT_FOLLOW_UP


def visited_by_reps(party: Party) -> bool:
    """Whether reps may visit the party: not when they asked to be seen by the practitioner only,
    or not to be contacted. It holds for every visit (assessment, shuttle, a letter's delivery, a
    wellbeing check), not only the checks after the work."""
    return follow_up_of(party) == FollowUp.REP_VISIT


def party_of(bundle: CaseBundle, party_id: uuid.UUID) -> Party:
    """The party of the case (404 when the case has none by that id)."""
    party = next((p for p in bundle.parties if p.id == party_id), None)
    if party is None:
        raise NotFoundError(f"no party {party_id} on case {bundle.case.reference}")
    return party


_PARTY_COLUMNS = tuple(c.name for c in Party.__table__.columns)  # type: ignore[attr-defined]


async def _set(session: AsyncSession, bundle: CaseBundle, party: Party, **values: Any) -> Party:
    """Write the party's columns `values`; the party as it now is, in the bundle in its place.

    A bundle's parties may have been read outside the session, not to be changed: the row is
    written by its key, and the bundle given a copy holding the change."""
    await session.execute(update(Party).where(col(Party.id) == party.id).values(**values))
    changed = read_row(Party, {**{name: getattr(party, name) for name in _PARTY_COLUMNS}, **values})
    bundle.parties = [changed if p.id == party.id else p for p in bundle.parties]
    return changed


async def _set_follow_up(
    session: AsyncSession, bundle: CaseBundle, party: Party, follow_up: FollowUp
) -> Party:
    return await _set(session, bundle, party, follow_up=follow_up.value)


async def patch_party(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    party_id: uuid.UUID,
    patch: PartyPatch,
    *,
    expected_version: int,
) -> Party:
    """Change the fields `patch` gives, audited with each one's value before and after (by its
    name in the API); the party as it now is."""
    case = bundle.case
    check_version(case, expected_version)
    party = party_of(bundle, party_id)
    # Whether to be told what became of the agreement still matters once the case is closed:
    # its items may be monitored past closure.
    if case.state == CaseState.CLOSED and patch.model_fields_set - {"outcome_updates"}:
        raise InvalidStateError(
            "a closed case cannot be changed but for a party's outcomeUpdates; reopen it first"
        )
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if patch.follow_up is not None:
        before["followUp"], after["followUp"] = follow_up_of(party).value, patch.follow_up.value
        party = await _set_follow_up(session, bundle, party, patch.follow_up)
    if patch.outcome_updates is not None:
        before["outcomeUpdates"], after["outcomeUpdates"] = party.outcome_updates, patch.outcome_updates
        party = await _set(session, bundle, party, outcome_updates=patch.outcome_updates)
    await touch(session, case)
    record_case_change(
        session,
        ctx,
        case,
        action="party.updated",
        entity_type="party",
        entity_id=party.id,
        before=before,
        after={"party": f"{party.first_name} {party.last_name}", **after},
    )
    return party


async def follow_up_after_withdrawal(session: AsyncSession, bundle: CaseBundle, party_id: uuid.UUID) -> None:
    """A party who withdrew is checked on by the practitioner only, unless someone has already
    said how they want to be checked on: a visit from a fellow prisoner can feel like pressure.
    Part of the withdrawal, whose audit record names the party (as the checks it schedules are)."""
    party = party_of(bundle, party_id)
    if party.follow_up is None:
        await _set_follow_up(session, bundle, party, FollowUp.PRACTITIONER_ONLY)
