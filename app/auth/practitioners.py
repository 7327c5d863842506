"""Who can be named as a case's practitioner or a conference's facilitator: practitioners with an
API key, and practitioners known through the prisons' identity provider, recorded when they call.

Both are the same kind of person to the service. A practitioner's id is the id their requests
carry: the API client's id, or for a JWT the id made from the provider and the username.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app import clock
from app.common.enums import Role
from app.context import Principal
from app.db import Database, dialect_insert
from app.models.auth import ApiClient, SignedInPractitioner

# How many signed-in practitioners a process remembers having recorded, before it starts again.
REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class Practitioner:
    """A practitioner as `GET /practitioners` lists them."""

    id: uuid.UUID
    name: str
    prisons: tuple[str, ...]
    all_prisons: bool
    active: bool
    auth_type: str

    def covers(self, prison_id: str) -> bool:
        return self.all_prisons or prison_id in self.prisons


class SignedInRecords:
    """The signed-in practitioners this process has recorded as they are now: a practitioner's
    first request (or the first after their name or caseload changed) writes their record once."""

    def __init__(self) -> None:
        self._recorded: set[Principal] = set()

    async def record(self, db: Database, principal: Principal) -> None:
        """Record a practitioner who called with a JWT (nothing for anyone else)."""
        if principal.role != Role.PRACTITIONER or principal.subject is None or principal in self._recorded:
            return
        assert principal.client_id is not None  # noqa: S101 - a JWT caller always has one
        now = clock.now()
        prisons = sorted(principal.prisons or ())
        values = {
            "username": principal.subject,
            "name": principal.name,
            "prisons": prisons,
            "all_prisons": principal.prisons is None,
            "updated_at": now,
        }
        async with db.transaction() as session:
            await session.execute(
                dialect_insert(session)(SignedInPractitioner)
                .values(id=principal.client_id, first_seen_at=now, **values)
                .on_conflict_do_update(index_elements=["id"], set_=values)
            )
        if len(self._recorded) >= REMEMBERED:
            self._recorded.clear()
        self._recorded.add(principal)


async def find(session: AsyncSession, practitioner_id: uuid.UUID) -> Practitioner | None:
    """The practitioner with this id, active or not; None when nobody practises by it."""
    client = await session.get(ApiClient, practitioner_id)
    if client is not None:
        return _of_client(client) if client.role == Role.PRACTITIONER.value else None
    signed_in = await session.get(SignedInPractitioner, practitioner_id)
    return _of_signed_in(signed_in) if signed_in is not None else None


async def is_practitioner_in(
    session: AsyncSession, practitioner_id: uuid.UUID | None, prison_id: str
) -> bool:
    """Whether `practitioner_id` is an active practitioner whose caseload covers `prison_id`."""
    found = await find(session, practitioner_id) if practitioner_id is not None else None
    return found is not None and found.active and found.covers(prison_id)


async def listed(session: AsyncSession, principal: Principal, prison_id: str | None) -> list[Practitioner]:
    """Every practitioner who works in a prison of the caller's caseload (or in `prison_id`),
    by name."""
    clients = await session.execute(select(ApiClient).where(col(ApiClient.role) == Role.PRACTITIONER.value))
    signed_in = await session.execute(select(SignedInPractitioner))
    everyone = [_of_client(c) for c in clients.scalars()] + [_of_signed_in(s) for s in signed_in.scalars()]

    def shown(p: Practitioner) -> bool:
        if prison_id is not None:
            return p.covers(prison_id)
        if principal.prisons is None or p.all_prisons:
            return True
        return bool(principal.prisons & set(p.prisons))

    return sorted((p for p in everyone if shown(p)), key=lambda p: (p.name.casefold(), str(p.id)))


def _of_client(client: ApiClient) -> Practitioner:
    return Practitioner(
        id=client.id,
        name=client.name,
        prisons=tuple(sorted(client.prisons)),
        all_prisons=client.all_prisons,
        active=client.active,
        auth_type="api_key",
    )


def _of_signed_in(row: SignedInPractitioner) -> Practitioner:
    return Practitioner(
        id=row.id,
        name=row.name,
        prisons=tuple(sorted(row.prisons)),
        all_prisons=row.all_prisons,
        active=True,
        auth_type="jwt",
    )
