"""Every table, one module per domain, imported here so that the metadata is complete."""

from sqlmodel import SQLModel

from app.models import (  # noqa: F401 - each module registers its tables
    audit,
    auth,
    cases,
    conferences,
    contacts,
    events,
    feedback,
    idempotency,
    incidents,
    letters,
    notes,
    reps,
    safeguarding,
    tasks,
    webhooks,
)

metadata = SQLModel.metadata

__all__ = ["metadata"]
