"""Incident reports from the prison incident-reporting system, turned into referrals.

The two tables below are the whole mapping; docs/integration.md repeats them.
"""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import repository as repo
from app.cases import service as cases
from app.cases.schemas import PartyCreate
from app.common.enums import CaseState, Category, PartyRole
from app.context import RequestContext
from app.errors import ValidationFailedError
from app.models.cases import Case
from app.referrals import incident_history
from app.referrals.schemas import Incident, IncidentReport, ReferralCreate, SourceRef
from app.referrals.service import refer

SOURCE_SYSTEM = "INCIDENT_REPORTING"

# The incident system gives local times without an offset.
LOCAL_TIME = ZoneInfo("Europe/London")

# Incident types are `<FAMILY>_<n>` (ASSAULT_5, DISORDER_2, FIND_6): the family decides the category.
CATEGORY_BY_TYPE_FAMILY: dict[str, Category] = {
    "ASSAULT": Category.ASSAULT,
    "FIGHT": Category.FIGHT,
    "DISORDER": Category.FIGHT,
    "CONCERTED_INDISCIPLINE": Category.FIGHT,
    "BULLYING": Category.BULLYING,
    "THREAT": Category.THREATS,
    "THREATS": Category.THREATS,
    "HOSTAGE": Category.THREATS,
    "VERBAL_ABUSE": Category.VERBAL_ABUSE,
    "DEBT": Category.DEBT,
    "THEFT": Category.THEFT,
    "CELL_SHARE_DISPUTE": Category.CELL_SHARE_DISPUTE,
}
# Any other family (FIND, DRUGS, DAMAGE, FIRE, SELF_HARM, ...) is `other`.

# A prisoner's role in the incident -> their role in the case. Roles not listed (PRESENT_AT_SCENE,
# SUSPECTED_INVOLVED, IMPEDED_STAFF, ASSISTED_STAFF, IN_POSSESSION, INTENDED_RECIPIENT, ABSCONDER,
# ESCAPE, DECEASED, ...) do not make a prisoner a party.
PARTY_ROLE_BY_PRISONER_ROLE: dict[str, PartyRole] = {
    "VICTIM": PartyRole.HARMED,
    "HOSTAGE": PartyRole.HARMED,
    "ASSAILANT": PartyRole.HARMER,
    "PERPETRATOR": PartyRole.HARMER,
    "SUSPECTED_ASSAILANT": PartyRole.HARMER,
    "FIGHTER": PartyRole.BOTH,
    "ACTIVE_INVOLVEMENT": PartyRole.BOTH,
}

_TYPE_NUMBER = re.compile(r"_[0-9]+$")


def category_for(incident_type: str) -> Category:
    """The case category of an incident type (`other` for types not in the table)."""
    return CATEGORY_BY_TYPE_FAMILY.get(_TYPE_NUMBER.sub("", incident_type.strip().upper()), Category.OTHER)


def source_reference(report: IncidentReport) -> str:
    """The report's key in this service: its reference within its prison."""
    return f"{report.location}-{report.report_reference}"


def occurred_at(report: IncidentReport) -> datetime:
    """When the incident happened, with an offset (local time when the report gives none)."""
    when = report.incident_date_and_time
    return when.replace(tzinfo=LOCAL_TIME) if when.tzinfo is None else when


def parties_of(report: IncidentReport) -> list[PartyCreate]:
    """The prisoners in a harm role, once each; refused (422, saying why) when there is none."""
    roles: dict[str, set[PartyRole]] = {}
    names: dict[str, tuple[str, str]] = {}
    for prisoner in report.prisoners_involved:
        role = PARTY_ROLE_BY_PRISONER_ROLE.get(prisoner.prisoner_role.strip().upper())
        if role is None:
            continue
        roles.setdefault(prisoner.prisoner_number, set()).add(role)
        names.setdefault(prisoner.prisoner_number, (prisoner.first_name, prisoner.last_name))
    if not roles:
        named = ", ".join(f"{p.prisoner_number} as {p.prisoner_role}" for p in report.prisoners_involved)
        raise ValidationFailedError(
            f"incident report {report.report_reference} names no prisoner in a harm role "
            f"({', '.join(PARTY_ROLE_BY_PRISONER_ROLE)}), so there is no one to work with; "
            + (f"it names {named}" if named else "it names no prisoner at all"),
            extra={"harmRoles": {k: v.value for k, v in PARTY_ROLE_BY_PRISONER_ROLE.items()}},
        )
    return [
        PartyCreate(
            prisoner_number=number,
            first_name=names[number][0],
            last_name=names[number][1],
            role=next(iter(found)) if len(found) == 1 else PartyRole.BOTH,
        )
        for number, found in roles.items()
    ]


def referral_of(report: IncidentReport) -> ReferralCreate:
    """The native referral an incident report amounts to."""
    parties = parties_of(report)
    try:
        return ReferralCreate(
            prison_id=report.location,
            source=SourceRef(system=SOURCE_SYSTEM, reference=source_reference(report)),
            incident=Incident(
                occurred_at=occurred_at(report),
                category=category_for(report.type),
                description=report.description,
            ),
            parties=parties,
            referred_by=report.reported_by or SOURCE_SYSTEM,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValidationFailedError(
            f"incident report {report.report_reference} cannot be referred: {problems}"
        ) from None


async def refer_report(
    session: AsyncSession, ctx: RequestContext, report: IncidentReport
) -> tuple[Case | None, bool]:
    """The case of this report, and whether it was made now; no case when the settings do not make
    reports of its type and prison referrals (RJ_REFERRAL_INCIDENT_TYPES). Either way the report is
    kept against every prisoner it names (app/referrals/incident_history.py).

    Sent again, the report adds any prisoner newly in a harm role to the open case, each with its
    audit record; a closed case is left as it is.
    """
    when, key = occurred_at(report), source_reference(report)
    if not incident_history.refers(report):
        await incident_history.record_report(session, report, when, key)
        return None, False
    referral = referral_of(report)
    referred = await refer(session, ctx, referral)
    if referred.created:
        await _record(session, report, referred.case, {p.prisoner_number for p in referral.parties})
        return referred.case, True
    locked = await repo.get_case(session, str(referred.case.id), lock=True)
    assert locked is not None  # noqa: S101 - found just above; cases are never deleted
    known = {p.prisoner_number for p in (await repo.load_bundle(session, locked)).parties}
    if locked.state != CaseState.CLOSED:
        for party in referral.parties:
            if party.prisoner_number not in known:
                await cases.add_party(session, ctx, locked, party)
                known.add(party.prisoner_number)
    await _record(session, report, locked, known)
    return locked, False


async def _record(session: AsyncSession, report: IncidentReport, case: Case, parties: set[str]) -> None:
    await incident_history.record_report(
        session, report, occurred_at(report), source_reference(report), case_id=case.id, parties=parties
    )
