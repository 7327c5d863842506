"""Every table, imported once so that the metadata is complete."""

from sqlmodel import SQLModel

from app.audit.models import AuditChainHead, AuditRecord
from app.auth.models import ApiClient, ApiClientGeneration
from app.cases.models import Case, CaseFlag, CaseRep, Consent, Party, PrisonCounter
from app.conferences.models import AgreementItem, Conference
from app.contacts.models import Contact
from app.events.models import EventFeedHead, InboundEvent, OutboxEvent
from app.idempotency.models import IdempotencyKey
from app.letters.models import Letter
from app.reps.models import Rep
from app.safeguarding.models import DutyPractitioner, SafeguardingConcern
from app.tasks.models import Task
from app.webhooks.models import WebhookDelivery, WebhookSubscription, WebhookSubscriptionPrison

metadata = SQLModel.metadata

__all__ = [
    "AgreementItem",
    "ApiClient",
    "ApiClientGeneration",
    "AuditChainHead",
    "AuditRecord",
    "Case",
    "CaseFlag",
    "CaseRep",
    "Conference",
    "Consent",
    "DutyPractitioner",
    "Contact",
    "EventFeedHead",
    "IdempotencyKey",
    "InboundEvent",
    "Letter",
    "OutboxEvent",
    "Party",
    "PrisonCounter",
    "Rep",
    "SafeguardingConcern",
    "Task",
    "WebhookDelivery",
    "WebhookSubscription",
    "WebhookSubscriptionPrison",
    "metadata",
]
