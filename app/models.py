"""Every table, imported once so that the metadata is complete."""

from sqlmodel import SQLModel

from app.audit.models import AuditChainHead, AuditRecord
from app.auth.models import ApiClient
from app.cases.models import Case, CaseRep, Consent, Party, PrisonCounter
from app.conferences.models import AgreementItem, Conference
from app.contacts.models import Contact
from app.events.models import OutboxEvent
from app.letters.models import Letter
from app.reps.models import Rep
from app.safeguarding.models import DutyPractitioner, SafeguardingConcern
from app.tasks.models import Task

metadata = SQLModel.metadata

__all__ = [
    "AgreementItem",
    "ApiClient",
    "AuditChainHead",
    "AuditRecord",
    "Case",
    "CaseRep",
    "Conference",
    "Consent",
    "DutyPractitioner",
    "Contact",
    "Letter",
    "OutboxEvent",
    "Party",
    "PrisonCounter",
    "Rep",
    "SafeguardingConcern",
    "Task",
    "metadata",
]
