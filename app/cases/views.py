"""One place that decides which fields of a case each role sees: as models built in Python, and
as JSON written by PostgreSQL for pages of cases."""

from sqlalchemy import ColumnElement, literal_column
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.access import SEES_RESPONSIBILITY, SEES_RISK_NOTES, case_scope
from app.cases.parties import DEFAULT_FOLLOW_UP, follow_up_of
from app.cases.repository import (
    CONSENT_ORDER,
    FLAG_ORDER,
    PARTY_ORDER,
    RESPONSIBILITY_ORDER,
    CaseBundle,
    CaseFilters,
    list_case_views,
    list_cases,
)
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
    ResponsibilityStatus,
    Source,
)
from app.cases.view_cache import CaseViewCache
from app.common.enums import CaseState, Role
from app.common.sql_json import json_array, json_object, json_time
from app.context import Principal
from app.db import DriverConnection, on_sqlite
from app.errors import invalid_field


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
                    participating=p.participating,
                )
                for p in bundle.parties
            ],
            assignment=assignment,
            hold=hold,
        )
    sees_responsibility = principal.role in SEES_RESPONSIBILITY
    parties = [
        PartyPublic(
            id=p.id,
            prisoner_number=p.prisoner_number,
            first_name=p.first_name,
            last_name=p.last_name,
            role=p.role,
            location=p.location,
            participating=p.participating,
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
            follow_up=follow_up_of(p),
            outcome_updates=p.outcome_updates,
            responsibility=(
                ResponsibilityStatus(acknowledged=entry.acknowledged, recorded_at=entry.recorded_at)
                if sees_responsibility and (entry := bundle.responsibility.get(p.id)) is not None
                else None
            ),
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


# The same views built by PostgreSQL, for pages of cases: each row of `rj_case` as the JSON text
# `present_case` would send for it, its children read and arranged in the statement (parties by
# arrival, each party's latest consent for each scope and latest responsibility entry, reps and
# flags in the bundle's orders).
# A page is then sent as PostgreSQL wrote it, without building a bundle, a model or a document
# per case in Python. tests/cases/test_read_paths.py compares both, field by field, for every
# role on every case of a national data set.


def _order(alias: str, columns: tuple[str, ...]) -> str:
    """An ORDER BY list of `columns` of the rows named `alias`."""
    return ", ".join(f"{alias}.{name}" for name in columns)


def _case(column: str) -> str:
    return f"rj_case.{column}"


def _sql_views() -> dict[tuple[str, bool], str]:
    """The JSON text of each view of a case row, by view and whether risk notes are shown."""
    c = _case
    common = {
        "id": c("id"),
        "reference": c("reference"),
        "prison_id": c("prison_id"),
        "state": c("state"),
        "version": c("version"),
        "created_at": json_time(c("created_at")),
        "updated_at": json_time(c("updated_at")),
    }
    source = json_object(system=c("source_system"), reference=c("source_reference"))
    assignment = json_object(
        practitioner_id=c("practitioner_id"),
        rep_ids=json_array("r.rep_id", f"case_rep r WHERE r.case_id = {c('id')}", "r.rep_id"),
    )
    hold = (
        f"CASE WHEN {c('state')} = '{CaseState.ON_HOLD.value}' AND {c('previous_state')} IS NOT NULL "
        f"AND {c('paused_until')} IS NOT NULL THEN "
        + json_object(
            paused_from=c("previous_state"), until=json_time(c("paused_until")), reason=c("pause_reason")
        )
        + " END"
    )
    parties = f"party p WHERE p.case_id = {c('id')}"
    party_order = _order("p", PARTY_ORDER)
    # Each party's consents: the latest entry of the ledger for each scope (the last in ledger
    # order, where an empty value sorts last), by scope; read once for the whole case.
    latest_first = ", ".join(f"k.{name} DESC NULLS FIRST" for name in CONSENT_ORDER if name != "scope")
    latest = (
        "(SELECT DISTINCT ON (k.party_id, k.scope) k.* FROM consent k "  # noqa: S608
        f"WHERE k.case_id = {c('id')} ORDER BY k.party_id, k.scope, {latest_first}) k"
    )
    consent = json_object(
        given="k.given",
        method="k.method",
        recorded_by="k.recorded_by",
        recorded_at=json_time("k.recorded_at"),
    )
    by_party = (
        f"(SELECT k.party_id, json_object_agg(k.scope, {consent} ORDER BY k.scope) AS consents "  # noqa: S608
        f"FROM {latest} GROUP BY k.party_id) pc"
    )
    with_consents = f"party p LEFT JOIN {by_party} ON pc.party_id = p.id WHERE p.case_id = {c('id')}"
    consents = "coalesce(pc.consents, '{}'::json)"
    named = {"first_name": "p.first_name", "last_name": "p.last_name"}
    placed = {"role": "p.role", "location": "p.location", "participating": "p.participating"}
    for_rep = json_object(id="p.id", **named, **placed)
    # A party's latest responsibility entry (the last in ledger order), or null.
    latest_entry = ", ".join(f"x.{name} DESC" for name in RESPONSIBILITY_ORDER)
    responsibility = (
        f"(SELECT {json_object(acknowledged='x.acknowledged', recorded_at=json_time('x.recorded_at'))} "  # noqa: S608
        f"FROM responsibility x WHERE x.party_id = p.id ORDER BY {latest_entry} LIMIT 1)"
    )
    public = json_object(
        id="p.id",
        prisoner_number="p.prisoner_number",
        **named,
        **placed,
        consents=consents,
        follow_up=f"coalesce(p.follow_up, '{DEFAULT_FOLLOW_UP.value}')",
        outcome_updates="p.outcome_updates",
        responsibility=responsibility,
    )
    flags = json_array(
        json_object(
            kind="f.kind", at=json_time("f.at"), detail="f.detail", prisoner_number="f.prisoner_number"
        ),
        f"case_flag f WHERE f.case_id = {c('id')}",
        _order("f", FLAG_ORDER),
    )
    referrer = json_object(**common, view="'referrer'", source=source, outcome=c("outcome"))
    rep = json_object(
        **common,
        view="'rep'",
        category=c("category"),
        summary=c("summary"),
        risk_level=c("risk_level"),
        facilitator=c("facilitator"),
        parties=json_array(for_rep, parties, party_order),
        assignment=assignment,
        hold=hold,
    )

    def full(risk_notes: str) -> str:
        return json_object(
            **common,
            view="'full'",
            category=c("category"),
            summary=c("summary"),
            description=c("description"),
            risk_level=c("risk_level"),
            risk_notes=risk_notes,
            facilitator=c("facilitator"),
            source=source,
            parties=json_array(public, with_consents, party_order),
            assignment=assignment,
            hold=hold,
            outcome=c("outcome"),
            decline_reason=c("decline_reason"),
            referred_by=c("referred_by"),
            incident_occurred_at=json_time(c("incident_occurred_at")),
            closed_at=json_time(c("closed_at")),
            flags=flags,
        )

    return {
        ("referrer", False): referrer,
        ("rep", False): rep,
        ("full", False): full("NULL"),
        ("full", True): full(c("risk_notes")),
    }


_SQL_VIEWS: dict[str, ColumnElement[str]] = {
    ("risk-notes" if notes else name): literal_column(f"({sql})::text")
    for (name, notes), sql in _sql_views().items()
}


def view_name(principal: Principal) -> str:
    """Which view of a case the caller is sent: 'referrer', 'rep', 'full', or 'risk-notes' (the
    full view with the risk notes)."""
    if principal.role == Role.REFERRER:
        return "referrer"
    if principal.role == Role.REP:
        return "rep"
    return "risk-notes" if principal.role in SEES_RISK_NOTES else "full"


def searched_view(principal: Principal) -> str:
    """Which fields a search by the caller looks in (`app.cases.repository.SEARCHED`): only those
    of their view of a case."""
    name = view_name(principal)
    return "full" if name == "risk-notes" else name


def search_text(q: str | None) -> str | None:
    """The text of a search, without surrounding spaces: at least two characters (422 naming `q`
    otherwise), or None for no search."""
    if q is None:
        return None
    text = q.strip()
    if len(text) < 2:
        raise invalid_field("q", "a search needs at least 2 characters")
    return text


# The filters on fields a view of a case leaves out, by view: filtering on them would tell the
# caller what the view hides.
_UNSEEN_FILTERS = {
    "referrer": frozenset({"category", "riskLevel", "hasOpenConcern"}),
    "rep": frozenset({"hasOpenConcern"}),
}


def refuse_unseen_filters(principal: Principal, **given: object) -> None:
    """422 naming the first of the `given` filters (by query name) on a field the caller's view
    of a case does not show."""
    unseen = _UNSEEN_FILTERS.get(view_name(principal), frozenset())
    for name, value in given.items():
        if value is not None and name in unseen:
            raise invalid_field(
                name, "this filter is on a field your view of a case does not show", "filter_not_in_view"
            )


async def list_views(
    conn: AsyncSession | DriverConnection,
    principal: Principal,
    filters: CaseFilters,
    *,
    offset: int,
    limit: int,
    cache: CaseViewCache | None = None,
) -> tuple[list[str], int]:
    """A page of the cases the caller may see that match `filters`, each as the JSON text of its
    view for the caller, and how many match in all: written by PostgreSQL (on a session or a
    driver connection, `app.db.Database.driver`), or taken from `cache` where it holds the
    cases' views at their current versions; or presented here from the portable statements'
    bundles."""
    scope = case_scope(principal)
    if on_sqlite(conn):
        bundles, total = await list_cases(conn, scope=scope, filters=filters, offset=offset, limit=limit)
        return [present_case(principal, bundle).model_dump_json(by_alias=True) for bundle in bundles], total
    name = view_name(principal)
    return await list_case_views(
        conn,
        view=_SQL_VIEWS[name],
        name=name,
        scope=scope,
        caller=principal,
        filters=filters,
        offset=offset,
        limit=limit,
        cache=cache,
    )
