"""Every query about cases, parties, consents and assignments (a workflow move is written by
`app.cases.moves`)."""

import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    Uuid,
    bindparam,
    cast,
    func,
    inspect,
    literal,
    literal_column,
    null,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.visitors import cloned_traverse
from sqlmodel import col

from app.auth.access import CASE_SCOPE_SQL, case_scope, case_scope_values
from app.cases.view_cache import CaseViewCache
from app.common.enums import ConcernStatus
from app.common.patterns import CASE_REFERENCE
from app.context import Principal
from app.db import (
    Conn,
    DriverConnection,
    DriverRow,
    DriverStatement,
    UTCDateTime,
    dialect_name,
    driver_statement,
    new_row,
    on_driver,
    on_postgres,
    on_sqlite,
    per_dialect,
    plain_row,
    read_row,
)
from app.models.cases import (
    Case,
    CaseFlag,
    CaseRep,
    Consent,
    Party,
    PrisonCounter,
    Responsibility,
    own_columns,
)
from app.models.safeguarding import SafeguardingConcern

_T = TypeVar("_T")

# A row as a session gives it, or as a driver connection does; and rows of either.
_Row = DriverRow | Row[*tuple[Any, ...]]
_Rows = Sequence[Row[*tuple[Any, ...]]] | Sequence[DriverRow]


@dataclass(slots=True)
class CaseBundle:
    """A case with what its responses show: parties, latest consents, assigned reps, flags, and
    each party's latest entry of the responsibility ledger."""

    case: Case
    parties: list[Party] = field(default_factory=list)
    consents: dict[tuple[uuid.UUID, str], Consent] = field(default_factory=dict)
    rep_ids: list[uuid.UUID] = field(default_factory=list)
    flags: list[CaseFlag] = field(default_factory=list)
    responsibility: dict[uuid.UUID, Responsibility] = field(default_factory=dict)


# Built once: building and keying a statement costs more than running it from the cache.
_BY_ID = select(Case).where(col(Case.id) == bindparam("key"))
_BY_REFERENCE = select(Case).where(col(Case.reference) == bindparam("key"))
_LOCKED = {
    stmt: stmt.with_for_update().execution_options(populate_existing=True) for stmt in (_BY_ID, _BY_REFERENCE)
}


async def get_case(
    session: AsyncSession, key: str, *, lock: bool = False, principal: Principal | None = None
) -> Case | None:
    """A case by id or reference; `lock` takes its row lock for the transaction. For a
    `principal`, only a case in their scope: one outside it is not found, by the same statement."""
    value: str | uuid.UUID
    if re.fullmatch(CASE_REFERENCE, key):
        stmt, value = _BY_REFERENCE, key
    else:
        try:
            stmt, value = _BY_ID, uuid.UUID(key)
        except ValueError:
            return None
    if principal is not None:
        stmt = stmt.where(case_scope(principal))
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
    elif lock:
        stmt = _LOCKED[stmt]
    return (await session.execute(stmt, {"key": value})).scalar_one_or_none()


# PostgreSQL: a case with its parties, consents, reps, flags and responsibility entries in one
# round trip, each kind of child as an array of anonymous records in the order the bundle keeps
# (parties by arrival, consents and responsibility entries in ledger order, flags by time). The
# driver decodes records with their columns' own types (uuids, times, booleans), so no value is
# parsed again here. SQLite keeps the portable statements of `load_bundles`.
_CASE_COLUMNS = tuple(c.name for c in Case.__table__.columns)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _Children:
    """One kind of a case's children as the record arrays carry them: its model and how the rows
    are ordered; its columns, in record order, are the table's own (the case id is the case's)."""

    model: type[Any]
    order: tuple[str, ...]
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", own_columns(self.model))

    def subquery(self) -> str:
        """The array of records of this kind for the case row `c`."""
        table = self.model.__tablename__
        return (
            f"(SELECT array_agg(ROW({', '.join(f'x.{c}' for c in self.columns)}) "  # noqa: S608 - names from the models
            f"ORDER BY {', '.join(f'x.{c}' for c in self.order)}) FROM {table} x WHERE x.case_id = c.id)"
        )

    def rows(self, records: Any, case_id: uuid.UUID) -> list[Any]:
        """The children of one case from its records, built outside the session."""
        columns = self.columns
        model = self.model
        built = []
        for record in records or ():
            values = dict(zip(columns, record, strict=True))
            values["case_id"] = case_id
            built.append(read_row(model, values))
        return built


# Parties by arrival, consents and responsibility entries in ledger order (a later entry for a
# scope, or for a party, replaces an earlier), flags by time: the orders `load_bundles` reads them
# in, and a case's views show them in.
PARTY_ORDER = ("created_at", "prisoner_number")
CONSENT_ORDER = ("audit_seq", "recorded_at", "scope")
RESPONSIBILITY_ORDER = ("audit_seq", "recorded_at")
FLAG_ORDER = ("at", "id")
_PARTIES = _Children(Party, PARTY_ORDER)
_CONSENTS = _Children(Consent, CONSENT_ORDER)
_FLAGS = _Children(CaseFlag, FLAG_ORDER)
_RESPONSIBILITY = _Children(Responsibility, RESPONSIBILITY_ORDER)
# The arrays of a case's parties, consents, flags, reps and responsibility entries; `c` is the
# case row.
_PG_CHILDREN = (
    _PARTIES.subquery(),
    _CONSENTS.subquery(),
    _FLAGS.subquery(),
    "(SELECT array_agg(r.rep_id ORDER BY r.rep_id) FROM case_rep r WHERE r.case_id = c.id)",
    _RESPONSIBILITY.subquery(),
)


_PG_CASE = (
    "SELECT "  # noqa: S608 - column and table names from the code, no input
    + ", ".join([*(f"c.{name}" for name in _CASE_COLUMNS), *_PG_CHILDREN])
    + " FROM rj_case c WHERE c.{key} = $1"
)
_PG_STATEMENTS = {
    (key, lock): _PG_CASE.format(key=key) + (" FOR UPDATE OF c" if lock else "")
    for key in ("id", "reference")
    for lock in (False, True)
}
# The same, only within a caller's scope (`app.auth.access.CASE_SCOPE_SQL`): a case out of scope
# is not found, so neither its children are read nor its row locked.
_PG_SCOPED = {
    (key, lock): _PG_CASE.format(key=key) + f" AND {CASE_SCOPE_SQL}" + (" FOR UPDATE OF c" if lock else "")
    for key in ("id", "reference")
    for lock in (False, True)
}


def _pg_case(key: str, lock: bool, principal: Principal | None) -> tuple[str, tuple[Any, ...]] | None:
    """The one-statement read of the case `key` and its values, within the caller's scope when
    given (None: `key` names no case)."""
    named = _pg_key(key)
    if named is None:
        return None
    column, value = named
    if principal is None:
        return _PG_STATEMENTS[(column, lock)], (value,)
    return _PG_SCOPED[(column, lock)], (value, *case_scope_values(principal))


def _pg_key(key: str) -> tuple[str, str | uuid.UUID] | None:
    """Which column names a case, id or reference, and its value (None: neither)."""
    if re.fullmatch(CASE_REFERENCE, key):
        return "reference", key
    try:
        return "id", uuid.UUID(key)
    except ValueError:
        return None


async def get_bundle(
    session: AsyncSession, key: str, *, lock: bool = False, principal: Principal | None = None
) -> CaseBundle | None:
    """A case by id or reference with everything its responses show; `lock` takes its row lock
    for the transaction. For a `principal`, only a case in their scope: one outside it is looked
    for as one that does not exist is, in the same statement finding nothing. One round trip on
    PostgreSQL."""
    if not on_postgres(session):
        case = await get_case(session, key, lock=lock, principal=principal)
        return None if case is None else await load_bundle(session, case)
    statement = _pg_case(key, lock, principal)
    if statement is None:
        return None
    # The statement runs as SQL, past the session's autoflush: what the session holds unwritten
    # (a party just added) is written first, so that the bundle has it.
    await session.flush()
    conn = await session.connection()
    row = (await conn.exec_driver_sql(*statement)).first()
    if row is None:
        return None
    # A locked case is about to change: it joins the session. Read alone, it need not.
    if lock:
        return _bundle_of(row, partial(_loaded, session, Case, refresh=True))
    return _bundle_of(row, partial(read_row, Case))


async def find_bundle(
    conn: Conn, key: str, *, lock: bool = False, principal: Principal | None = None
) -> CaseBundle | None:
    """`get_bundle` on either handle (`app.db.Conn`). Locked on PostgreSQL's driver (in the
    caller's transaction), the case, outside any session, can be changed and written by
    `app.cases.moves.write_move`; read alone, it is for an answer only."""
    if isinstance(conn, AsyncSession):
        return await get_bundle(conn, key, lock=lock, principal=principal)
    driver = conn
    statement = _pg_case(key, lock, principal)
    if statement is None:
        return None
    sql, values = statement
    row = await driver.fetchrow(sql, *values)
    if row is None:
        return None
    return _bundle_of(row, partial(plain_row if lock else read_row, Case))


def _bundle_of(row: _Row, case_of: Callable[[dict[str, Any]], Case]) -> CaseBundle:
    """A bundle from a row of the case's columns followed by its children as record arrays (see
    `_PG_CASE`), its case built by `case_of` from the case's columns. The children never change
    through a bundle (new ones are added, none is edited), so they are built outside any
    session."""
    n = len(_CASE_COLUMNS)
    case = case_of(dict(zip(_CASE_COLUMNS, row[:n], strict=True)))
    bundle = CaseBundle(case=case)
    parties, consents, flags, reps, responsibility = row[n : n + 5]
    bundle.parties = _PARTIES.rows(parties, case.id)
    for consent in _CONSENTS.rows(consents, case.id):
        bundle.consents[(consent.party_id, consent.scope)] = consent
    bundle.flags = _FLAGS.rows(flags, case.id)
    bundle.rep_ids = list(reps or ())
    for entry in _RESPONSIBILITY.rows(responsibility, case.id):
        bundle.responsibility[entry.party_id] = entry
    return bundle


async def rep_is_assigned(session: AsyncSession, case_id: uuid.UUID, rep_id: uuid.UUID | None) -> bool:
    """Whether `rep_id` is assigned to the case."""
    if rep_id is None:
        return False
    found = await session.execute(
        select(col(CaseRep.case_id)).where(col(CaseRep.case_id) == case_id, col(CaseRep.rep_id) == rep_id)
    )
    return found.first() is not None


# Built once, like `_BY_ID`, for each backend: a referral's statements would otherwise cost more
# to build than to run. Taking a prison's next case number; inserting a case unless one with its
# source exists (its columns come with each execution's values); finding that case.
_NEXT_NUMBER = per_dialect(
    lambda insert: (
        insert(PrisonCounter)
        .values(prison_id=bindparam("prison_id"), last_number=1)
        .on_conflict_do_update(
            index_elements=["prison_id"],
            set_={"last_number": col(PrisonCounter.last_number) + 1},
        )
        .returning(col(PrisonCounter.last_number))
    )
)
_INSERT_CASE = per_dialect(
    lambda insert: (
        insert(Case)
        .on_conflict_do_nothing(index_elements=["source_system", "source_reference"])
        .returning(col(Case.id))
    )
)
_BY_SOURCE = select(Case).where(
    col(Case.source_system) == bindparam("system"), col(Case.source_reference) == bindparam("reference")
)


# On PostgreSQL the three run as their SQL on the session's connection (or on a driver
# connection, `app.db.Conn`): SQLAlchemy's execution of an ORM statement (its cache key,
# the ORM's own handling of the insert and of the loaded row) costs more than the statement does.
_NEXT_NUMBER_ON_PG = on_driver(_NEXT_NUMBER["postgresql"])
_INSERT_CASE_ON_PG = on_driver(
    _INSERT_CASE["postgresql"].values({name: bindparam(name) for name in _CASE_COLUMNS})
)
_BY_SOURCE_ON_PG = on_driver(_BY_SOURCE)


async def _run_on_pg(
    conn: AsyncSession | DriverConnection, statement: DriverStatement, values: dict[str, Any]
) -> _Row | None:
    """The first row of a statement prepared by `app.db.on_driver`, run on the session's
    connection or on a driver connection (None if it gave none)."""
    sql, args = statement
    if not isinstance(conn, AsyncSession):
        return await conn.fetchrow(sql, *args(values))
    connection = await conn.connection()
    return (await connection.exec_driver_sql(sql, tuple(args(values)))).first()


async def next_reference(session: AsyncSession | DriverConnection, prison_id: str) -> str:
    """Take the prison's next case number; never reused, gaps after rollbacks are fine. On a
    session, or on a driver connection in its transaction."""
    values = {"prison_id": prison_id}
    if on_sqlite(session):
        number = (await session.execute(_NEXT_NUMBER[dialect_name(session)], values)).scalar_one()
    else:
        taken = await _run_on_pg(session, _NEXT_NUMBER_ON_PG, values)
        assert taken is not None  # noqa: S101 - an upsert returns its row
        number = taken[0]
    return f"{prison_id}-RJ-{number:06d}"


def unsaved_case(values: dict[str, Any]) -> Case:
    """A case not yet written, holding `values` (every other column empty or its default)."""
    return new_row(Case, _case_columns(values))


def _case_columns(values: dict[str, Any]) -> dict[str, Any]:
    return {**{name: None for name in _CASE_COLUMNS}, "legal_hold": False, **values}


async def insert_case_if_new(session: AsyncSession | DriverConnection, values: dict[str, Any]) -> Case | None:
    """Insert a case unless one with the same source exists: the new case as written (no read
    back; in the session, or on a driver connection for an answer only), or None."""
    inserted: _Row | None
    if on_sqlite(session):
        inserted = (await session.execute(_INSERT_CASE[dialect_name(session)], values)).first()
    else:
        inserted = await _run_on_pg(session, _INSERT_CASE_ON_PG, _case_columns(values))
    return None if inserted is None else _case_of(session, _case_columns(values))


async def find_by_source(
    session: AsyncSession | DriverConnection, system: str, reference: str
) -> Case | None:
    """The case made from a source system's record, if any (on a driver connection, read for
    an answer only)."""
    values = {"system": system, "reference": reference}
    if on_sqlite(session):
        return (await session.execute(_BY_SOURCE, values)).scalar_one_or_none()
    row = await _run_on_pg(session, _BY_SOURCE_ON_PG, values)
    return None if row is None else _case_of(session, dict(zip(_CASE_COLUMNS, row, strict=True)))


def _case_of(conn: AsyncSession | DriverConnection, columns: dict[str, Any]) -> Case:
    """A case row as written or read: in the session, or, on a driver connection, for an answer."""
    return _loaded(conn, Case, columns) if isinstance(conn, AsyncSession) else read_row(Case, columns)


async def load_bundle(session: AsyncSession, case: Case) -> CaseBundle:
    """A case with its parties, latest consents and reps."""
    return (await load_bundles(session, [case]))[0]


async def load_bundles(session: AsyncSession, cases: list[Case], *, attach: bool = True) -> list[CaseBundle]:
    """Bundles for many cases in three queries (parties, consents and reps in one; flags;
    responsibility entries), whatever their number. Without `attach` the children are built
    outside the session: for reading only."""
    made = partial(_loaded, session) if attach else read_row
    bundles = {c.id: CaseBundle(case=c) for c in cases}
    if not bundles:
        return []
    ids = list(bundles)
    for row in await session.execute(_BUNDLE, {"ids": ids}):
        kind, case_id = row[0], row[1]
        bundle = bundles[case_id]
        if kind == "p":
            party = made(
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
                    "follow_up": row[13],
                    "participating": row[10],
                    "outcome_updates": row[14],
                },
            )
            bundle.parties.append(party)
        elif kind == "c":
            consent = made(
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
                    "recorded_by_role": row[13],
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
    entries = await session.execute(
        select(Responsibility)
        .where(col(Responsibility.case_id).in_(ids))
        .order_by(*(col(getattr(Responsibility, name)) for name in RESPONSIBILITY_ORDER))
    )
    for entry in entries.scalars():
        bundles[entry.case_id].responsibility[entry.party_id] = entry
    for bundle in bundles.values():
        bundle.rep_ids.sort()
    return [bundles[c.id] for c in cases]


def _bundle_rows(ids: Any) -> Any:
    """Parties, consents (in ledger order) and reps of the cases, as rows of one shape (the last
    columns: a party's follow-up, a consent's recorder's role; a party's wish for outcome updates)."""
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
        col(Party.participating),
        cast(none, uid),
        cast(none, uid),
        col(Party.follow_up),
        col(Party.outcome_updates),
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
        col(Consent.recorded_by_role),
        cast(none, flag),
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
        cast(none, text),
        cast(none, flag),
    ).where(col(CaseRep.case_id).in_(ids))
    # Parties by arrival, consents in ledger order (a later entry for a scope replaces an earlier).
    return union_all(parties, consents, reps).order_by(
        text_column(1), text_column(10), text_column(9), text_column(4)
    )


def text_column(position: int) -> Any:
    """ORDER BY a union's column by position."""
    return literal_column(str(position))


_BUNDLE = _bundle_rows(bindparam("ids", expanding=True))


def _loaded(session: AsyncSession, model: type[_T], values: dict[str, Any], *, refresh: bool = False) -> _T:
    """An instance of `model` with `values`, in the session as if the ORM had loaded it: built
    the way the ORM's own loader builds rows (no validation, a tenth of the cost of the
    constructor), or the instance the session already holds for that key (its loaded state
    replaced by `values` when `refresh`, as a locking read does)."""
    mapper: Any = inspect(model)
    identity = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    existing = session.sync_session.identity_map.get(identity)
    if existing is not None:
        if refresh:
            for key, value in values.items():
                set_committed_value(existing, key, value)
        return existing  # type: ignore[no-any-return]
    obj = new_row(model, values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


@dataclass(frozen=True, slots=True)
class CaseFilters:
    """What a list of cases is narrowed to, besides the caller's scope. `search` is the text `q`
    looked for, in the fields of the view named by `searched` (`SEARCHED`)."""

    state: str | None = None
    prison_id: str | None = None
    rep_id: uuid.UUID | None = None
    prisoner_number: str | None = None
    updated_since: datetime | None = None
    category: str | None = None
    risk_level: str | None = None
    created_from: datetime | None = None
    created_before: datetime | None = None
    has_open_concern: bool | None = None
    search: str | None = None
    searched: str = "full"

    def conditions(self, scope: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        """The caller's scope and these filters, as conditions on `rj_case`."""
        conditions: list[ColumnElement[bool]] = [scope]
        if self.search:
            conditions.append(_bound(_SEARCH[self.searched].matches, self.search))
        if self.category:
            conditions.append(col(Case.category) == self.category)
        if self.risk_level:
            conditions.append(col(Case.risk_level) == self.risk_level)
        if self.created_from:
            conditions.append(col(Case.created_at) >= self.created_from)
        if self.created_before:
            conditions.append(col(Case.created_at) < self.created_before)
        if self.has_open_concern is not None:
            conditions.append(_OPEN_CONCERN if self.has_open_concern else ~_OPEN_CONCERN)
        if self.state:
            conditions.append(col(Case.state) == self.state)
        if self.prison_id:
            conditions.append(col(Case.prison_id) == self.prison_id)
        if self.rep_id:
            assigned = select(col(CaseRep.case_id)).where(col(CaseRep.rep_id) == self.rep_id)
            conditions.append(col(Case.id).in_(assigned))
        if self.prisoner_number:
            named = select(col(Party.case_id)).where(col(Party.prisoner_number) == self.prisoner_number)
            conditions.append(col(Case.id).in_(named))
        if self.updated_since:
            conditions.append(col(Case.updated_at) >= self.updated_since)
        return conditions

    def order(self) -> tuple[Any, ...]:
        """The list's order: `_LIST_ORDER`, or with a search, `_SEARCH`'s rank after the open
        concerns."""
        if not self.search:
            return _LIST_ORDER
        first, *rest = _LIST_ORDER
        return (first, _bound(_SEARCH[self.searched].rank, self.search), *rest)


async def list_case_views(
    conn: AsyncSession | DriverConnection,
    *,
    view: ColumnElement[str],
    name: str,
    scope: ColumnElement[bool],
    caller: Hashable,
    filters: CaseFilters,
    offset: int,
    limit: int,
    cache: CaseViewCache | None = None,
) -> tuple[list[str], int]:
    """PostgreSQL: a page of the cases matching `filters` within the caller's `scope`, each as
    the JSON text of `view` (a view of `app.cases.views` written in SQL), and how many match in
    all; cases with an open safeguarding concern first, then the most recently changed. On a
    session, or on a driver connection (`app.db.Database.driver`).

    `name` names the view, and `caller` is what `scope` was made from. Without `cache` (views
    kept between requests), one round trip: the page, the cases' children and the total together.
    With it, the page's ids and row versions first: when every view is kept (by its name) at its
    version the page is answered from them; otherwise it is written whole as without, and its
    views kept. On a driver connection the statements are kept by the view's name, the caller,
    the filters and the page's place (`_PageStatements`), not built and compiled again for a page
    asked for before."""

    async def page(*columns: Any) -> _Rows:
        def build() -> Select[*tuple[Any, ...]]:
            return (
                select(*columns, func.count().over())
                .select_from(Case)
                .where(*filters.conditions(scope))
                .order_by(*filters.order())
                .offset(offset)
                .limit(limit)
            )

        if isinstance(conn, AsyncSession):
            return await _rows(conn, build())
        # A search's text is new almost every time: its statements are not kept by it, where they
        # would push out the plain pages' (their shape is still compiled once, `driver_statement`).
        if filters.search:
            sql, args = driver_statement(build())
        else:
            sql, args = _PAGE_STATEMENTS.get((name, caller, filters, len(columns), offset, limit), build)
        return await conn.fetch(sql, *args)

    found: _Rows = ()
    if cache is not None and cache.capacity:
        stamps = await page(col(Case.id), ROW_VERSION)
        views = cache.find(name, [(row[0], row[1]) for row in stamps]) if stamps else None
        if views is not None:
            return views, int(stamps[0][2])
        if stamps:
            found = await page(view, col(Case.id), ROW_VERSION)
            cache.keep(name, [(row[1], row[2], row[0]) for row in found])
    else:
        found = await page(view)
    if found:
        return [row[0] for row in found], int(found[0][-1])
    # Past the last page the window has no row to count on.
    if not offset:
        return [], 0
    count = select(func.count()).select_from(Case).where(*filters.conditions(scope))
    return [], int((await _rows(conn, count))[0][0])


class _PageStatements:
    """The SQL and arguments of pages' statements for a driver connection, by a key that names
    everything that decides them; the least recently used go first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[Hashable, tuple[str, list[Any]]] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Select[*tuple[Any, ...]]]) -> tuple[str, list[Any]]:
        """The statement known by `key`, built by `build` the first time."""
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
            return found
        found = self._kept[key] = driver_statement(build())
        if len(self._kept) > self.capacity:
            self._kept.popitem(last=False)
        return found


_PAGE_STATEMENTS = _PageStatements(1024)


async def _rows(conn: AsyncSession | DriverConnection, statement: Select[*tuple[Any, ...]]) -> _Rows:
    """The rows of a statement, on a session or on a driver connection."""
    if isinstance(conn, AsyncSession):
        return (await conn.execute(statement)).all()
    sql, args = driver_statement(statement)
    return await conn.fetch(sql, *args)


async def list_cases(
    session: AsyncSession, *, scope: ColumnElement[bool], filters: CaseFilters, offset: int, limit: int
) -> tuple[list[CaseBundle], int]:
    """A page of the cases matching `filters` within the caller's `scope`, in the order of
    `list_case_views`, with everything their responses show, and how many match in all; in
    statements every backend runs (the total, the page, then its children)."""
    conditions = filters.conditions(scope)
    total = (await session.execute(select(func.count()).select_from(Case).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(Case).where(*conditions).order_by(*filters.order()).offset(offset).limit(limit)
    )
    return await load_bundles(session, list(rows.scalars()), attach=False), total


_OPEN_CONCERN = (
    select(col(SafeguardingConcern.id))
    .where(
        col(SafeguardingConcern.case_id) == col(Case.id),
        col(SafeguardingConcern.status) == ConcernStatus.OPEN.value,
    )
    .exists()
)


def _open_concern_first() -> ColumnElement[int]:
    return sql_case((_OPEN_CONCERN, 0), else_=1)


# The lists' order, built once: cases with an open safeguarding concern first, then the most
# recently changed.
_LIST_ORDER = (_open_concern_first(), col(Case.updated_at).desc(), col(Case.id))


# Search (`q`): what each view of a case is searched in, as conditions and a rank built once, their
# values bound for each search (`_search_values`). A case matches when the text is found anywhere
# in one of the view's searched fields, ignoring case: a rep's view has no prisoner numbers nor
# source references, a referrer's no names nor summary, so neither is searched there. The rank
# (lower first): 0, the text is the whole case reference, prisoner number or source reference; 1,
# a word of a party's name (first or last) starts with it; 2, any other match.
# PostgreSQL finds the matches through trigram indexes (pg_trgm, the search migration), which serve
# ILIKE with a pattern on both sides. SQLite scans the cases with LIKE: it is the database of
# small installations and of development, where a scan of every case is quick, and a full-text
# table kept in step by triggers would be a second copy of every name to keep right.
SEARCHED = ("full", "rep", "referrer")


@dataclass(frozen=True, slots=True)
class _Search:
    matches: ColumnElement[bool]
    rank: ColumnElement[int]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_values(text: str) -> dict[str, str]:
    """The bound values of a search for `text`: the whole value, its start, a word's start,
    anywhere in it."""
    escaped = _escaped(text)
    return {
        "q_whole": escaped,
        "q_start": f"{escaped}%",
        "q_word": f"% {escaped}%",
        "q_within": f"%{escaped}%",
    }


def _bound(clause: ColumnElement[_T], text: str) -> ColumnElement[_T]:
    """A copy of `clause`, built once, with the values of a search for `text` bound."""
    values = _search_values(text)

    def bind(param: BindParameter[Any]) -> None:
        if param.key in values:
            param.value, param.required = values[param.key], False

    return cloned_traverse(clause, {}, {"bindparam": bind})


def _like(column: Any, name: str) -> ColumnElement[bool]:
    return column.ilike(bindparam(name, type_=String()), escape="\\")  # type: ignore[no-any-return]


# A party's whole name, as the trigram index on it is written (`ix_party_search_name`).
PARTY_NAME = col(Party.first_name).concat(literal_column("' '")).concat(col(Party.last_name))


def _party_where(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Whether a party of the case holds `condition`: looked up by the case, for the few cases
    ranked, not by reading every party."""
    return select(col(Party.id)).where(col(Party.case_id) == col(Case.id), condition).exists()


def _search(view: str) -> _Search:
    names, sources = view in ("full", "rep"), view in ("full", "referrer")
    numbers = summary = view == "full"
    own = [_like(col(Case.reference), "q_within")]
    whole = [_like(col(Case.reference), "q_whole")]
    if sources:
        own.append(_like(col(Case.source_reference), "q_within"))
        whole.append(_like(col(Case.source_reference), "q_whole"))
    if summary:
        own.append(_like(col(Case.summary), "q_within"))
    found = select(col(Case.id)).where(or_(*own)).correlate(None)
    party: list[ColumnElement[bool]] = []
    if names:
        party.append(_like(PARTY_NAME, "q_within"))
    if numbers:
        party.append(_like(col(Party.prisoner_number), "q_within"))
        whole.append(_party_where(_like(col(Party.prisoner_number), "q_whole")))
    # Each table's matches found by its own indexes, then joined to the cases: an OR across the
    # two tables would read every case.
    matches = col(Case.id).in_(
        union(found, select(col(Party.case_id)).where(or_(*party))) if party else found
    )
    ranks: list[tuple[ColumnElement[bool], int]] = [(or_(*whole), 0)]
    if names:
        # A word of the name starting with the text: at the start, or after a space. Written on
        # the whole name, so that its trigram index finds them.
        starts = or_(_like(PARTY_NAME, "q_start"), _like(PARTY_NAME, "q_word"))
        ranks.append((_party_where(starts), 1))
    return _Search(matches, sql_case(*ranks, else_=2))


_SEARCH = {view: _search(view) for view in SEARCHED}

# The version of a case's row (PostgreSQL), which every write to the row changes: what a view
# kept between requests is checked against (`app.cases.view_cache`).
ROW_VERSION: ColumnElement[str] = literal_column("rj_case.xmin::text")


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
