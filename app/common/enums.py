"""Vocabularies shared across domains, as the contract spells them."""

from enum import StrEnum


class Role(StrEnum):
    PRACTITIONER = "practitioner"
    REP = "rep"
    REFERRER = "referrer"
    MANAGER = "manager"
    AUDITOR = "auditor"
    ADMIN = "admin"


class CaseState(StrEnum):
    REFERRED = "referred"
    ASSESSMENT = "assessment"
    SHUTTLE_MEDIATION = "shuttle_mediation"
    LETTER_EXCHANGE = "letter_exchange"
    CONFERENCE = "conference"
    FOLLOW_UP = "follow_up"
    ON_HOLD = "on_hold"
    CLOSED = "closed"


class Category(StrEnum):
    ASSAULT = "assault"
    FIGHT = "fight"
    THREATS = "threats"
    BULLYING = "bullying"
    DEBT = "debt"
    THEFT = "theft"
    VERBAL_ABUSE = "verbal_abuse"
    CELL_SHARE_DISPUTE = "cell_share_dispute"
    OTHER = "other"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Facilitator(StrEnum):
    REP = "rep"
    PRACTITIONER = "practitioner"


class PartyRole(StrEnum):
    HARMED = "harmed"
    HARMER = "harmer"
    BOTH = "both"


class ConsentScope(StrEnum):
    INDIRECT = "indirect"
    LETTERS_SEND = "letters_send"
    LETTERS_RECEIVE = "letters_receive"
    DIRECT = "direct"


class ConsentMethod(StrEnum):
    IN_PERSON = "in_person"
    WRITTEN = "written"
    VIA_REP = "via_rep"


class ResponsibilityMethod(StrEnum):
    IN_PERSON = "in_person"
    WRITTEN = "written"


class AgreementMethod(StrEnum):
    """How a party agreed to an agreement: by the person, never passed on."""

    IN_PERSON = "in_person"
    WRITTEN = "written"


class Monitoring(StrEnum):
    """What `close` does with agreement items still pending: they stay monitored."""

    CONTINUE = "continue"


class FollowUp(StrEnum):
    """How a party wants to be checked on once the work ends."""

    REP_VISIT = "rep_visit"
    PRACTITIONER_ONLY = "practitioner_only"
    NO_CONTACT = "no_contact"


class DeclineReason(StrEnum):
    UNSUITABLE = "unsuitable"
    DUPLICATE = "duplicate"
    OUT_OF_SCOPE = "out_of_scope"
    PARTIES_UNAVAILABLE = "parties_unavailable"
    CONSENT_REFUSED = "consent_refused"


class Outcome(StrEnum):
    RESOLVED = "resolved"
    PARTIALLY_RESOLVED = "partially_resolved"
    NOT_RESOLVED = "not_resolved"
    WITHDRAWN = "withdrawn"
    UNSUITABLE = "unsuitable"


CONCLUDE_OUTCOMES = frozenset({Outcome.RESOLVED, Outcome.PARTIALLY_RESOLVED, Outcome.NOT_RESOLVED})


class RepStatus(StrEnum):
    IN_TRAINING = "in_training"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"


class TaskKind(StrEnum):
    ASSESSMENT_VISIT = "assessment_visit"
    SHUTTLE_VISIT = "shuttle_visit"
    LETTER_DELIVERY = "letter_delivery"
    WELLBEING_CHECK = "wellbeing_check"
    CONFERENCE_PREPARATION = "conference_preparation"
    SAFEGUARDING_CHECK = "safeguarding_check"
    PRACTITIONER_REVIEW = "practitioner_review"
    AGREEMENT_CHECK = "agreement_check"
    OUTCOME_FEEDBACK = "outcome_feedback"


class ContactKind(StrEnum):
    ASSESSMENT = "assessment"
    SHUTTLE = "shuttle"
    SUPPORT = "support"
    WELLBEING = "wellbeing"


# How people name each kind of contact (timeline, a rep's activity).
CONTACT_WORDS: dict[str, str] = {
    ContactKind.ASSESSMENT: "Assessment visit",
    ContactKind.SHUTTLE: "Shuttle mediation round",
    ContactKind.SUPPORT: "Support visit",
    ContactKind.WELLBEING: "Wellbeing visit",
}


class LetterStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"
    DELIVERED = "delivered"
    WITHHELD = "withheld"


class AgreementStatus(StrEnum):
    PENDING = "pending"
    KEPT = "kept"
    BROKEN = "broken"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class AssigneeType(StrEnum):
    REP = "rep"
    PRACTITIONER = "practitioner"


class ConcernCategory(StrEnum):
    SELF_HARM = "self_harm"
    SUICIDE_RISK = "suicide_risk"
    VIOLENCE_THREAT = "violence_threat"
    DISCLOSURE = "disclosure"
    BULLYING = "bullying"
    OTHER = "other"


class ConcernStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class Trigger(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    START_SHUTTLE = "start_shuttle"
    START_LETTERS = "start_letters"
    SCHEDULE_CONFERENCE = "schedule_conference"
    CONCLUDE = "conclude"
    WITHDRAW = "withdraw"
    PAUSE = "pause"
    RESUME = "resume"
    CLOSE = "close"
    REOPEN = "reopen"
    CALL_OFF = "call_off"


class NoteKind(StrEnum):
    """What a note records: the practitioner's own words, a conference's notes, or why a case
    was declined."""

    GENERAL = "general"
    CONFERENCE = "conference"
    DECLINE = "decline"


class FeedbackStage(StrEnum):
    """When a participant is asked about the work: as it ends, and after their last wellbeing check."""

    CONCLUSION = "conclusion"
    FOLLOW_UP = "follow_up"


class IncidentFamily(StrEnum):
    """What an incident report's type amounts to in the outcomes report (the table is in
    app/referrals/incident_history.py, and in docs/reports.md)."""

    VIOLENCE = "violence"
    THREATS_AND_ANTISOCIAL = "threats_and_antisocial"
    OTHER = "other"


class IncidentPart(StrEnum):
    """A prisoner's part in an incident: who did it, who it was done to, anyone else named."""

    PERPETRATOR = "perpetrator"
    VICTIM = "victim"
    OTHER = "other"


class MovementDirection(StrEnum):
    """A prisoner leaving the prisons that report to the service (released or transferred), or
    arriving in one."""

    OUT = "out"
    IN = "in"
