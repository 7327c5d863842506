"""Request and response shapes of cases, parties and consents."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from app.common.enums import (
    CaseState,
    Category,
    ConsentMethod,
    ConsentScope,
    Facilitator,
    FeedbackStage,
    FollowUp,
    Monitoring,
    PartyRole,
    ResponsibilityMethod,
    RiskLevel,
    Role,
    Trigger,
)
from app.common.schemas import (
    ApiModel,
    LongText,
    Name,
    PrisonerNumber,
    RequestModel,
    ShortText,
    StrictBool,
    StrictInt,
    Timestamp,
)

# The parts of a conference's arrangements that scheduling and rearranging share, defaults included.
SupportingRepIds = Annotated[list[uuid.UUID], Field(default_factory=list, max_length=10)]
Attendees = Annotated[
    list[ShortText],
    Field(default_factory=list, max_length=30, description="Who is expected to attend, by name."),
]
KeepApartOverrideReason = Annotated[
    LongText | None,
    Field(default=None, description="A practitioner's reason to meet despite an open non-association."),
]
KeepApartCheckedByHand = Annotated[
    StrictBool,
    Field(
        default=False,
        description="The practitioner checked non-associations by hand because the "
        "non-associations service is not configured or not reachable.",
    ),
]


class PartyCreate(RequestModel):
    prisoner_number: PrisonerNumber
    first_name: Name
    last_name: Name
    role: PartyRole
    location: Annotated[str, StringConstraints(max_length=100)] | None = None


class ConsentCreate(RequestModel):
    scope: ConsentScope
    given: StrictBool
    recorded_by: ShortText
    method: ConsentMethod = Field(
        description="How it was given. A face-to-face (`direct`) consent counts only when given "
        "`in_person` or `written` and recorded by a practitioner. A rep records only withdrawals, "
        "always as `via_rep`."
    )


class ConsentEntry(ConsentCreate):
    """One consent of several recorded in one call."""

    party_id: uuid.UUID


class ConsentBatch(RequestModel):
    """Several consents recorded at once, all or none."""

    entries: list[ConsentEntry] = Field(
        min_length=1,
        max_length=50,
        description="Recorded in this order. The same party and scope may appear once.",
    )

    @field_validator("entries")
    @classmethod
    def _once_each(cls, entries: list[ConsentEntry]) -> list[ConsentEntry]:
        seen: set[tuple[uuid.UUID, ConsentScope]] = set()
        for entry in entries:
            if (entry.party_id, entry.scope) in seen:
                raise ValueError(f"party {entry.party_id} has two entries for scope {entry.scope.value}")
            seen.add((entry.party_id, entry.scope))
        return entries


class PartyPatch(RequestModel):
    """A change to a party: each field left out stays as it is."""

    min_fields = 1
    never_null = ("follow_up", "outcome_updates")

    follow_up: FollowUp | None = Field(
        default=None,
        description="How the party wants to be visited and checked on: by reps, by the "
        "practitioner only, or (once the work ends) not at all. Every visit follows it; the "
        "party's open tasks follow at once.",
    )
    outcome_updates: StrictBool | None = Field(
        default=None,
        description="Whether the party wants to be told what became of the agreement (kept or "
        "broken). False cancels their open outcome-feedback tasks. The one field that may change "
        "on a closed case.",
    )


class ResponsibilityCreate(RequestModel):
    acknowledged: StrictBool = Field(
        description="Whether the party acknowledges their part in the harm; false records that "
        "they do not, or no longer do. Only a practitioner may record true."
    )
    method: ResponsibilityMethod
    recorded_by: ShortText
    note: LongText | None = None


class CasePatch(RequestModel):
    min_fields = 1
    # Every case has a category.
    never_null = ("category",)

    summary: LongText | None = None
    category: Category | None = None
    risk_level: RiskLevel | None = None
    risk_notes: LongText | None = None
    facilitator: Facilitator | None = None


class ConferenceDetails(RequestModel):
    scheduled_at: Timestamp
    location: ShortText
    facilitator_id: uuid.UUID
    supporting_rep_ids: SupportingRepIds
    attendees: Attendees
    keep_apart_override_reason: KeepApartOverrideReason
    keep_apart_checked_by_hand: KeepApartCheckedByHand


class ConferenceProposal(RequestModel):
    """Conference arrangements given with `schedule_conference`: each of time, place and facilitator
    may be left out, and the `conference_details_given` guard then refuses with 409 naming it."""

    scheduled_at: Timestamp | None = None
    location: ShortText | None = None
    facilitator_id: uuid.UUID | None = None
    supporting_rep_ids: SupportingRepIds
    attendees: Attendees
    keep_apart_override_reason: KeepApartOverrideReason
    keep_apart_checked_by_hand: KeepApartCheckedByHand


class TransitionRequest(RequestModel):
    trigger: Trigger
    reason: LongText | None = None
    outcome: Annotated[str, StringConstraints(max_length=40)] | None = None
    until: Timestamp | None = None
    party_id: uuid.UUID | None = None
    conference: ConferenceProposal | None = None
    note: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = Field(
        default=None,
        description="With `decline` only: why, in words, kept as a case note (kind `decline`).",
    )
    monitoring: Monitoring | None = Field(
        default=None,
        description='With `close` only: "continue" closes the case while agreement items are still '
        "pending, and keeps them monitored (practitioners' checks at their due dates). Ignored when "
        "no item is pending.",
    )


class Source(ApiModel):
    system: str
    reference: str


class ConsentStatus(ApiModel):
    given: bool
    method: ConsentMethod
    recorded_by: str
    recorded_at: datetime


class ResponsibilityStatus(ApiModel):
    """A party's latest entry of the responsibility ledger."""

    acknowledged: bool
    recorded_at: datetime


class PartyPublic(ApiModel):
    id: uuid.UUID
    prisoner_number: str
    first_name: str
    last_name: str
    role: PartyRole
    location: str | None
    participating: bool = Field(
        description="False once the party has withdrawn; the case may go on without them."
    )
    consents: dict[str, ConsentStatus]
    follow_up: FollowUp
    outcome_updates: bool = Field(
        description="Whether the party wants to be told what became of the agreement's items."
    )
    responsibility: ResponsibilityStatus | None = Field(
        description="Whether the party acknowledges their part in the harm (its latest entry); "
        "null when nothing is recorded. Shown to staff only."
    )


class PartyForRep(ApiModel):
    id: uuid.UUID
    first_name: str
    last_name: str
    role: PartyRole
    location: str | None
    participating: bool


class Assignment(ApiModel):
    practitioner_id: uuid.UUID | None
    rep_ids: list[uuid.UUID]


class Hold(ApiModel):
    paused_from: CaseState
    until: datetime
    reason: str | None


class CaseBase(ApiModel):
    id: uuid.UUID
    reference: str
    prison_id: str
    state: CaseState
    version: int
    created_at: datetime
    updated_at: datetime


class CaseForReferrer(CaseBase):
    """What an integration client sees of the referrals it made."""

    view: Literal["referrer"] = "referrer"
    source: Source
    outcome: str | None


class CaseForRep(CaseBase):
    """What a rep needs: who to see and where; never risk notes or consents' detail."""

    view: Literal["rep"] = "rep"
    category: Category
    summary: str | None
    risk_level: RiskLevel | None
    facilitator: Facilitator | None
    parties: list[PartyForRep]
    assignment: Assignment
    hold: Hold | None


class CaseFlagView(ApiModel):
    """Something a prison system reported about a party, for the practitioner to review."""

    kind: str
    at: datetime
    detail: str
    prisoner_number: str


class CaseDetail(CaseBase):
    """The whole case, as practitioners, managers and admins see it."""

    view: Literal["full"] = "full"
    category: Category
    summary: str | None
    description: str | None
    risk_level: RiskLevel | None
    risk_notes: str | None = None
    facilitator: Facilitator | None
    source: Source
    parties: list[PartyPublic]
    assignment: Assignment
    hold: Hold | None
    outcome: str | None
    decline_reason: str | None
    referred_by: str
    incident_occurred_at: datetime | None
    closed_at: datetime | None
    flags: list[CaseFlagView] = Field(default_factory=list)


CaseView = CaseDetail | CaseForRep | CaseForReferrer


class GuardStatus(ApiModel):
    name: str
    description: str


class TriggerOption(ApiModel):
    trigger: str
    to: str
    allowed: bool
    unmet_guards: list[GuardStatus]


class TransitionOptions(ApiModel):
    state: CaseState
    version: int
    triggers: list[TriggerOption]


class ConsentRecord(ApiModel):
    id: uuid.UUID
    party_id: uuid.UUID
    scope: ConsentScope
    given: bool
    method: ConsentMethod
    recorded_by: str
    recorded_by_role: Role | None = Field(
        description="The role of the caller who recorded it; null when it is not known (an entry "
        "older than the service's record of roles, whose audit record is gone)."
    )
    recorded_at: datetime


class CaseVersion(ApiModel):
    """Where a case stands after a change: its state and version (its ETag)."""

    state: CaseState
    version: int


class ConsentsRecorded(ApiModel):
    """Consents recorded in one call, in the order sent, and the case after them."""

    entries: list[ConsentRecord]
    case: CaseVersion


class ResponsibilityRecord(ApiModel):
    """One entry of a party's responsibility ledger."""

    id: uuid.UUID
    party_id: uuid.UUID
    acknowledged: bool
    method: ResponsibilityMethod
    recorded_by: str
    recorded_by_role: Role | None
    note: str | None
    recorded_at: datetime


class TimelineEntry(ApiModel):
    at: datetime
    action: str
    text: str
    actor: str
    request_id: str | None


Score = Annotated[StrictInt, Field(ge=1, le=5, description="1 (not at all) to 5 (completely).")]


class FeedbackCreate(RequestModel):
    """A participant's answers, in their own words where they want to add any."""

    stage: FeedbackStage = Field(
        description="`conclusion`: once the case has reached follow_up or closed. `follow_up`: "
        "after the party's last wellbeing check."
    )
    felt_heard: Score
    felt_safe: Score
    would_recommend: Score
    comment: LongText | None = Field(
        default=None, description="Never reported; given back only to the person, through subject access."
    )


class FeedbackRecord(ApiModel):
    """What was recorded, without the comment."""

    id: uuid.UUID
    case_id: uuid.UUID
    party_id: uuid.UUID
    stage: FeedbackStage
    felt_heard: int
    felt_safe: int
    would_recommend: int
    collected_by_role: Role
    recorded_at: datetime
