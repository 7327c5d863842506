"""Issuing API keys and recognising them."""

import hashlib
import re
import secrets
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_global_change
from app.auth.models import ApiClient
from app.common.enums import Role
from app.common.patterns import PRISON_ID
from app.context import Principal, RequestContext
from app.db import read_row
from app.errors import NotFoundError, ValidationFailedError
from app.reps.models import Rep

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


async def is_practitioner_in(session: AsyncSession, client_id: uuid.UUID | None, prison_id: str) -> bool:
    """Whether `client_id` is an active practitioner whose caseload covers `prison_id`."""
    client = await session.get(ApiClient, client_id) if client_id is not None else None
    return bool(
        client is not None
        and client.role == Role.PRACTITIONER.value
        and client.active
        and (client.all_prisons or prison_id in client.prisons)
    )


class PrincipalCache:
    """Keys this process looked up in the last few seconds, so that a busy client does not
    cost a database round trip per request. Only what the database said is kept, for a bounded
    time; the database stays the one source every instance reads."""

    def __init__(self, seconds: float, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, key_hash: str) -> Principal | None:
        """The principal seen for this key, if seen recently enough."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key_hash]
            return None
        return entry[1]

    def put(self, key_hash: str, principal: Principal) -> None:
        """Remember a key the database accepted."""
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + self.seconds, principal)


def _may_be_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX) and len(token) <= 200


# What a principal is made of, looked up by `authenticate_on_driver`.
_PRINCIPAL_COLUMNS = ("id", "name", "role", "prisons", "all_prisons", "rep_id")
_DRIVER_LOOKUP = f"SELECT {', '.join(_PRINCIPAL_COLUMNS)} FROM api_client WHERE key_hash = $1 AND active"  # noqa: S608 - names from the code


async def authenticate_on_driver(driver: Any, token: str, cache: PrincipalCache | None) -> Principal | None:
    """`authenticate` on an asyncpg connection (`app.db.Database.driver`)."""
    if not _may_be_key(token):
        return None
    key_hash = hash_key(token)
    known = cache.get(key_hash) if cache is not None else None
    if known is not None:
        return known
    row = await driver.fetchrow(_DRIVER_LOOKUP, key_hash)
    if row is None:
        return None
    # The engine's connections decode JSON themselves (SQLAlchemy sets their codec).
    principal = principal_of(read_row(ApiClient, dict(zip(_PRINCIPAL_COLUMNS, row, strict=True))))
    if cache is not None:
        cache.put(key_hash, principal)
    return principal


async def authenticate(
    session: AsyncSession, token: str, cache: PrincipalCache | None = None
) -> Principal | None:
    """The principal behind a bearer key, or None if the key is unknown or revoked."""
    if not _may_be_key(token):
        return None
    key_hash = hash_key(token)
    if cache is not None:
        known = cache.get(key_hash)
        if known is not None:
            return known
    client = (
        await session.execute(
            select(ApiClient).where(col(ApiClient.key_hash) == key_hash, col(ApiClient.active))
        )
    ).scalar_one_or_none()
    if client is None:
        return None
    principal = principal_of(client)
    if cache is not None:
        cache.put(key_hash, principal)
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
