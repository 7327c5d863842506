"""Every query about cases, parties, consents and assignments."""

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.cases.models import Case, CaseFlag, CaseRep, Consent, Party, PrisonCounter
from app.common.enums import ConcernStatus
from app.common.patterns import CASE_REFERENCE
from app.db import dialect_insert
from app.safeguarding.models import SafeguardingConcern


@dataclass(slots=True)
class CaseBundle:
    """A case with what its responses show: parties, latest consents, assigned reps, flags."""

    case: Case
    parties: list[Party] = field(default_factory=list)
    consents: dict[tuple[uuid.UUID, str], Consent] = field(default_factory=dict)
    rep_ids: list[uuid.UUID] = field(default_factory=list)
    flags: list[CaseFlag] = field(default_factory=list)


_dialect_insert = dialect_insert


def _id_condition(key: str) -> ColumnElement[bool] | None:
    if re.fullmatch(CASE_REFERENCE, key):
        return col(Case.reference) == key
    try:
        return col(Case.id) == uuid.UUID(key)
    except ValueError:
        return None


async def get_case(session: AsyncSession, key: str, *, lock: bool = False) -> Case | None:
    """A case by id or reference; `lock` takes its row lock for the transaction."""
    condition = _id_condition(key)
    if condition is None:
        return None
    stmt = select(Case).where(condition)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def rep_is_assigned(session: AsyncSession, case_id: uuid.UUID, rep_id: uuid.UUID | None) -> bool:
    """Whether `rep_id` is assigned to the case."""
    if rep_id is None:
        return False
    found = await session.execute(
        select(col(CaseRep.case_id)).where(col(CaseRep.case_id) == case_id, col(CaseRep.rep_id) == rep_id)
    )
    return found.first() is not None


async def next_reference(session: AsyncSession, prison_id: str) -> str:
    """Take the prison's next case number; never reused, gaps after rollbacks are fine."""
    insert = _dialect_insert(session)
    stmt = (
        insert(PrisonCounter)
        .values(prison_id=prison_id, last_number=1)
        .on_conflict_do_update(
            index_elements=["prison_id"],
            set_={"last_number": PrisonCounter.last_number + 1},
        )
        .returning(PrisonCounter.last_number)
    )
    number = (await session.execute(stmt)).scalar_one()
    return f"{prison_id}-RJ-{number:06d}"


async def insert_case_if_new(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """Insert a case unless one with the same source exists; the new id, or None."""
    insert = _dialect_insert(session)
    stmt = (
        insert(Case)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source_system", "source_reference"])
        .returning(Case.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def find_by_source(session: AsyncSession, system: str, reference: str) -> Case | None:
    """The case made from a source system's record, if any."""
    return (
        await session.execute(
            select(Case).where(col(Case.source_system) == system, col(Case.source_reference) == reference)
        )
    ).scalar_one_or_none()


async def load_bundle(session: AsyncSession, case: Case) -> CaseBundle:
    """A case with its parties, latest consents and reps."""
    return (await load_bundles(session, [case]))[0]


async def load_bundles(session: AsyncSession, cases: list[Case]) -> list[CaseBundle]:
    """Bundles for many cases in four queries, whatever their number."""
    bundles = {c.id: CaseBundle(case=c) for c in cases}
    if not bundles:
        return []
    ids = list(bundles)
    parties = await session.execute(
        select(Party)
        .where(col(Party.case_id).in_(ids))
        .order_by(col(Party.created_at), col(Party.prisoner_number))
    )
    for party in parties.scalars():
        bundles[party.case_id].parties.append(party)
    consents = await session.execute(
        select(Consent)
        .where(col(Consent.case_id).in_(ids))
        .order_by(col(Consent.case_id), col(Consent.audit_seq))
    )
    for consent in consents.scalars():
        bundles[consent.case_id].consents[(consent.party_id, consent.scope)] = consent
    reps = await session.execute(
        select(CaseRep.case_id, CaseRep.rep_id).where(col(CaseRep.case_id).in_(ids))  # type: ignore[call-overload]
    )
    for case_id, rep_id in reps:
        bundles[case_id].rep_ids.append(rep_id)
    flags = await session.execute(
        select(CaseFlag).where(col(CaseFlag.case_id).in_(ids)).order_by(col(CaseFlag.at), col(CaseFlag.id))
    )
    for flag in flags.scalars():
        bundles[flag.case_id].flags.append(flag)
    for bundle in bundles.values():
        bundle.rep_ids.sort()
    return [bundles[c.id] for c in cases]


async def list_cases(
    session: AsyncSession,
    *,
    scope: ColumnElement[bool],
    state: str | None,
    prison_id: str | None,
    rep_id: uuid.UUID | None,
    prisoner_number: str | None,
    updated_since: datetime | None,
    offset: int,
    limit: int,
) -> tuple[list[Case], int]:
    """A page of cases matching the filters within the caller's scope: cases with an open
    safeguarding concern first, then the most recently changed."""
    conditions: list[ColumnElement[bool]] = [scope]
    if state:
        conditions.append(col(Case.state) == state)
    if prison_id:
        conditions.append(col(Case.prison_id) == prison_id)
    if rep_id:
        conditions.append(col(Case.id).in_(select(col(CaseRep.case_id)).where(col(CaseRep.rep_id) == rep_id)))
    if prisoner_number:
        conditions.append(
            col(Case.id).in_(select(col(Party.case_id)).where(col(Party.prisoner_number) == prisoner_number))
        )
    if updated_since:
        conditions.append(col(Case.updated_at) >= updated_since)
    total = (await session.execute(select(func.count()).select_from(Case).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(Case)
        .where(*conditions)
        .order_by(_open_concern_first(), col(Case.updated_at).desc(), col(Case.id))
        .offset(offset)
        .limit(limit)
    )
    return list(rows.scalars()), total


def _open_concern_first() -> ColumnElement[int]:
    open_concern = (
        select(col(SafeguardingConcern.id))
        .where(
            col(SafeguardingConcern.case_id) == col(Case.id),
            col(SafeguardingConcern.status) == ConcernStatus.OPEN.value,
        )
        .exists()
    )
    return sql_case((open_concern, 0), else_=1)


async def set_reps(session: AsyncSession, case_id: uuid.UUID, rep_ids: list[uuid.UUID]) -> None:
    """Replace the reps assigned to a case."""
    current = set(
        (await session.execute(select(col(CaseRep.rep_id)).where(col(CaseRep.case_id) == case_id))).scalars()
    )
    wanted = set(rep_ids)
    for rep_id in current - wanted:
        link = await session.get(CaseRep, (case_id, rep_id))
        if link is not None:
            await session.delete(link)
    for rep_id in wanted - current:
        session.add(CaseRep(case_id=case_id, rep_id=rep_id))


async def bump_version(session: AsyncSession, case: Case, now: datetime) -> None:
    """Record that the case changed: a new version and update time."""
    case.version += 1
    case.updated_at = now
    session.add(case)
