"""Every query about cases, parties, consents and assignments."""

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    String,
    Uuid,
    bindparam,
    cast,
    func,
    inspect,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import col

from app.cases.models import Case, CaseFlag, CaseRep, Consent, Party, PrisonCounter
from app.common.enums import ConcernStatus
from app.common.patterns import CASE_REFERENCE
from app.db import UTCDateTime, dialect_insert
from app.safeguarding.models import SafeguardingConcern

_T = TypeVar("_T")


@dataclass(slots=True)
class CaseBundle:
    """A case with what its responses show: parties, latest consents, assigned reps, flags."""

    case: Case
    parties: list[Party] = field(default_factory=list)
    consents: dict[tuple[uuid.UUID, str], Consent] = field(default_factory=dict)
    rep_ids: list[uuid.UUID] = field(default_factory=list)
    flags: list[CaseFlag] = field(default_factory=list)


_dialect_insert = dialect_insert


# Built once: building and keying a statement costs more than running it from the cache.
_BY_ID = select(Case).where(col(Case.id) == bindparam("key"))
_BY_REFERENCE = select(Case).where(col(Case.reference) == bindparam("key"))
_LOCKED = {
    stmt: stmt.with_for_update().execution_options(populate_existing=True) for stmt in (_BY_ID, _BY_REFERENCE)
}


async def get_case(session: AsyncSession, key: str, *, lock: bool = False) -> Case | None:
    """A case by id or reference; `lock` takes its row lock for the transaction."""
    value: str | uuid.UUID
    if re.fullmatch(CASE_REFERENCE, key):
        stmt, value = _BY_REFERENCE, key
    else:
        try:
            stmt, value = _BY_ID, uuid.UUID(key)
        except ValueError:
            return None
    if lock:
        stmt = _LOCKED[stmt]
    return (await session.execute(stmt, {"key": value})).scalar_one_or_none()


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
    """Bundles for many cases in two queries (parties, consents and reps in one; flags), whatever
    their number."""
    bundles = {c.id: CaseBundle(case=c) for c in cases}
    if not bundles:
        return []
    ids = list(bundles)
    for row in await session.execute(_BUNDLE, {"ids": ids}):
        kind, case_id = row[0], row[1]
        bundle = bundles[case_id]
        if kind == "p":
            party = _loaded(
                session,
                Party,
                {
                    "id": row[2],
                    "case_id": case_id,
                    "prisoner_number": row[3],
                    "first_name": row[4],
                    "last_name": row[5],
                    "role": row[6],
                    "location": row[7],
                    "created_at": row[8],
                },
            )
            bundle.parties.append(party)
        elif kind == "c":
            consent = _loaded(
                session,
                Consent,
                {
                    "id": row[2],
                    "case_id": case_id,
                    "party_id": row[11],
                    "scope": row[3],
                    "given": row[10],
                    "method": row[4],
                    "recorded_by": row[5],
                    "recorded_by_client_id": row[12],
                    "recorded_at": row[8],
                    "audit_seq": row[9],
                },
            )
            bundle.consents[(consent.party_id, consent.scope)] = consent
        else:
            bundle.rep_ids.append(row[2])
    flags = await session.execute(
        select(CaseFlag).where(col(CaseFlag.case_id).in_(ids)).order_by(col(CaseFlag.at), col(CaseFlag.id))
    )
    for case_flag in flags.scalars():
        bundles[case_flag.case_id].flags.append(case_flag)
    for bundle in bundles.values():
        bundle.rep_ids.sort()
    return [bundles[c.id] for c in cases]


def _bundle_rows(ids: Any) -> Any:
    """Parties, consents (in ledger order) and reps of the cases, as rows of one shape."""
    text, number, flag, uid, moment = (
        String(),
        Integer(),
        Boolean(),
        Uuid(),
        UTCDateTime(),
    )
    none = null()
    parties = select(
        literal("p", text),
        col(Party.case_id),
        col(Party.id),
        col(Party.prisoner_number),
        col(Party.first_name),
        col(Party.last_name),
        col(Party.role),
        col(Party.location),
        col(Party.created_at),
        cast(none, number),
        cast(none, flag),
        cast(none, uid),
        cast(none, uid),
    ).where(col(Party.case_id).in_(ids))
    consents = select(
        literal("c", text),
        col(Consent.case_id),
        col(Consent.id),
        col(Consent.scope),
        col(Consent.method),
        col(Consent.recorded_by),
        cast(none, text),
        cast(none, text),
        col(Consent.recorded_at),
        col(Consent.audit_seq),
        col(Consent.given),
        col(Consent.party_id),
        col(Consent.recorded_by_client_id),
    ).where(col(Consent.case_id).in_(ids))
    reps = select(
        literal("r", text),
        col(CaseRep.case_id),
        col(CaseRep.rep_id),
        cast(none, text),
        cast(none, text),
        cast(none, text),
        cast(none, text),
        cast(none, text),
        cast(none, moment),
        cast(none, number),
        cast(none, flag),
        cast(none, uid),
        cast(none, uid),
    ).where(col(CaseRep.case_id).in_(ids))
    # Parties by arrival, consents in ledger order (a later entry for a scope replaces an earlier).
    return union_all(parties, consents, reps).order_by(
        text_column(1), text_column(10), text_column(9), text_column(4)
    )


def text_column(position: int) -> Any:
    """ORDER BY a union's column by position."""
    return literal_column(str(position))


_BUNDLE = _bundle_rows(bindparam("ids", expanding=True))


def _loaded(session: AsyncSession, model: type[_T], values: dict[str, Any]) -> _T:
    """An instance of `model` with `values`, in the session as if the ORM had loaded it: built
    the way the ORM's own loader builds rows (no validation, a tenth of the cost of the
    constructor), or the instance the session already holds for that key."""
    mapper: Any = inspect(model)
    identity = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    existing = session.sync_session.identity_map.get(identity)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj  # type: ignore[no-any-return]


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
