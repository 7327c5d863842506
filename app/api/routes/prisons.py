"""Per-prison settings: the practitioner on duty."""

from typing import Annotated

from fastapi import APIRouter, Path

from app.api.deps import ContextDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission, require_prison
from app.common.patterns import PRISON_ID
from app.models.safeguarding import DutyPractitioner
from app.safeguarding import service
from app.safeguarding.schemas import DutyPractitionerPublic, DutyPractitionerSet

router = APIRouter(prefix="/prisons", tags=["safeguarding"])

PrisonPath = Annotated[str, Path(pattern=PRISON_ID)]


def _public(prison_id: str, row: DutyPractitioner | None) -> DutyPractitionerPublic:
    return DutyPractitionerPublic(
        prison_id=prison_id,
        practitioner_id=row.practitioner_id if row else None,
        set_at=row.set_at if row else None,
    )


@router.get(
    "/{prison_id}/duty-practitioner",
    response_model=DutyPractitionerPublic,
    responses=errors(422),
    dependencies=[permission(Permission.CONCERN_READ)],
)
async def get_duty(
    prison_id: PrisonPath, session: SessionDep, principal: PrincipalDep
) -> DutyPractitionerPublic:
    """Who receives the prison's concerns that have no case practitioner (null: every practitioner)."""
    require_prison(principal, prison_id)
    return _public(prison_id, await session.get(DutyPractitioner, prison_id))


@router.put(
    "/{prison_id}/duty-practitioner",
    response_model=DutyPractitionerPublic,
    responses=errors(422),
    dependencies=[permission(Permission.DUTY_SET)],
)
async def set_duty(
    prison_id: PrisonPath, body: DutyPractitionerSet, session: SessionDep, ctx: ContextDep
) -> DutyPractitionerPublic:
    """Name the practitioner on duty (managers and admins); null clears it."""
    row = await service.set_duty_practitioner(session, ctx, prison_id, body.practitioner_id)
    return _public(prison_id, row)
