"""Issuing API keys and recognising them."""

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_global_change
from app.auth.access import manages_client
from app.common.enums import Role
from app.common.patterns import PRISON_ID
from app.context import Principal, RequestContext
from app.db import Conn, DriverConnection, dialect_insert, read_row
from app.errors import InvalidStateError, NotFoundError, ValidationFailedError
from app.models.auth import ApiClient, ApiClientGeneration
from app.models.reps import Rep

KEY_PREFIX = "rjk_"


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def principal_of(client: ApiClient) -> Principal:
    """The principal an API client acts as."""
    return Principal(
        client_id=client.id,
        name=client.name,
        role=Role(client.role),
        prisons=None if client.all_prisons else frozenset(client.prisons),
        rep_id=client.rep_id,
    )


@dataclass(frozen=True, slots=True)
class KnownKey:
    """A key the database accepted: whom it stands for, at which generation of the clients'
    changes (`ApiClientGeneration`), and when the key itself stops (a rotated-out key)."""

    principal: Principal
    generation: int
    key_expires_at: datetime | None
    remember_until: float

    def usable(self, generation: int) -> bool:
        """Whether the key still stands for the principal, given the generation read now."""
        return generation == self.generation and (
            self.key_expires_at is None or clock.now() < self.key_expires_at
        )


class PrincipalCache:
    """Keys this process looked up in the last few seconds, so that a busy client costs the read
    of one counter per request instead of its key's lookup. Only what the database said is kept,
    for a bounded time, with the generation of the clients' changes it was read at: a revocation
    or a rotation moves the generation, and every process sees it on its next request."""

    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[str, KnownKey] = {}

    def get(self, key_hash: str) -> KnownKey | None:
        """What was seen for this key, if seen recently enough."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.remember_until < time.monotonic():
            del self._entries[key_hash]
            return None
        return entry

    def confirmed(self, key_hash: str, entry: KnownKey, generation: int) -> Principal | None:
        """The principal of a remembered key, if nothing took keys away since; else forget it."""
        if entry.usable(generation):
            return entry.principal
        self._entries.pop(key_hash, None)
        return None

    def put(
        self, key_hash: str, principal: Principal, *, generation: int, key_expires_at: datetime | None
    ) -> None:
        """Remember a key the database accepted."""
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key_hash] = KnownKey(
            principal, generation, key_expires_at, time.monotonic() + self.seconds
        )


def _may_be_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX) and len(token) <= 200


def _key_expires_at(client: ApiClient, key_hash: str) -> datetime | None:
    """When the key stops working by itself: never for the current key; for the previous key of
    a rotated client, at the end of the overlap."""
    return None if client.key_hash == key_hash else client.previous_key_expires_at


# What a principal is made of, looked up on PostgreSQL's driver, with when the key stops
# (a rotated-out key) and the generation read in the same statement.
_PRINCIPAL_COLUMNS = ("id", "name", "role", "prisons", "all_prisons", "rep_id")
_DRIVER_LOOKUP = (
    f"SELECT {', '.join(_PRINCIPAL_COLUMNS)}, "  # noqa: S608 - names from the code
    "CASE WHEN key_hash = $1 THEN NULL ELSE previous_key_expires_at END, "
    "(SELECT value FROM api_client_generation WHERE id = 1) "
    "FROM api_client WHERE active "
    "AND (key_hash = $1 OR (previous_key_hash = $1 AND previous_key_expires_at > $2))"
)
_DRIVER_GENERATION = "SELECT value FROM api_client_generation WHERE id = 1"


async def _on_driver(
    driver: DriverConnection, key_hash: str, cache: PrincipalCache | None
) -> Principal | None:
    """`authenticate` on PostgreSQL's driver connection."""
    known = cache.get(key_hash) if cache is not None else None
    if cache is not None and known is not None:
        principal = cache.confirmed(key_hash, known, await driver.fetchval(_DRIVER_GENERATION) or 0)
        if principal is not None:
            return principal
    row = await driver.fetchrow(_DRIVER_LOOKUP, key_hash, clock.now())
    if row is None:
        return None
    # The engine's connections decode JSON themselves (SQLAlchemy sets their codec).
    columns = len(_PRINCIPAL_COLUMNS)
    principal = principal_of(read_row(ApiClient, dict(zip(_PRINCIPAL_COLUMNS, row[:columns], strict=True))))
    if cache is not None:
        cache.put(key_hash, principal, generation=row[columns + 1] or 0, key_expires_at=row[columns])
    return principal


_GENERATION = select(col(ApiClientGeneration.value)).where(col(ApiClientGeneration.id) == 1)


def _usable_key(key_hash: str) -> ColumnElement[bool]:
    """The clients a key opens now: not revoked, and the key is theirs, or was until a rotation
    whose overlap still runs."""
    return and_(
        col(ApiClient.active),
        or_(
            col(ApiClient.key_hash) == key_hash,
            and_(
                col(ApiClient.previous_key_hash) == key_hash,
                col(ApiClient.previous_key_expires_at) > clock.now(),
            ),
        ),
    )


async def authenticate(conn: Conn, token: str, cache: PrincipalCache | None = None) -> Principal | None:
    """The principal behind a bearer key, or None if the key is unknown, revoked or rotated out."""
    if not _may_be_key(token):
        return None
    key_hash = hash_key(token)
    if not isinstance(conn, AsyncSession):
        return await _on_driver(conn, key_hash, cache)
    session = conn
    known = cache.get(key_hash) if cache is not None else None
    if cache is not None and known is not None:
        generation = (await session.execute(_GENERATION)).scalar_one_or_none() or 0
        principal = cache.confirmed(key_hash, known, generation)
        if principal is not None:
            return principal
    found = (
        await session.execute(select(ApiClient, _GENERATION.scalar_subquery()).where(_usable_key(key_hash)))
    ).one_or_none()
    if found is None:
        return None
    client, generation = found
    principal = principal_of(client)
    if cache is not None:
        cache.put(
            key_hash, principal, generation=generation or 0, key_expires_at=_key_expires_at(client, key_hash)
        )
    return principal


async def create_client(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    name: str,
    role: str,
    prisons: list[str],
    all_prisons: bool,
    rep_id: uuid.UUID | None,
) -> tuple[ApiClient, str]:
    """Register a client and return it with its key (shown once, stored only as a hash)."""
    try:
        role_value = Role(role)
    except ValueError:
        raise ValidationFailedError(
            f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}"
        ) from None
    bad = [p for p in prisons if not re.fullmatch(PRISON_ID, p)]
    if bad:
        raise ValidationFailedError(f"not a prison id: {', '.join(bad)} (three capital letters)")
    if all_prisons and prisons:
        raise ValidationFailedError("give either prisons or all prisons, not both")
    if not all_prisons and not prisons:
        raise ValidationFailedError("a client needs a caseload: at least one prison, or all prisons")
    if role_value == Role.REP:
        if rep_id is None:
            raise ValidationFailedError("a rep client must be bound to a rep record (--rep-id)")
        rep = await session.get(Rep, rep_id)
        if rep is None:
            raise NotFoundError(f"no rep {rep_id}")
        if not all_prisons and rep.prison_id not in prisons:
            raise ValidationFailedError(f"rep {rep_id} is in {rep.prison_id}, outside the caseload")
    elif rep_id is not None:
        raise ValidationFailedError("only a rep client is bound to a rep record")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        name=name,
        role=role_value.value,
        prisons=sorted(set(prisons)),
        all_prisons=all_prisons,
        rep_id=rep_id,
        key_hash=hash_key(key),
        created_at=clock.now(),
    )
    session.add(client)
    await session.flush()
    await record_global_change(
        session,
        ctx,
        action="client.created",
        entity_type="api_client",
        entity_id=client.id,
        after={
            "name": name,
            "role": role_value.value,
            "prisons": client.prisons,
            "allPrisons": all_prisons,
            "repId": rep_id,
        },
    )
    return client, key


# How long a rotated-out key keeps working unless told otherwise, and at most: an overlap is
# for moving callers to the new key, not a second key to keep.
DEFAULT_OVERLAP_HOURS = 24
MAX_OVERLAP_HOURS = 720


class ClientStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    ROTATING = "rotating"


def status_of(client: ApiClient) -> tuple[ClientStatus, datetime | None]:
    """A client's status now, and for a rotating client when its previous key stops."""
    if not client.active:
        return ClientStatus.REVOKED, None
    ends = client.previous_key_expires_at
    if ends is not None and ends > clock.now():
        return ClientStatus.ROTATING, ends
    return ClientStatus.ACTIVE, None


async def list_clients(
    session: AsyncSession, principal: Principal, *, offset: int, limit: int
) -> tuple[list[ApiClient], int]:
    """A page of the clients the caller manages, oldest first, and how many there are."""
    rows = (
        await session.execute(select(ApiClient).order_by(col(ApiClient.created_at), col(ApiClient.id)))
    ).scalars()
    # Whether a client's caseload lies within the caller's is read from its JSON list of prisons,
    # which neither database compares alike; there are a few hundred clients at most.
    managed = [c for c in rows if manages_client(principal, c)]
    return managed[offset : offset + limit], len(managed)


async def managed_client(session: AsyncSession, principal: Principal, client_id: uuid.UUID) -> ApiClient:
    """A client the caller manages, locked for the change to come (404 otherwise)."""
    client = (
        await session.execute(select(ApiClient).where(col(ApiClient.id) == client_id).with_for_update())
    ).scalar_one_or_none()
    if client is None or not manages_client(principal, client):
        raise NotFoundError(f"no client {client_id}")
    return client


async def _take_keys_away(session: AsyncSession) -> None:
    """Move the generation every process compares its remembered keys with."""
    await session.execute(
        dialect_insert(session)(ApiClientGeneration)
        .values(id=1, value=1)
        .on_conflict_do_update(index_elements=["id"], set_={"value": col(ApiClientGeneration.value) + 1})
    )


async def revoke_client(session: AsyncSession, ctx: RequestContext, client: ApiClient) -> ApiClient:
    """Stop every key of the client at once, in every process."""
    status, _ends = status_of(client)
    if status == ClientStatus.REVOKED:
        raise InvalidStateError(f"client {client.id} was already revoked at {client.revoked_at}")
    client.active = False
    client.revoked_at = clock.now()
    await _take_keys_away(session)
    await record_global_change(
        session,
        ctx,
        action="client.revoked",
        entity_type="api_client",
        entity_id=client.id,
        before={"status": status.value},
        after={"status": ClientStatus.REVOKED.value, "revokedAt": client.revoked_at},
    )
    return client


async def rotate_client(
    session: AsyncSession, ctx: RequestContext, client: ApiClient, *, overlap_hours: int
) -> tuple[ApiClient, str]:
    """Give the client a new key (returned, shown once); its current key keeps working for
    `overlap_hours`, then stops."""
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise ValidationFailedError(f"the overlap is 0 to {MAX_OVERLAP_HOURS} hours, not {overlap_hours}")
    status, ends = status_of(client)
    if status == ClientStatus.REVOKED:
        raise InvalidStateError(f"client {client.id} is revoked; issue a new client instead")
    if status == ClientStatus.ROTATING:
        # A second rotation would cut the first one's overlap short, or leave three keys working.
        raise InvalidStateError(
            f"client {client.id}'s previous key works until {ends}; rotate again after that, "
            "or revoke the client"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    client.previous_key_hash = client.key_hash
    client.previous_key_expires_at = clock.now() + timedelta(hours=overlap_hours)
    client.key_hash = hash_key(key)
    await _take_keys_away(session)
    await record_global_change(
        session,
        ctx,
        action="client.rotated",
        entity_type="api_client",
        entity_id=client.id,
        before={"status": status.value},
        after={"overlapHours": overlap_hours, "previousKeyExpiresAt": client.previous_key_expires_at},
    )
    return client, key
