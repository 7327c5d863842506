"""How audit records are hashed and linked: the content hash, then the chain link."""

import hashlib
import json
from datetime import datetime
from typing import Any

from app.audit.models import AuditRecord


def canonical(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_of(record: AuditRecord) -> dict[str, Any]:
    """The part of a record its content hash covers."""
    return {
        "caseId": str(record.case_id) if record.case_id else None,
        "occurredAt": _iso(record.occurred_at),
        "requestId": record.request_id,
        "actor": record.actor,
        "action": record.action,
        "entityType": record.entity_type,
        "entityId": record.entity_id,
        "before": record.before,
        "after": record.after,
    }


def content_hash(record: AuditRecord) -> str:
    """SHA-256 of the record's content."""
    return hashlib.sha256(canonical(content_of(record))).hexdigest()


def link_hash(chain: str, seq: int, prev_hash: str, content_digest: str) -> str:
    """SHA-256 linking a record to its predecessor; it covers the content only by its hash,
    so content can be redacted later without breaking the chain."""
    return hashlib.sha256(f"{chain}|{seq}|{prev_hash}|{content_digest}".encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")
