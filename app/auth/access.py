"""Access rules in one place: what each role may do, and which objects a caller may see."""

import uuid
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Text,
    Uuid,
    and_,
    any_,
    bindparam,
    exists,
    not_,
    or_,
    select,
    true,
)
from sqlmodel import col

from app.common.enums import LetterStatus, Role
from app.context import Principal
from app.errors import ForbiddenError
from app.models.audit import AuditRecord
from app.models.auth import ApiClient
from app.models.cases import Case, CaseRep
from app.models.events import InboundEvent, OutboxEvent
from app.models.incidents import IncidentRecord
from app.models.letters import Letter
from app.models.reps import Rep
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task
from app.models.webhooks import WebhookSubscription, WebhookSubscriptionPrison


class Permission(StrEnum):
    CASE_READ = "case:read"
    CASE_UPDATE = "case:update"
    REFERRAL_CREATE = "referral:create"
    PARTY_MANAGE = "party:manage"
    CONSENT_RECORD = "consent:record"
    CONSENT_READ = "consent:read"
    RESPONSIBILITY_RECORD = "responsibility:record"
    RESPONSIBILITY_READ = "responsibility:read"
    FEEDBACK_RECORD = "feedback:record"
    TRANSITION_FIRE = "transition:fire"
    ASSIGNMENT_SET = "assignment:set"
    AUDIT_READ = "audit:read"
    TIMELINE_READ = "timeline:read"
    REP_READ = "rep:read"
    REP_MANAGE = "rep:manage"
    SUPERVISION_RECORD = "supervision:record"
    TASK_READ = "task:read"
    TASK_WORK = "task:work"
    TASK_MANAGE = "task:manage"
    CONTACT_RECORD = "contact:record"
    CONTACT_VOID = "contact:void"
    CONTACT_READ = "contact:read"
    LETTER_READ = "letter:read"
    LETTER_WRITE = "letter:write"
    LETTER_APPROVE = "letter:approve"
    LETTER_DELIVER = "letter:deliver"
    CONFERENCE_MANAGE = "conference:manage"
    CONFERENCE_READ = "conference:read"
    CONCERN_RAISE = "concern:raise"
    CONCERN_READ = "concern:read"
    # One concern by id: in full for readers, a rep only the receipt of one on their own case.
    CONCERN_VIEW = "concern:view"
    CONCERN_ACKNOWLEDGE = "concern:acknowledge"
    DUTY_SET = "duty:set"
    LEGAL_HOLD_SET = "legal-hold:set"
    EVENTS_READ = "events:read"
    EVENTS_INBOUND = "events:inbound"
    INBOUND_MANAGE = "events:inbound-manage"
    WEBHOOKS_MANAGE = "webhooks:manage"
    REPORTS_READ = "reports:read"
    PRACTITIONERS_READ = "practitioners:read"
    NOTE_WRITE = "note:write"
    NOTE_READ = "note:read"
    SUBJECT_ACCESS = "subject-access:read"
    CLIENTS_MANAGE = "clients:manage"


P = Permission

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.PRACTITIONER: frozenset(
        {
            P.SUPERVISION_RECORD,
            P.CONTACT_VOID,
            P.NOTE_WRITE,
            P.NOTE_READ,
            P.PRACTITIONERS_READ,
            P.CASE_READ,
            P.CASE_UPDATE,
            P.REFERRAL_CREATE,
            P.PARTY_MANAGE,
            P.CONSENT_RECORD,
            P.CONSENT_READ,
            P.RESPONSIBILITY_RECORD,
            P.RESPONSIBILITY_READ,
            P.FEEDBACK_RECORD,
            P.TRANSITION_FIRE,
            P.ASSIGNMENT_SET,
            P.TIMELINE_READ,
            P.REP_READ,
            P.TASK_READ,
            P.TASK_WORK,
            P.TASK_MANAGE,
            P.CONTACT_RECORD,
            P.CONTACT_READ,
            P.LETTER_READ,
            P.LETTER_WRITE,
            P.LETTER_APPROVE,
            P.LETTER_DELIVER,
            P.CONFERENCE_MANAGE,
            P.CONFERENCE_READ,
            P.CONCERN_RAISE,
            P.CONCERN_READ,
            P.CONCERN_VIEW,
            P.CONCERN_ACKNOWLEDGE,
        }
    ),
    Role.REP: frozenset(
        {
            P.NOTE_READ,
            P.CASE_READ,
            # Only what they hear on the wings: a withdrawal or a retraction (`may_record_grant`).
            P.CONSENT_RECORD,
            P.RESPONSIBILITY_RECORD,
            # A participant's answers, on the cases the rep is assigned to.
            P.FEEDBACK_RECORD,
            P.TRANSITION_FIRE,
            P.REP_READ,
            P.TASK_READ,
            P.TASK_WORK,
            P.CONTACT_RECORD,
            P.CONTACT_READ,
            P.LETTER_READ,
            P.LETTER_DELIVER,
            P.CONFERENCE_READ,
            P.CONCERN_RAISE,
            P.CONCERN_VIEW,
        }
    ),
    Role.REFERRER: frozenset({P.CASE_READ, P.REFERRAL_CREATE, P.EVENTS_READ, P.EVENTS_INBOUND}),
    Role.MANAGER: frozenset(
        {
            P.SUPERVISION_RECORD,
            P.NOTE_READ,
            P.PRACTITIONERS_READ,
            P.CASE_READ,
            P.TIMELINE_READ,
            P.REP_READ,
            P.REP_MANAGE,
            P.TASK_READ,
            P.CONTACT_READ,
            P.LETTER_READ,
            P.CONFERENCE_READ,
            P.CONCERN_READ,
            P.CONCERN_VIEW,
            P.DUTY_SET,
            P.REPORTS_READ,
            P.EVENTS_READ,
        }
    ),
    Role.AUDITOR: frozenset({P.AUDIT_READ}),
    Role.ADMIN: frozenset(
        {
            P.NOTE_READ,
            P.PRACTITIONERS_READ,
            P.CASE_READ,
            P.TIMELINE_READ,
            P.AUDIT_READ,
            P.REP_READ,
            P.REP_MANAGE,
            P.TASK_READ,
            P.CONTACT_READ,
            P.LETTER_READ,
            P.CONFERENCE_READ,
            P.CONCERN_READ,
            P.CONCERN_VIEW,
            P.DUTY_SET,
            P.LEGAL_HOLD_SET,
            P.EVENTS_READ,
            P.EVENTS_INBOUND,
            P.INBOUND_MANAGE,
            P.WEBHOOKS_MANAGE,
            P.REPORTS_READ,
            P.SUBJECT_ACCESS,
            P.CLIENTS_MANAGE,
        }
    ),
}

# Roles that see a case's risk notes; a rep never does.
SEES_RISK_NOTES = frozenset({Role.PRACTITIONER, Role.MANAGER, Role.ADMIN})
# Roles that see whether a party acknowledges their part in the harm, in the case's full view.
# Never reps or referrers: an acknowledgement must not become evidence on the wing or in an
# adjudication, so it stays with the staff who run the case.
SEES_RESPONSIBILITY = frozenset({Role.PRACTITIONER, Role.MANAGER, Role.ADMIN})


class View(StrEnum):
    """How much of a record a role is shown; each domain's presenter obeys it."""

    FULL = "full"
    NARROW = "narrow"
    NONE = "none"


# Which fields each role sees, per kind of record. Cases follow the same rule in
# app/cases/views.py (full for staff, narrow for reps and referrers, nothing for auditors).
# A concern's narrow view is a receipt: id, case, category, status and times, never the
# detail or who acknowledged it. A report's full view carries hours per rep (by id and name);
# no role gets a narrow report: reps and auditors may not read reports at all.
VIEWS: dict[str, dict[Role, View]] = {
    "concern": {
        Role.PRACTITIONER: View.FULL,
        Role.MANAGER: View.FULL,
        Role.ADMIN: View.FULL,
        Role.REP: View.NARROW,
        Role.REFERRER: View.NONE,
        Role.AUDITOR: View.NONE,
    },
    "report": {
        Role.PRACTITIONER: View.NONE,
        Role.MANAGER: View.FULL,
        Role.ADMIN: View.FULL,
        Role.REP: View.NONE,
        Role.REFERRER: View.NONE,
        Role.AUDITOR: View.NONE,
    },
}


def view_of(principal: Principal, kind: str) -> View:
    """The view of a `kind` of record the caller gets."""
    return VIEWS[kind][principal.role]


# Who may record that a party agrees (a consent given, responsibility acknowledged): those who
# hear it from the person themself. A rep passes on only a withdrawal or a retraction heard on
# the wings, which must take effect however it arrives.
RECORDS_GRANTS = frozenset({Role.PRACTITIONER})


def may_record_grant(principal: Principal) -> bool:
    """Whether the caller may record a consent given or responsibility acknowledged."""
    return principal.role in RECORDS_GRANTS


def sees_concern(principal: Principal, concern: SafeguardingConcern, *, rep_assigned: bool) -> bool:
    """Whether the caller may see a concern: readers in its prison; a rep only on their cases."""
    if not principal.covers(concern.prison_id):
        return False
    if has(principal, Permission.CONCERN_READ):
        return True
    return principal.role == Role.REP and concern.case_id is not None and rep_assigned


def concern_scope(principal: Principal) -> ColumnElement[bool]:
    """Concerns a reader may list: those of the prisons in the caseload."""
    if principal.prisons is None:
        return true()
    return col(SafeguardingConcern.prison_id).in_(sorted(principal.prisons))


def incident_scope(principal: Principal) -> ColumnElement[bool]:
    """Incident records a reader may see: those of incidents in the prisons of the caseload."""
    if principal.prisons is None:
        return true()
    return col(IncidentRecord.prison_id).in_(sorted(principal.prisons))


def has(principal: Principal, permission: Permission) -> bool:
    """Whether the caller's role grants `permission`."""
    return permission in GRANTS[principal.role]


def require(principal: Principal, permission: Permission) -> None:
    """Refuse with 403 unless the caller's role grants `permission`."""
    if not has(principal, permission):
        raise ForbiddenError(f"the {principal.role.value} role may not do this ({permission.value})")


def require_prison(principal: Principal, prison_id: str) -> None:
    """Refuse with 403 unless `prison_id` is in the caller's caseload."""
    if not principal.covers(prison_id):
        raise ForbiddenError(f"prison {prison_id} is not in your caseload")


def sees_case(principal: Principal, case: Case, *, rep_assigned: bool) -> bool:
    """Whether the caller may see this case at all (otherwise it is 404 to them)."""
    if not has(principal, Permission.CASE_READ) or not principal.covers(case.prison_id):
        return False
    if principal.role == Role.REP:
        return rep_assigned
    if principal.role == Role.REFERRER:
        return case.created_by_client_id == principal.client_id
    return True


@lru_cache(maxsize=1024)
def case_scope(principal: Principal) -> ColumnElement[bool]:
    """The same rule as `sees_case`, as a SQL condition for lists (made once for each caller a
    process has kept: conditions do not change once made)."""
    conditions: list[ColumnElement[bool]] = []
    if principal.prisons is not None:
        conditions.append(col(Case.prison_id).in_(sorted(principal.prisons)))
    if principal.role == Role.REP:
        assigned = select(col(CaseRep.case_id)).where(col(CaseRep.rep_id) == principal.rep_id)
        conditions.append(col(Case.id).in_(assigned))
    elif principal.role == Role.REFERRER:
        conditions.append(col(Case.created_by_client_id) == principal.client_id)
    return and_(true(), *conditions)


# `case_scope` written for the one-statement reads of a case on PostgreSQL
# (`app.cases.repository`), where `c` is the case row: its values, from `case_scope_values`, are
# $2 the caseload (NULL: every prison), $3 whether the case must be assigned to the rep $4, and
# $5 whether it must have been referred by the client $6. A case out of scope is then not found,
# as one that does not exist is: the same statement, finding nothing.
CASE_SCOPE_SQL = (
    "($2::text[] IS NULL OR c.prison_id = ANY($2::text[]))"
    " AND (NOT $3::boolean"
    " OR EXISTS (SELECT 1 FROM case_rep a WHERE a.case_id = c.id AND a.rep_id = $4::uuid))"
    " AND (NOT $5::boolean OR c.created_by_client_id IS NOT DISTINCT FROM $6::uuid)"
)


def case_scope_values(principal: Principal | None) -> tuple[Any, ...]:
    """The values of `CASE_SCOPE_SQL` for the caller (None: no caller, every case)."""
    if principal is None:
        return (None, False, None, False, None)
    return (
        None if principal.prisons is None else sorted(principal.prisons),
        principal.role == Role.REP,
        principal.rep_id,
        principal.role == Role.REFERRER,
        principal.client_id,
    )


def audit_scope(principal: Principal) -> ColumnElement[bool]:
    """The audit records a caller may read: with a caseload, only those of its prisons' cases
    (records outside any case, such as clients and reps, only for callers of every prison)."""
    if principal.prisons is None:
        return true()
    cases = select(col(Case.id)).where(col(Case.prison_id).in_(sorted(principal.prisons)))
    return col(AuditRecord.case_id).in_(cases)


def sees_task(principal: Principal, task: Task) -> bool:
    """Whether the caller may see a task: their prisons; a rep only their own."""
    if not has(principal, Permission.TASK_READ) or not principal.covers(task.prison_id):
        return False
    if principal.role == Role.REP:
        return task.assignee_type == "rep" and task.assignee_id == principal.rep_id
    return True


def task_scope(principal: Principal) -> ColumnElement[bool]:
    """`sees_task` as a SQL condition."""
    conditions: list[ColumnElement[bool]] = []
    if principal.prisons is not None:
        conditions.append(col(Task.prison_id).in_(sorted(principal.prisons)))
    if principal.role == Role.REP:
        conditions.append(col(Task.assignee_type) == "rep")
        conditions.append(col(Task.assignee_id) == principal.rep_id)
    return and_(true(), *conditions)


def rep_scope(principal: Principal) -> ColumnElement[bool]:
    """The reps a caller may see, as a SQL condition: those of their prisons; a rep only
    themself. (Reading reps at all takes `Permission.REP_READ`, checked apart.)"""
    conditions: list[ColumnElement[bool]] = []
    if principal.prisons is not None:
        conditions.append(col(Rep.prison_id).in_(sorted(principal.prisons)))
    if principal.role == Role.REP:
        conditions.append(col(Rep.id) == principal.rep_id)
    return and_(true(), *conditions)


# `rep_scope` for a statement built once, on PostgreSQL (the day list's one-statement read,
# `app.reps.service.day_list_json`), the caller given as the values of its parameters
# (`rep_scope_values`): the caseload (NULL: every prison), and whether the rep must be the caller's
# own. A rep out of scope is then not found, as one that does not exist is: the same statement,
# finding nothing.
_SCOPE_PRISONS = bindparam("scope_prisons", type_=ARRAY(Text))
REP_SCOPE_BOUND = and_(
    or_(_SCOPE_PRISONS.is_(None), col(Rep.prison_id) == any_(_SCOPE_PRISONS)),
    or_(
        not_(bindparam("scope_own_only", type_=Boolean)),
        col(Rep.id) == bindparam("scope_rep_id", type_=Uuid),
    ),
)


def rep_scope_values(principal: Principal) -> dict[str, Any]:
    """The values of `REP_SCOPE_BOUND`'s parameters for the caller, by name."""
    return {
        "scope_prisons": None if principal.prisons is None else sorted(principal.prisons),
        "scope_own_only": principal.role == Role.REP,
        "scope_rep_id": principal.rep_id,
    }


# What a rep may see of the letters of their own cases: only what a practitioner has read and
# let through. Drafts, returned letters and withheld ones stay between author and practitioner.
REP_VISIBLE_LETTERS = (LetterStatus.APPROVED.value, LetterStatus.DELIVERED.value)


def sees_letter(principal: Principal, letter: Letter) -> bool:
    """Whether the caller, who already sees the letter's case, may see the letter."""
    if not has(principal, Permission.LETTER_READ):
        return False
    if principal.role == Role.REP:
        return letter.status in REP_VISIBLE_LETTERS
    return True


def letter_scope(principal: Principal) -> ColumnElement[bool]:
    """`sees_letter` as a SQL condition (within a case the caller sees)."""
    if principal.role == Role.REP:
        return col(Letter.status).in_(REP_VISIBLE_LETTERS)
    return true()


def sees_practitioner_comments(principal: Principal) -> bool:
    """A practitioner's comments on a letter are for staff, not for reps."""
    return principal.role != Role.REP


def sees_cancel_reason(principal: Principal) -> bool:
    """Why a task was cancelled may say who withdrew: for staff, not for reps."""
    return principal.role != Role.REP


def sees_contact_summary(principal: Principal, contact_rep_id: uuid.UUID | None) -> bool:
    """What happened at a contact: a rep reads only their own notes, never another rep's."""
    if principal.role == Role.REP:
        return contact_rep_id is not None and contact_rep_id == principal.rep_id
    return True


def may_act_for_rep(principal: Principal, rep_id: uuid.UUID) -> bool:
    """Whether the caller may record work done by `rep_id` (a rep only for themself)."""
    return principal.role != Role.REP or principal.rep_id == rep_id


def sees_keep_apart_details(principal: Principal) -> bool:
    """Non-association decisions and their reasons are risk information: never for reps."""
    return principal.role in SEES_RISK_NOTES


def event_scope(principal: Principal) -> ColumnElement[bool]:
    """The outbound events a caller may read: those of the prisons in their caseload."""
    if principal.prisons is None:
        return true()
    return col(OutboxEvent.prison_id).in_(sorted(principal.prisons))


def inbound_scope(principal: Principal) -> ColumnElement[bool]:
    """The inbound events an admin may see: those about the prisons in their caseload (an event
    about no known prison only for callers of every prison)."""
    if principal.prisons is None:
        return true()
    return col(InboundEvent.prison_id).in_(sorted(principal.prisons))


def subscription_scope(principal: Principal) -> ColumnElement[bool]:
    """The webhook subscriptions a caller may manage: those whose prisons their caseload covers.

    A subscription of every prison, or of none (one made before subscriptions had prisons, by a
    key no longer known), is for callers of every prison only.
    """
    if principal.prisons is None:
        return true()
    of_subscription = col(WebhookSubscriptionPrison.subscription_id) == col(WebhookSubscription.id)
    outside = col(WebhookSubscriptionPrison.prison_id).not_in(sorted(principal.prisons))
    return and_(
        not_(col(WebhookSubscription.all_prisons)),
        exists().where(of_subscription),
        not_(exists().where(of_subscription, outside)),
    )


def subscription_prisons(principal: Principal) -> frozenset[str] | None:
    """The prisons a subscription made by the caller belongs to: their caseload (None: every
    prison)."""
    return principal.prisons


def delivers(prisons: frozenset[str] | None, event_prison: str | None) -> bool:
    """Whether an event of `event_prison` goes to a subscription of `prisons` (None: every
    prison). An event of no prison goes only to subscriptions of every prison."""
    if prisons is None:
        return True
    return event_prison is not None and event_prison in prisons


def cases_in_caseload(principal: Principal) -> ColumnElement[bool]:
    """The cases of the prisons in a caller's caseload, whoever referred them.

    For what a prison system reports about people (releases, transfers): it concerns every case
    of theirs in those prisons, not only the ones the sender referred.
    """
    if principal.prisons is None:
        return true()
    return col(Case.prison_id).in_(sorted(principal.prisons))


def manages_client(principal: Principal, client: ApiClient) -> bool:
    """Whether the caller may see and change an API client: an admin, for clients whose whole
    caseload lies within theirs (a client of every prison only for an admin of every prison)."""
    if not has(principal, Permission.CLIENTS_MANAGE):
        return False
    if principal.prisons is None:
        return True
    return not client.all_prisons and set(client.prisons) <= principal.prisons
