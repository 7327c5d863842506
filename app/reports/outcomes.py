"""The outcomes report: the prison incidents of the people who took part in cases concluded in a
period, in the months before their referral and after the conclusion, beside those of the people
who declined or withdrew (docs/reports.md has the definitions).

All of it is one statement: the people and their windows, their incidents joined by prisoner
number and time (the index `ix_incident_record_prisoner_occurred`), summed per person and then
per group, so the database returns two rows whatever the number of people.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.common.dates import day_end, day_start
from app.common.enums import CONCLUDE_OUTCOMES, IncidentFamily, IncidentPart, MovementDirection, Outcome
from app.db import UTCDateTime
from app.models.cases import Case, Party
from app.models.incidents import IncidentRecord, PrisonerMovement
from app.reports.repository import dialect_of, in_period, in_prisons
from app.reports.schemas import IncidentCounts, OutcomeGroup, OutcomePeriod, OutcomesReport
from app.reports.suppression import THRESHOLD, suppress, suppress_by

PERIOD_MONTHS = (3, 6, 12)
GROUPS = ("participants", "comparison")
SIDES = ("before", "after")
FAMILIES = tuple(f.value for f in IncidentFamily)
PARTS = tuple(p.value for p in IncidentPart)

DEFINITIONS = {
    "participants": "Prisoner parties still taking part when their case was concluded (trigger "
    "`conclude`) within [from, to], one per case.",
    "comparison": "Prisoner parties of cases declined or withdrawn within [from, to], and parties "
    "who withdrew from a case concluded within it; their windows end when the case ended.",
    "before": "Incidents in [referral - N months, referral), without the incidents the case was made from.",
    "after": "Incidents in (end, end + N months], the end being the conclusion (for the comparison, "
    "the decline or withdrawal).",
    "withData": "People whose after-window has fully elapsed and who were held in a reporting "
    "prison from the start of their before-window to the end of their after-window: no release or "
    "transfer out received for them before that end, unless a reception followed it no later than "
    "that start. Incident figures count these people only.",
    "byCategory": "Incident type families: violence (ASSAULT, FIGHT, HOSTAGE), "
    "threats_and_antisocial (THREAT, BULLYING, VERBAL_ABUSE, DEBT, THEFT, CELL_SHARE_DISPUTE, "
    "DISORDER, CONCERTED_INDISCIPLINE, BARRICADE, DAMAGE), other (every other type).",
    "byRole": "The person's part in the incident: perpetrator (assailant, perpetrator, fighter, "
    "active involvement, impeded staff), victim (victim, hostage), other (present, suspected, ...).",
    "suppression": f"A figure about fewer than {THRESHOLD} people is null with `suppressed: true`, "
    "never 0, and one more figure of its set is hidden so that it cannot be worked out.",
}


def _moment(dialect: str, column: Any, months: int = 0) -> ColumnElement[Any]:
    """A time `months` calendar months from `column`, comparable with `_moment` of any other.
    PostgreSQL adds months in the session's time zone, set to UTC for the statement; SQLite
    compares Julian day numbers (it keeps text)."""
    if dialect == "postgresql":
        if not months:
            return column  # type: ignore[no-any-return]
        return column + literal_column(f"interval '{months:d} months'")  # type: ignore[no-any-return]
    if not months:
        return func.julianday(column)
    return func.julianday(column, f"{months:+d} months")


class _Names:
    """The column names of the statement, per months, side and split."""

    @staticmethod
    def count(months: int, side: str, split: str) -> str:
        return f"n_{months}_{side}_{split}"

    @staticmethod
    def people(months: int, side: str, split: str) -> str:
        return f"p_{months}_{side}_{split}"

    @staticmethod
    def with_data(months: int) -> str:
        return f"wd_{months}"


async def outcomes(
    session: AsyncSession, *, prisons: list[str] | None, from_date: date, to_date: date
) -> OutcomesReport:
    """The report for `prisons` (None: all) over the cases ended between two dates, both included."""
    now = clock.now()
    rows = await _figures(session, prisons, day_start(from_date), day_end(to_date), now)
    groups = {g: _group(rows.get(g, {})) for g in GROUPS}
    return OutcomesReport(
        prison_ids=prisons,
        from_date=from_date,
        to_date=to_date,
        as_of=now,
        definitions=DEFINITIONS,
        periods=groups["participants"].periods,
        comparison=groups["comparison"],
    )


async def _figures(
    session: AsyncSession, prisons: list[str] | None, start: datetime, end: datetime, now: datetime
) -> dict[str, dict[str, int]]:
    dialect = dialect_of(session)
    concluded = and_(
        col(Case.outcome).in_([o.value for o in CONCLUDE_OUTCOMES]),
        in_period(col(Case.concluded_at), start, end),
    )
    declined = and_(col(Case.decline_reason).is_not(None), in_period(col(Case.closed_at), start, end))
    withdrawn = and_(
        col(Case.decline_reason).is_(None),
        col(Case.outcome) == Outcome.WITHDRAWN.value,
        in_period(col(Case.concluded_at), start, end),
    )
    ended_at = sql_case(
        (col(Case.decline_reason).is_not(None), col(Case.closed_at)), else_=col(Case.concluded_at)
    )

    # Participants took part to the conclusion; everyone else in a case that ended in the period
    # (declined, withdrawn, or left before the conclusion) is the comparison.
    took_part = and_(concluded, col(Party.participating).is_(True))
    base = (
        select(
            sql_case(
                (took_part, literal_column("'participants'")), else_=literal_column("'comparison'")
            ).label("grp"),
            col(Party.id).label("pid"),
            col(Case.id).label("case_id"),
            col(Party.prisoner_number).label("pn"),
            col(Case.created_at).label("start_at"),
            ended_at.label("end_at"),
        )
        .join(Case, col(Case.id) == col(Party.case_id))
        .where(in_prisons(col(Case.prison_id), prisons), or_(concluded, declined, withdrawn))
        .cte("base")
    )

    def moment(column: Any, months: int = 0) -> ColumnElement[Any]:
        return _moment(dialect, column, months)

    now_value = literal(now, UTCDateTime())

    def with_data(months: int) -> ColumnElement[int]:
        out = PrisonerMovement.__table__.alias("left_custody")  # type: ignore[attr-defined]
        back = PrisonerMovement.__table__.alias("back_in_custody")  # type: ignore[attr-defined]
        # Both correlate with the person's row two levels up, which SQLAlchemy does not on its own.
        came_back = (
            exists()
            .where(
                back.c.prisoner_number == out.c.prisoner_number,
                back.c.direction == MovementDirection.IN.value,
                moment(back.c.occurred_at) > moment(out.c.occurred_at),
                moment(back.c.occurred_at) <= moment(base.c.start_at, -months),
            )
            .correlate_except(back)
        )
        away = (
            exists()
            .where(
                out.c.prisoner_number == base.c.pn,
                out.c.direction == MovementDirection.OUT.value,
                moment(out.c.occurred_at) <= moment(base.c.end_at, months),
                ~came_back,
            )
            .correlate_except(out)
        )
        elapsed = moment(base.c.end_at, months) <= moment(now_value)
        return sql_case((and_(elapsed, ~away), 1), else_=0)

    # Each person's window bounds, worked out once here rather than for each incident row.
    who = select(
        base,
        moment(base.c.start_at).label("referred"),
        moment(base.c.end_at).label("ended"),
        *(moment(base.c.start_at, -m).label(f"from_{m}") for m in PERIOD_MONTHS),
        *(moment(base.c.end_at, m).label(f"until_{m}") for m in PERIOD_MONTHS),
        *(with_data(m).label(_Names.with_data(m)) for m in PERIOD_MONTHS),
    ).cte("who")
    if dialect == "postgresql":
        # Kept as computed: inlined, PostgreSQL would work the bounds out again for each incident row.
        who = who.prefix_with("MATERIALIZED")

    incident = IncidentRecord.__table__.alias("incident")  # type: ignore[attr-defined]
    at = moment(incident.c.occurred_at)
    not_index = or_(incident.c.case_id.is_(None), incident.c.case_id != who.c.case_id)
    windows = {
        (m, "before"): and_(at >= who.c[f"from_{m}"], at < who.c.referred, not_index) for m in PERIOD_MONTHS
    } | {(m, "after"): and_(at > who.c.ended, at <= who.c[f"until_{m}"], not_index) for m in PERIOD_MONTHS}
    widest = max(PERIOD_MONTHS)

    # Each incident row's windows, worked out once: the fewest months of a before-window, and of an
    # after-window, that hold it (none for the case's own incidents, or those in between).
    def bucket(side: str) -> ColumnElement[Any]:
        return sql_case(*((windows[(m, side)], m) for m in PERIOD_MONTHS), else_=None)

    rows = (
        select(
            who.c.grp,
            who.c.pid,
            *(who.c[_Names.with_data(m)] for m in PERIOD_MONTHS),
            incident.c.family,
            incident.c.part,
            bucket("before").label("before"),
            bucket("after").label("after"),
        )
        .select_from(
            who.join(
                incident,
                and_(
                    incident.c.prisoner_number == who.c.pn,
                    # Nobody's incidents count without data for the shortest windows.
                    who.c[_Names.with_data(min(PERIOD_MONTHS))] == 1,
                    or_(windows[(widest, "before")], windows[(widest, "after")]),
                ),
            )
        )
        .subquery("incident_rows")
    )
    split_tests = [(f"family_{f}", rows.c.family == f) for f in FAMILIES] + [
        (f"part_{p}", rows.c.part == p) for p in PARTS
    ]
    sums = [
        func.sum(sql_case((and_(rows.c[side] <= m, test), 1), else_=0)).label(_Names.count(m, side, name))
        for m in PERIOD_MONTHS
        for side in SIDES
        for name, test in split_tests
    ]
    per_person = (
        select(rows.c.grp, *(rows.c[_Names.with_data(m)] for m in PERIOD_MONTHS), *sums)
        .group_by(rows.c.grp, rows.c.pid, *(rows.c[_Names.with_data(m)] for m in PERIOD_MONTHS))
        .subquery("per_person")
    )
    # Everyone is counted from `who`; only those with an incident in a window reach `per_person`.
    totals = (
        select(
            who.c.grp,
            func.count().label("participants"),
            *(func.sum(who.c[_Names.with_data(m)]).label(_Names.with_data(m)) for m in PERIOD_MONTHS),
        )
        .group_by(who.c.grp)
        .subquery("totals")
    )
    figures: list[Any] = []
    for m in PERIOD_MONTHS:
        wd = per_person.c[_Names.with_data(m)]
        for side in SIDES:
            for name, _test in split_tests:
                n = func.coalesce(per_person.c[_Names.count(m, side, name)], 0)
                figures.append(func.sum(wd * n).label(_Names.count(m, side, name)))
                figures.append(
                    func.sum(sql_case((and_(wd == 1, n > 0), 1), else_=0)).label(_Names.people(m, side, name))
                )
            anything = or_(
                *(per_person.c[_Names.count(m, side, f"family_{f}")] > 0 for f in FAMILIES), false()
            )
            figures.append(
                func.sum(sql_case((and_(wd == 1, anything), 1), else_=0)).label(_Names.people(m, side, "all"))
            )
    if dialect == "postgresql":
        # The statement's many sums would otherwise be compiled just in time, which costs more than
        # the whole report takes to run.
        await session.execute(text("SET LOCAL jit = off"))
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
        await session.execute(text("SET LOCAL TimeZone = 'UTC'"))
    counted = select(per_person.c.grp, *figures).group_by(per_person.c.grp).subquery("counted")
    result = await session.execute(
        select(totals, *(c for c in counted.c if c.name != "grp")).select_from(
            totals.outerjoin(counted, counted.c.grp == totals.c.grp)
        )
    )
    return {row.grp: {k: int(v or 0) for k, v in row._mapping.items() if k != "grp"} for row in result}


def _group(row: dict[str, int]) -> OutcomeGroup:
    return OutcomeGroup(periods=[_period(row, m) for m in PERIOD_MONTHS])


def _period(row: dict[str, int], months: int) -> OutcomePeriod:
    def get(name: str) -> int:
        return row.get(name, 0)

    # Each on its own: the two are not parts of one total, so neither gives the other away.
    shown = {
        key: suppress({key: value})[key]
        for key, value in (("participants", get("participants")), ("withData", get(_Names.with_data(months))))
    }
    too_few = get(_Names.with_data(months)) < THRESHOLD
    totals: dict[str, int | None] = {}
    cells: dict[str, dict[str, dict[str, int | None]]] = {"family": {}, "part": {}}
    for side in SIDES:
        total = sum(get(_Names.count(months, side, f"family_{f}")) for f in FAMILIES)
        (totals[side],) = suppress_by({side: total}, {side: get(_Names.people(months, side, "all"))}).values()
        for kind, names in (("family", FAMILIES), ("part", PARTS)):
            values = {n: get(_Names.count(months, side, f"{kind}_{n}")) for n in names}
            people = {n: get(_Names.people(months, side, f"{kind}_{n}")) for n in names}
            for name, value in suppress_by(values, people).items():
                cells[kind].setdefault(name, {})[side] = value
    if too_few:
        totals = dict.fromkeys(SIDES)
        cells = {kind: {n: dict.fromkeys(SIDES) for n in split} for kind, split in cells.items()}

    def counts(kind: str, name: str) -> IncidentCounts:
        before, after = cells[kind][name]["before"], cells[kind][name]["after"]
        return IncidentCounts(
            incidents_before=before, incidents_after=after, suppressed=before is None or after is None
        )

    by_category = {f: counts("family", f) for f in FAMILIES}
    by_role = {p: counts("part", p) for p in PARTS}
    figures = [shown["participants"], shown["withData"], totals["before"], totals["after"]]
    return OutcomePeriod(
        months=months,
        participants=shown["participants"],
        with_data=shown["withData"],
        incidents_before=totals["before"],
        incidents_after=totals["after"],
        by_category=by_category,
        by_role=by_role,
        suppressed=any(v is None for v in figures)
        or any(c.suppressed for c in (*by_category.values(), *by_role.values())),
    )
