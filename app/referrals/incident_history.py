"""Every incident report the service receives, kept against each prisoner it names, and the
prisoners' movements: the facts the outcomes report counts (docs/reports.md).

The two tables below are the published mapping; docs/reports.md repeats them.
"""

import re
import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.common.enums import IncidentFamily, IncidentPart, MovementDirection
from app.config import get_settings
from app.db import dialect_insert, new_id
from app.models.incidents import IncidentRecord, PrisonerMovement
from app.referrals.schemas import IncidentReport

# Incident types are `<FAMILY>_<n>` (ASSAULT_5, DISORDER_2, FIND_6): the family decides the figure's
# category. Any family not listed (FIND, DRUGS, SELF_HARM, FIRE, ESCAPE, DEATH, ...) is `other`.
FAMILY_BY_TYPE_FAMILY: dict[str, IncidentFamily] = {
    "ASSAULT": IncidentFamily.VIOLENCE,
    "FIGHT": IncidentFamily.VIOLENCE,
    "HOSTAGE": IncidentFamily.VIOLENCE,
    "THREAT": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "THREATS": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "BULLYING": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "VERBAL_ABUSE": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "DEBT": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "THEFT": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "CELL_SHARE_DISPUTE": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "DISORDER": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "CONCERTED_INDISCIPLINE": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "BARRICADE": IncidentFamily.THREATS_AND_ANTISOCIAL,
    "DAMAGE": IncidentFamily.THREATS_AND_ANTISOCIAL,
}

# A prisoner's role in the report -> their part in the incident. Roles not listed
# (PRESENT_AT_SCENE, SUSPECTED_INVOLVED, ASSISTED_STAFF, IN_POSSESSION, ...) are `other`.
PART_BY_PRISONER_ROLE: dict[str, IncidentPart] = {
    "ASSAILANT": IncidentPart.PERPETRATOR,
    "PERPETRATOR": IncidentPart.PERPETRATOR,
    "SUSPECTED_ASSAILANT": IncidentPart.PERPETRATOR,
    "FIGHTER": IncidentPart.PERPETRATOR,
    "ACTIVE_INVOLVEMENT": IncidentPart.PERPETRATOR,
    "IMPEDED_STAFF": IncidentPart.PERPETRATOR,
    "VICTIM": IncidentPart.VICTIM,
    "HOSTAGE": IncidentPart.VICTIM,
}
# A prisoner named twice in one report takes the first of these parts they have.
_PRECEDENCE = (IncidentPart.PERPETRATOR, IncidentPart.VICTIM, IncidentPart.OTHER)

# Movements that take a prisoner out of the reporting prisons; temporary absences (ROTL, court,
# hospital) do not.
LEAVING_REASONS = frozenset({"RELEASED", "TRANSFERRED"})

_TYPE_NUMBER = re.compile(r"_[0-9]+$")


def type_family(incident_type: str) -> str:
    """The family part of an incident type: ASSAULT_5 -> ASSAULT."""
    return _TYPE_NUMBER.sub("", incident_type.strip().upper())


def family_for(incident_type: str) -> IncidentFamily:
    """The outcomes report's category of an incident type (`other` for types not in the table)."""
    return FAMILY_BY_TYPE_FAMILY.get(type_family(incident_type), IncidentFamily.OTHER)


def part_for(prisoner_role: str) -> IncidentPart:
    """A prisoner's part in an incident, from their role in the report."""
    return PART_BY_PRISONER_ROLE.get(prisoner_role.strip().upper(), IncidentPart.OTHER)


def refers(report: IncidentReport) -> bool:
    """Whether the settings make this report a referral (RJ_REFERRAL_INCIDENT_TYPES, and its
    per-prison lists in RJ_REFERRAL_INCIDENT_TYPES_BY_PRISON)."""
    settings = get_settings()
    by_prison = {k.upper(): v for k, v in settings.referral_incident_types_by_prison.items()}
    wanted = {t.strip().upper() for t in by_prison.get(report.location, settings.referral_incident_types)}
    kind = report.type.strip().upper()
    return "*" in wanted or kind in wanted or type_family(kind) in wanted


async def record_report(
    session: AsyncSession,
    report: IncidentReport,
    occurred_at: datetime,
    report_key: str,
    *,
    case_id: uuid.UUID | None = None,
    parties: Collection[str] = (),
) -> int:
    """Keep the report against each prisoner it names, once per prisoner however often it comes;
    how many prisoners it names. The prisoners in `parties` are those of the case `case_id` it
    became: only theirs keep the incident type and the case."""
    parts: dict[str, IncidentPart] = {}
    for prisoner in report.prisoners_involved:
        part = part_for(prisoner.prisoner_role)
        known = parts.get(prisoner.prisoner_number)
        if known is None or _PRECEDENCE.index(part) < _PRECEDENCE.index(known):
            parts[prisoner.prisoner_number] = part
    if not parts:
        return 0
    now = clock.now()
    family = family_for(report.type).value
    rows = [
        {
            "id": new_id(),
            "report_key": report_key,
            "prisoner_number": number,
            "occurred_at": occurred_at,
            "prison_id": report.location,
            "family": family,
            "part": part.value,
            "incident_type": report.type.strip().upper()[:60] if number in parties else None,
            "case_id": case_id if number in parties else None,
            "received_at": now,
        }
        for number, part in sorted(parts.items())
    ]
    insert = dialect_insert(session)(IncidentRecord).values(rows)
    new = insert.excluded
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["report_key", "prisoner_number"],
            set_={
                "occurred_at": new.occurred_at,
                "prison_id": new.prison_id,
                "family": new.family,
                "part": new.part,
                "incident_type": func.coalesce(new.incident_type, IncidentRecord.__table__.c.incident_type),  # type: ignore[attr-defined]
                "case_id": func.coalesce(new.case_id, IncidentRecord.__table__.c.case_id),  # type: ignore[attr-defined]
            },
        )
    )
    return len(rows)


def movement_direction(event_type_is_release: bool, reason: object) -> MovementDirection | None:
    """What a movement event means for custody: out (released or transferred), in (received),
    or nothing (a temporary absence)."""
    if not event_type_is_release:
        return MovementDirection.IN
    if isinstance(reason, str) and reason.strip().upper() in LEAVING_REASONS:
        return MovementDirection.OUT
    return None


async def record_movement(
    session: AsyncSession,
    *,
    prisoner_number: str,
    occurred_at: datetime,
    direction: MovementDirection,
    reason: str | None,
    prison_id: str | None,
    inbound_event_id: uuid.UUID | None,
) -> None:
    """Keep one movement, once per event and prisoner."""
    await session.execute(
        dialect_insert(session)(PrisonerMovement)
        .values(
            id=new_id(),
            prisoner_number=prisoner_number,
            occurred_at=occurred_at,
            direction=direction.value,
            reason=reason[:60] if reason else None,
            prison_id=prison_id if prison_id and len(prison_id) <= 3 else None,
            inbound_event_id=inbound_event_id,
            received_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["inbound_event_id", "prisoner_number"])
    )
