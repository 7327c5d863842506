"""Who is calling, and who can be named as a case's practitioner."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import PagingDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth import practitioners
from app.auth.access import Permission, require_prison
from app.auth.schemas import Me, PractitionerPublic
from app.common.schemas import Page, PrisonId

router = APIRouter(tags=["people"])


@router.get("/me", response_model=Me)
async def me(principal: PrincipalDep) -> Me:
    """The caller: role, caseload, and the ids they act by."""
    return Me.of(principal)


@router.get(
    "/practitioners",
    response_model=Page[PractitionerPublic],
    responses=errors(403, 422),
    dependencies=[permission(Permission.PRACTITIONERS_READ)],
)
async def list_practitioners(
    session: SessionDep,
    principal: PrincipalDep,
    paging: PagingDep,
    prison_id: Annotated[PrisonId | None, Query(alias="prisonId")] = None,
) -> Page[PractitionerPublic]:
    """The practitioners who work in the caller's prisons (or in `prisonId`), by name, with API
    keys or signed in through the prisons' identity provider."""
    if prison_id is not None:
        require_prison(principal, prison_id)
    found = await practitioners.listed(session, principal, prison_id)
    shown = found[paging.offset : paging.offset + paging.size]
    return Page.of(
        [PractitionerPublic.of(p) for p in shown], number=paging.page, size=paging.size, total=len(found)
    )
