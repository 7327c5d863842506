"""What participants said about the work: three answers on a five-point scale, at two stages."""

import uuid
from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class Feedback(SQLModel, table=True):
    """One party's answers at one stage (`conclusion` or `follow_up`): at most one per stage.

    The answers leave the service only as aggregates in reports, and to the person themself
    through subject access; the comment only through subject access.
    """

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("party_id", "stage", name="uq_feedback_party_stage"),
        # The report reads answers by the month they were given.
        Index("ix_feedback_recorded", "recorded_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", index=True)
    party_id: uuid.UUID = Field(foreign_key="party.id")
    stage: str = Field(max_length=20)
    # The party's role when they answered: the report splits by it, and a later correction of
    # the role does not move an answer already counted.
    party_role: str = Field(max_length=10)
    felt_heard: int
    felt_safe: int
    would_recommend: int
    comment: str | None = None
    # Who collected it: the answers of someone asked by their own facilitator may read differently.
    collected_by_client_id: uuid.UUID | None = None
    collected_by_role: str = Field(max_length=20)
    collected_by_rep_id: uuid.UUID | None = None
    recorded_at: datetime = Field(sa_type=UTCDateTime)
