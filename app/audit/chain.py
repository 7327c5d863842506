"""How audit records are hashed and linked: the content hash, then the chain link."""

import hashlib
from collections.abc import Mapping
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from app.common.jsonable import canonical_json
from app.models.audit import AuditRecord


def canonical(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces."""
    return canonical_json(value).encode()


CONTENT_FIELDS = (
    "case_id",
    "occurred_at",
    "request_id",
    "actor",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
)


def content_of(record: AuditRecord | Mapping[str, Any]) -> dict[str, Any]:
    """The part of a record (or of the values of one about to be written) its content hash covers."""
    v = record if isinstance(record, Mapping) else {k: getattr(record, k) for k in CONTENT_FIELDS}
    return {
        "caseId": str(v["case_id"]) if v["case_id"] else None,
        "occurredAt": _iso(v["occurred_at"]),
        "requestId": v["request_id"],
        "actor": v["actor"],
        "action": v["action"],
        "entityType": v["entity_type"],
        "entityId": v["entity_id"],
        "before": v["before"],
        "after": v["after"],
    }


def content_hash(record: AuditRecord | Mapping[str, Any]) -> str:
    """SHA-256 of the record's content."""
    return hashlib.sha256(canonical(content_of(record))).hexdigest()


def _string(value: str | None) -> str:
    return "null" if value is None else str(encode_basestring(value))


def content_from_texts(
    *,
    case_id: str | None,
    occurred_at: datetime,
    request_id: str | None,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: str | None,
    after: str | None,
) -> bytes:
    """The bytes `canonical(content_of(record))` gives, assembled from the canonical JSON texts of
    actor, before and after (as stored): no parsing, one pass. Keys in sorted order."""
    return (
        '{"action":'
        + encode_basestring(action)
        + ',"actor":'
        + actor
        + ',"after":'
        + (after if after is not None else "null")
        + ',"before":'
        + (before if before is not None else "null")
        + ',"caseId":'
        + _string(case_id)
        + ',"entityId":'
        + _string(entity_id)
        + ',"entityType":'
        + encode_basestring(entity_type)
        + ',"occurredAt":"'
        + _iso(occurred_at)
        + '","requestId":'
        + _string(request_id)
        + "}"
    ).encode()


def link_hash(chain: str, seq: int, prev_hash: str, content_digest: str) -> str:
    """SHA-256 linking a record to its predecessor; it covers the content only by its hash,
    so content can be redacted later without breaking the chain."""
    return hashlib.sha256(f"{chain}|{seq}|{prev_hash}|{content_digest}".encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")
