"""Checkpoints: the head of every audit chain, published where the database cannot rewrite it.

Whoever can write to the database can rewrite a whole chain, hashes, links and kept head alike,
and the trail then verifies against itself. A checkpoint records each chain's head (its last
record's place and hash) at one moment, signed with HMAC-SHA256 under RJ_AUDIT_CHECKPOINT_KEY, a
key the database never holds; it is written to a file, and an outbound event carries the digest of
its heads. `rj-casework audit verify --checkpoint FILE` then checks that every chain still holds,
at the published place, the published record: a chain rewritten below that place fails, named.
"""

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.common.jsonable import canonical_json
from app.config import get_settings
from app.db import Database, DriverConnection
from app.errors import ValidationFailedError
from app.events.service import AUDIT_CHECKPOINT, emit
from app.models.audit import AuditChainHead
from app.models.cases import Case

FORMAT = "rj-casework audit checkpoint 1"
FILE_PREFIX = "audit-checkpoint-"
_STAMP = "%Y%m%dT%H%M%S%fZ"


class CheckpointError(ValidationFailedError):
    """A checkpoint that cannot be used: unreadable, or not signed with the key."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Every chain's head at one moment: (chain, seq, hash), in chain order."""

    created_at: datetime
    heads: tuple[tuple[str, int, str], ...]

    @property
    def digest(self) -> str:
        """SHA-256 of the heads, as the outbound event publishes it."""
        return hashlib.sha256(canonical_json([list(h) for h in self.heads]).encode()).hexdigest()

    def body(self) -> dict[str, Any]:
        """What the signature covers."""
        return {
            "format": FORMAT,
            "createdAt": self.created_at.isoformat(timespec="microseconds"),
            "chains": len(self.heads),
            "digest": self.digest,
            "heads": [list(h) for h in self.heads],
        }


def _key() -> bytes:
    key = get_settings().audit_checkpoint_key
    if not key:
        raise CheckpointError(
            "set RJ_AUDIT_CHECKPOINT_KEY (a secret the database does not hold): "
            "checkpoints are signed with it"
        )
    return key.encode()


def signature(checkpoint: Checkpoint) -> str:
    """HMAC-SHA256 of the checkpoint's body under the checkpoint key."""
    return hmac.new(_key(), canonical_json(checkpoint.body()).encode(), hashlib.sha256).hexdigest()


def dumps(checkpoint: Checkpoint) -> str:
    """The checkpoint as its signed file holds it."""
    return json.dumps({**checkpoint.body(), "signature": signature(checkpoint)}, indent=1) + "\n"


def load(path: Path) -> Checkpoint:
    """The checkpoint in `path`, if it is one signed with the checkpoint key."""
    try:
        data = json.loads(path.read_text())
        created = datetime.fromisoformat(data["createdAt"])
        heads = tuple((str(c), int(s), str(h)) for c, s, h in data["heads"])
        signed = str(data["signature"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path} cannot be read: {exc}") from None
    checkpoint = Checkpoint(created, heads)
    if data.get("format") != FORMAT or not hmac.compare_digest(signed, signature(checkpoint)):
        raise CheckpointError(
            f"checkpoint {path} is not signed with RJ_AUDIT_CHECKPOINT_KEY (changed since, or another key's)"
        )
    return checkpoint


async def take(db: Database) -> Checkpoint:
    """Every chain's head, read at one moment."""
    async with db.snapshot() as session:
        now = clock.now()
        cases = select(col(Case.id), col(Case.audit_seq), col(Case.audit_head)).where(col(Case.audit_seq) > 0)
        heads = [(str(c), s, h) for c, s, h in await session.execute(cases)]
        others = select(AuditChainHead).where(col(AuditChainHead.seq) > 0)
        heads += [(h.chain, h.seq, h.hash) for h in (await session.execute(others)).scalars()]
    return Checkpoint(now, tuple(sorted(heads)))


def file_name(created_at: datetime) -> str:
    """The name a checkpoint of that moment gets in the checkpoint folder (they sort by time)."""
    return f"{FILE_PREFIX}{created_at.astimezone(UTC).strftime(_STAMP)}.json"


def latest(folder: Path) -> Path | None:
    """The newest checkpoint file in `folder`, if any."""
    found = sorted(folder.glob(f"{FILE_PREFIX}*.json"))
    return found[-1] if found else None


def _written_at(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.stem.removeprefix(FILE_PREFIX), _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


async def publish(db: Database, out: Path | None = None) -> tuple[Checkpoint, Path]:
    """Take a checkpoint, write it signed (to `out`, or into RJ_AUDIT_CHECKPOINT_DIR) and put the
    digest of its heads in the outbox."""
    _key()
    folder = get_settings().audit_checkpoint_dir
    if out is None and not folder:
        raise CheckpointError("give the file to write, or set RJ_AUDIT_CHECKPOINT_DIR")
    checkpoint = await take(db)
    path = out if out is not None else Path(str(folder)) / file_name(checkpoint.created_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w") as f:
        f.write(dumps(checkpoint))
        f.flush()
        os.fsync(f.fileno())
    partial.replace(path)
    async with db.transaction() as session:
        emit(
            session,
            event_type=AUDIT_CHECKPOINT,
            description=f"Audit checkpoint: the heads of {len(checkpoint.heads)} audit chains",
            prisoner_numbers=[],
            detail_url=None,
            additional={
                "createdAt": checkpoint.created_at,
                "chains": len(checkpoint.heads),
                "digest": checkpoint.digest,
            },
        )
    return checkpoint, path


async def publish_if_due(db: Database) -> int:
    """Publish a checkpoint into RJ_AUDIT_CHECKPOINT_DIR when the newest there is older than
    RJ_AUDIT_CHECKPOINT_INTERVAL_MINUTES (the timed work); how many were written."""
    settings = get_settings()
    if not settings.audit_checkpoint_dir:
        return 0
    newest = latest(Path(settings.audit_checkpoint_dir))
    written = _written_at(newest) if newest is not None else None
    interval = timedelta(minutes=settings.audit_checkpoint_interval_minutes)
    if written is not None and clock.now() - written < interval:
        return 0
    await publish(db)
    return 1


# Every published head that the trail no longer holds at its place, first in chain order.
_MISSING = {
    "postgresql": (
        "SELECT h.chain, h.seq, r.id FROM unnest($1::text[], $2::int[], $3::text[]) AS h(chain, seq, hash) "
        'LEFT JOIN audit_record r ON r.chain = h.chain COLLATE "C" AND r.seq = h.seq '
        'WHERE r.hash IS DISTINCT FROM h.hash ORDER BY h.chain COLLATE "C", h.seq LIMIT 1'
    ),
    "sqlite": (
        "SELECT h.chain, h.seq, r.id FROM (SELECT json_extract(value, '$[0]') AS chain, "
        "json_extract(value, '$[1]') AS seq, json_extract(value, '$[2]') AS hash "
        "FROM json_each(:heads)) h "
        "LEFT JOIN audit_record r ON r.chain = h.chain AND r.seq = h.seq "
        "WHERE r.hash IS NOT h.hash ORDER BY h.chain, h.seq LIMIT 1"
    ),
}


def _problem(checkpoint: Checkpoint, row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    chain, seq, record_id = row
    when = checkpoint.created_at.isoformat(timespec="seconds")
    reason = f"not the record the checkpoint of {when} published as the chain's head: the chain was rewritten"
    problem = {"chain": chain, "seq": seq, "reason": reason}
    return {"id": record_id, **problem} if record_id is not None else problem


async def problem_on_session(session: AsyncSession, checkpoint: Checkpoint) -> dict[str, Any] | None:
    """The first published head the trail no longer holds, read through the session (SQLite)."""
    heads = canonical_json([list(h) for h in checkpoint.heads])
    row = (await session.execute(text(_MISSING["sqlite"]), {"heads": heads})).first()
    return _problem(checkpoint, tuple(row) if row is not None else None)


async def problem_on_driver(pg: DriverConnection, checkpoint: Checkpoint) -> dict[str, Any] | None:
    """The first published head the trail no longer holds, read on an asyncpg connection."""
    chains = [c for c, _s, _h in checkpoint.heads]
    seqs = [s for _c, s, _h in checkpoint.heads]
    hashes = [h for _c, _s, h in checkpoint.heads]
    row = await pg.fetchrow(_MISSING["postgresql"], chains, seqs, hashes)
    return _problem(checkpoint, tuple(row) if row is not None else None)
