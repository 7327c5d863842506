"""The audit trail: append-only records chained with SHA-256."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Identity, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime

GLOBAL_CHAIN = "global"


class AuditRecord(SQLModel, table=True):
    """One change: who, what (before and after), when, and its place in its chain."""

    __tablename__ = "audit_record"
    __table_args__ = (
        UniqueConstraint("chain", "seq", name="uq_audit_chain_seq"),
        # What verification reads beyond its walk (`app.audit.redaction`): redacted records, and
        # the purge records naming them; few among the records, so the indexes stay small.
        Index(
            "ix_audit_record_redacted",
            "chain",
            "seq",
            postgresql_where=text("redacted"),
            sqlite_where=text("redacted"),
        ),
        Index(
            "ix_audit_record_purges",
            "id",
            postgresql_where=text("action = 'retention.purged'"),
            sqlite_where=text("action = 'retention.purged'"),
        ),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), Identity(always=False), primary_key=True
        ),
    )
    chain: str = Field(max_length=40)
    seq: int
    case_id: uuid.UUID | None = Field(default=None, index=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    request_id: str | None = Field(default=None, max_length=100)
    actor: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    action: str = Field(max_length=60)
    entity_type: str = Field(max_length=40)
    entity_id: str | None = Field(default=None, max_length=40)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    content_hash: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    redacted: bool = False


class AuditChainHead(SQLModel, table=True):
    """The head of a chain that is not a case's (a case keeps its head on its own row)."""

    __tablename__ = "audit_chain_head"

    chain: str = Field(max_length=40, primary_key=True)
    seq: int = 0
    hash: str = Field(default="", max_length=64)
