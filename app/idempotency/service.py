"""Idempotency keys: claim a key once, keep the first response, replay it, forget it in time.

A key goes `in_progress` (claimed in its own short transaction, with a lock that expires) ->
`committed` (in the request's own transaction, so the change and the mark commit together) ->
`done` (the response kept, right after). A request that fails releases its key. A process that
dies mid-request leaves `in_progress` behind: once its lock has expired, a retry takes the key over
and runs again, which is safe because nothing of the first run was committed.
"""

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.config import get_settings
from app.db import Conn, changed, dialect_insert, new_id, rowcount
from app.errors import IdempotencyInProgressError, IdempotencyKeyReusedError
from app.models.idempotency import IdempotencyKey

IN_PROGRESS = "in_progress"
COMMITTED = "committed"
DONE = "done"

MAX_KEY_LENGTH = 255
# Visible ASCII, spaces only inside: what the header carries intact through every HTTP stack, and
# what the OpenAPI document states, so that a key the document allows is one the service takes.
KEY_PATTERN = f"^[!-~]([ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)


def valid_key(key: str) -> bool:
    """Whether `key` can name a request."""
    return _KEY.fullmatch(key) is not None


@dataclass(frozen=True, slots=True)
class Claim:
    """This run of the request owns the key."""

    id: uuid.UUID
    owner: uuid.UUID


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The first response to the key, to send again."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body (JSON compared by content)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def claim(
    session: AsyncSession, *, client_id: uuid.UUID, key: str, fingerprint: str
) -> Claim | StoredResponse:
    """Take the key for this request, or say what to answer instead (raises 409 or 422)."""
    settings = get_settings()
    now = clock.now()
    lock_until = now + timedelta(seconds=settings.idempotency_lock_seconds)
    same_key = (col(IdempotencyKey.client_id) == client_id, col(IdempotencyKey.key) == key)
    # A key past its keeping time is forgotten, even before the timed work purges it.
    await session.execute(delete(IdempotencyKey).where(*same_key, col(IdempotencyKey.expires_at) <= now))
    owner = new_id()
    inserted = (
        await session.execute(
            dialect_insert(session)(IdempotencyKey)
            .values(
                id=new_id(),
                client_id=client_id,
                key=key,
                fingerprint=fingerprint,
                status=IN_PROGRESS,
                owner=owner,
                locked_until=lock_until,
                created_at=now,
                expires_at=now + timedelta(hours=settings.idempotency_ttl_hours),
            )
            .on_conflict_do_nothing(index_elements=["client_id", "key"])
            .returning(IdempotencyKey.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        return Claim(id=inserted, owner=owner)
    row = (
        await session.execute(
            select(IdempotencyKey).where(*same_key).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:  # released by its first request a moment ago: let the client retry
        raise IdempotencyInProgressError("a request with this Idempotency-Key has just finished; retry")
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used for a different request (another body or path); "
            "use a new key for a new request"
        )
    if row.status == DONE and row.response_status is not None:
        return StoredResponse(
            status=row.response_status,
            headers=dict(row.response_headers or {}),
            body=row.response_body or b"",
        )
    if row.status == IN_PROGRESS and row.locked_until <= now:
        taken = await rowcount(
            session,
            update(IdempotencyKey)
            .where(
                col(IdempotencyKey.id) == row.id,
                col(IdempotencyKey.status) == IN_PROGRESS,
                col(IdempotencyKey.locked_until) <= now,
            )
            .values(owner=owner, locked_until=lock_until),
        )
        if taken:
            return Claim(id=row.id, owner=owner)
    if row.status == COMMITTED and row.locked_until <= now:
        raise IdempotencyInProgressError(
            "the first request with this Idempotency-Key was completed, but its response could not be "
            "kept; read the resource instead of retrying"
        )
    raise IdempotencyInProgressError(
        "a request with this Idempotency-Key is still running; retry once it has finished"
    )


async def mark_committed(conn: Conn, held: Claim) -> None:
    """In the request's own transaction: the change and the key commit together, or neither."""
    marked = await changed(
        conn,
        update(IdempotencyKey)
        .where(
            col(IdempotencyKey.id) == held.id,
            col(IdempotencyKey.owner) == held.owner,
            col(IdempotencyKey.status) == IN_PROGRESS,
        )
        .values(status=COMMITTED),
    )
    if marked != 1:
        raise IdempotencyInProgressError(
            "this request ran past its Idempotency-Key's lock and a retry took the key over; "
            "nothing was changed by this request"
        )


async def store_response(session: AsyncSession, held: Claim, response: StoredResponse) -> bool:
    """Keep the response of a committed request; False when the request did not commit."""
    return (
        await rowcount(
            session,
            update(IdempotencyKey)
            .where(
                col(IdempotencyKey.id) == held.id,
                col(IdempotencyKey.owner) == held.owner,
                col(IdempotencyKey.status) == COMMITTED,
            )
            .values(
                status=DONE,
                response_status=response.status,
                response_headers=response.headers,
                response_body=response.body,
            ),
        )
        == 1
    )


async def release(session: AsyncSession, held: Claim) -> None:
    """Give the key back after a request that changed nothing, so it can be used again."""
    await session.execute(
        delete(IdempotencyKey).where(
            col(IdempotencyKey.id) == held.id,
            col(IdempotencyKey.owner) == held.owner,
            col(IdempotencyKey.status) == IN_PROGRESS,
        ),
        execution_options={"synchronize_session": False},
    )


async def purge_expired(session: AsyncSession) -> int:
    """Forget keys past their keeping time."""
    return await rowcount(
        session, delete(IdempotencyKey).where(col(IdempotencyKey.expires_at) <= clock.now())
    )
