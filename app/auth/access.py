"""Access rules in one place: what each role may do, and which objects a caller may see."""

from enum import StrEnum

from sqlalchemy import ColumnElement, and_, select, true
from sqlmodel import col

from app.audit.models import AuditRecord
from app.cases.models import Case, CaseRep
from app.common.enums import Role
from app.context import Principal
from app.errors import ForbiddenError
from app.tasks.models import Task


class Permission(StrEnum):
    CASE_READ = "case:read"
    CASE_UPDATE = "case:update"
    REFERRAL_CREATE = "referral:create"
    PARTY_MANAGE = "party:manage"
    CONSENT_RECORD = "consent:record"
    TRANSITION_FIRE = "transition:fire"
    ASSIGNMENT_SET = "assignment:set"
    AUDIT_READ = "audit:read"
    TIMELINE_READ = "timeline:read"
    REP_READ = "rep:read"
    REP_MANAGE = "rep:manage"
    TASK_READ = "task:read"
    TASK_WORK = "task:work"
    TASK_MANAGE = "task:manage"
    CONTACT_RECORD = "contact:record"
    LETTER_WRITE = "letter:write"
    LETTER_APPROVE = "letter:approve"
    LETTER_DELIVER = "letter:deliver"
    CONFERENCE_MANAGE = "conference:manage"
    CONCERN_RAISE = "concern:raise"
    CONCERN_READ = "concern:read"
    CONCERN_ACKNOWLEDGE = "concern:acknowledge"
    EVENTS_READ = "events:read"
    EVENTS_INBOUND = "events:inbound"
    WEBHOOKS_MANAGE = "webhooks:manage"
    REPORTS_READ = "reports:read"
    SUBJECT_ACCESS = "subject-access:read"
    CLIENTS_MANAGE = "clients:manage"


P = Permission

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.PRACTITIONER: frozenset(
        {
            P.CASE_READ,
            P.CASE_UPDATE,
            P.REFERRAL_CREATE,
            P.PARTY_MANAGE,
            P.CONSENT_RECORD,
            P.TRANSITION_FIRE,
            P.ASSIGNMENT_SET,
            P.TIMELINE_READ,
            P.REP_READ,
            P.TASK_READ,
            P.TASK_WORK,
            P.TASK_MANAGE,
            P.CONTACT_RECORD,
            P.LETTER_WRITE,
            P.LETTER_APPROVE,
            P.LETTER_DELIVER,
            P.CONFERENCE_MANAGE,
            P.CONCERN_RAISE,
            P.CONCERN_READ,
            P.CONCERN_ACKNOWLEDGE,
        }
    ),
    Role.REP: frozenset(
        {
            P.CASE_READ,
            P.TRANSITION_FIRE,
            P.TASK_READ,
            P.TASK_WORK,
            P.CONTACT_RECORD,
            P.LETTER_DELIVER,
            P.CONCERN_RAISE,
        }
    ),
    Role.REFERRER: frozenset({P.CASE_READ, P.REFERRAL_CREATE, P.EVENTS_READ, P.EVENTS_INBOUND}),
    Role.MANAGER: frozenset(
        {
            P.CASE_READ,
            P.TIMELINE_READ,
            P.REP_READ,
            P.REP_MANAGE,
            P.TASK_READ,
            P.CONCERN_READ,
            P.REPORTS_READ,
            P.EVENTS_READ,
        }
    ),
    Role.AUDITOR: frozenset({P.AUDIT_READ}),
    Role.ADMIN: frozenset(
        {
            P.CASE_READ,
            P.TIMELINE_READ,
            P.AUDIT_READ,
            P.REP_READ,
            P.REP_MANAGE,
            P.TASK_READ,
            P.CONCERN_READ,
            P.EVENTS_READ,
            P.EVENTS_INBOUND,
            P.WEBHOOKS_MANAGE,
            P.REPORTS_READ,
            P.SUBJECT_ACCESS,
            P.CLIENTS_MANAGE,
        }
    ),
}

# Roles that see a case's risk notes; a rep never does.
SEES_RISK_NOTES = frozenset({Role.PRACTITIONER, Role.MANAGER, Role.ADMIN})


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


def case_scope(principal: Principal) -> ColumnElement[bool]:
    """The same rule as `sees_case`, as a SQL condition for lists."""
    conditions: list[ColumnElement[bool]] = []
    if principal.prisons is not None:
        conditions.append(col(Case.prison_id).in_(sorted(principal.prisons)))
    if principal.role == Role.REP:
        assigned = select(col(CaseRep.case_id)).where(col(CaseRep.rep_id) == principal.rep_id)
        conditions.append(col(Case.id).in_(assigned))
    elif principal.role == Role.REFERRER:
        conditions.append(col(Case.created_by_client_id) == principal.client_id)
    return and_(true(), *conditions)


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
