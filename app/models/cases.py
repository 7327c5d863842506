"""Cases, their parties, the consent ledger and the per-prison reference counter."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, false, text, true
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


def trigram_index(name: str, column: str | None = None, expression: str | None = None) -> Any:
    """A GIN trigram index (pg_trgm) on a column or an expression, made on PostgreSQL only. An
    expression's operator class is written in it: Alembic compares an index's expression only
    as the database gives it back."""
    if column is not None:
        index = Index(name, column, postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})
    else:
        index = Index(name, text(f"{expression} gin_trgm_ops"), postgresql_using="gin")
    return index.ddl_if(dialect="postgresql")


class Case(SQLModel, table=True):
    """One conflict case and where it stands in the workflow."""

    __tablename__ = "rj_case"
    __table_args__ = (
        UniqueConstraint("source_system", "source_reference", name="uq_case_source"),
        # The lists: by state (and prison), most recently changed first, one page at a time.
        Index("ix_case_state_updated", "state", "updated_at", "id"),
        Index("ix_case_prison_state_updated", "prison_id", "state", "updated_at", "id"),
        Index("ix_case_prison_updated", "prison_id", "updated_at", "id"),
        Index("ix_case_updated", "updated_at"),
        Index("ix_case_prison_created", "prison_id", "created_at"),
        Index("ix_case_prison_concluded", "prison_id", "concluded_at"),
        Index("ix_case_retention", "state", "closed_at"),
        # A task names its case by reference, and a rep's day list leaves out the tasks of closed
        # cases: the lists of tasks read both here, from the index alone, never from the case's row.
        Index("ix_case_id_reference_state", "id", "reference", "state"),
        # Search (`q`, `app.cases.repository`): trigram indexes serve ILIKE '%text%'. PostgreSQL
        # only: SQLite searches by LIKE over the rows.
        *(
            trigram_index(f"ix_case_search_{column}", column)
            for column in ("reference", "source_reference", "summary")
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    reference: str = Field(max_length=20, unique=True)
    prison_id: str = Field(max_length=3)
    state: str = Field(max_length=30)
    previous_state: str | None = Field(default=None, max_length=30)
    paused_until: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    pause_reason: str | None = None
    version: int = 1
    category: str = Field(max_length=30)
    summary: str | None = None
    description: str | None = None
    incident_occurred_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    incident_location_key: str | None = Field(default=None, max_length=100)
    risk_level: str | None = Field(default=None, max_length=10)
    risk_notes: str | None = None
    facilitator: str | None = Field(default=None, max_length=20)
    source_system: str = Field(max_length=100)
    source_reference: str = Field(max_length=200)
    referred_by: str = Field(max_length=200)
    created_by_client_id: uuid.UUID | None = Field(default=None, index=True)
    practitioner_id: uuid.UUID | None = Field(default=None, index=True)
    outcome: str | None = Field(default=None, max_length=30)
    decline_reason: str | None = Field(default=None, max_length=30)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    concluded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    audit_seq: int = 0
    audit_head: str = Field(default="", max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # Kept past the retention period while set (an admin's decision, with a reason).
    legal_hold: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    legal_hold_reason: str | None = None
    # When the retention purge anonymised the case.
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CaseRep(SQLModel, table=True):
    """A rep assigned to a case."""

    __tablename__ = "case_rep"

    case_id: uuid.UUID = Field(foreign_key="rj_case.id", primary_key=True)
    rep_id: uuid.UUID = Field(foreign_key="rep.id", primary_key=True, index=True)


class PrisonCounter(SQLModel, table=True):
    """The last case number issued in a prison; taken with UPDATE ... RETURNING."""

    __tablename__ = "prison_counter"

    prison_id: str = Field(max_length=3, primary_key=True)
    last_number: int = 0


class Party(SQLModel, table=True):
    """A prisoner in the conflict."""

    __tablename__ = "party"
    # A task names the person to see and where: the lists of tasks read them here, from the
    # index alone, never from the party's row (written with the party; changed only by
    # retention's pseudonymising).
    __table_args__ = (
        Index("ix_party_id_names", "id", "first_name", "last_name", "location"),
        # Search: a party's whole name, written as `app.cases.repository.PARTY_NAME` is, and
        # the prisoner number (see `Case`'s search indexes).
        trigram_index("ix_party_search_name", expression="(first_name || ' ' || last_name)"),
        trigram_index("ix_party_search_prisoner_number", "prisoner_number"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", index=True)
    prisoner_number: str = Field(max_length=7, index=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    role: str = Field(max_length=10)
    location: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # How the party wants to be checked on (`FollowUp`); empty until someone sets it, which
    # means the default: rep visits.
    follow_up: str | None = Field(default=None, max_length=20)
    # False once the party has withdrawn: no guard counts them, and the case may go on without them.
    participating: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    # False when the party asked not to be told what became of the agreement.
    outcome_updates: bool = Field(default=True, sa_column_kwargs={"server_default": true()})


class Consent(SQLModel, table=True):
    """One entry of the consent ledger: never updated, only appended."""

    __tablename__ = "consent"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    scope: str = Field(max_length=20)
    given: bool
    method: str = Field(max_length=20)
    recorded_by: str = Field(max_length=200)
    recorded_by_client_id: uuid.UUID | None = None
    # The caller's role when they recorded it: only a practitioner's record of a face-to-face
    # consent counts, whatever `recorded_by` says.
    recorded_by_role: str | None = Field(default=None, max_length=20)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    # The seq of this entry's audit record: a strict order even within one instant.
    audit_seq: int = 0


class Responsibility(SQLModel, table=True):
    """One entry of a party's responsibility ledger: whether the person who caused harm
    acknowledges their part in it. Never updated, only appended; the latest entry stands. Kept
    inside the service: no event, report or rep's view carries it."""

    __tablename__ = "responsibility"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id", index=True)
    acknowledged: bool
    method: str = Field(max_length=20)
    recorded_by: str = Field(max_length=200)
    recorded_by_client_id: uuid.UUID | None = None
    recorded_by_role: str | None = Field(default=None, max_length=20)
    note: str | None = None
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    # The seq of this entry's audit record: a strict order even within one instant.
    audit_seq: int = 0


class CaseFlag(SQLModel, table=True):
    """Something a prison system told us about a party that the practitioner should review."""

    __tablename__ = "case_flag"
    __table_args__ = (UniqueConstraint("case_id", "source_event_id", name="uq_case_flag_event"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", index=True)
    kind: str = Field(max_length=40)
    at: datetime = Field(sa_type=UTCDateTime)
    detail: str
    prisoner_number: str = Field(max_length=7)
    source_event_id: uuid.UUID | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)


def own_columns(model: type[SQLModel]) -> tuple[str, ...]:
    """The columns of a case's child table other than the case id it belongs to, in table order."""
    return tuple(c.name for c in model.__table__.columns if c.name != "case_id")  # type: ignore[attr-defined]
