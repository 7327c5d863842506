"""API clients (admin): who holds a key, revoking a key, and rotating one."""

import uuid

from fastapi import APIRouter, Response

from app.api.deps import ContextDep, PagingDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth import service
from app.auth.access import Permission
from app.auth.schemas import ClientPublic, RotatedClient, RotationRequest
from app.common.schemas import Page

router = APIRouter(
    prefix="/clients",
    tags=["clients"],
    dependencies=[permission(Permission.CLIENTS_MANAGE)],
)


@router.get("", response_model=Page[ClientPublic], responses=errors(422))
async def list_clients(session: SessionDep, principal: PrincipalDep, paging: PagingDep) -> Page[ClientPublic]:
    """The clients whose caseload lies within the caller's, oldest first; never a key."""
    rows, total = await service.list_clients(session, principal, offset=paging.offset, limit=paging.size)
    return Page[ClientPublic].of(
        [ClientPublic.of(c) for c in rows], number=paging.page, size=paging.size, total=total
    )


@router.post("/{client_id}/revoke", response_model=ClientPublic, responses=errors(404, 409))
async def revoke(client_id: uuid.UUID, session: SessionDep, ctx: ContextDep) -> ClientPublic:
    """Stop the client's keys, at once, in every process of the service (audited)."""
    client = await service.managed_client(session, ctx.principal, client_id)
    return ClientPublic.of(await service.revoke_client(session, ctx, client))


@router.post("/{client_id}/rotate", response_model=RotatedClient, responses=errors(404, 409, 422))
async def rotate(
    client_id: uuid.UUID, body: RotationRequest, session: SessionDep, ctx: ContextDep, response: Response
) -> RotatedClient:
    """A new key for the client, shown here once; the current key keeps working for
    `overlapHours`, then stops (audited). The response is never kept: a retry with the same
    `Idempotency-Key` is 409 `IDEMPOTENCY_RESPONSE_NOT_KEPT`, without the key."""
    client = await service.managed_client(session, ctx.principal, client_id)
    client, key = await service.rotate_client(session, ctx, client, overlap_hours=body.overlap_hours)
    # The key is shown once: no cache, and no replay of this response for an Idempotency-Key.
    response.headers["Cache-Control"] = "no-store"
    return RotatedClient(**ClientPublic.of(client).model_dump(), key=key)
