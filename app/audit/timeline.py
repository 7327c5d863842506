"""A case's history in words a person can read, from its audit records."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.common.enums import CONTACT_WORDS
from app.models.audit import AuditRecord

TRIGGER_WORDS = {
    "accept": "Accepted for assessment",
    "decline": "Declined",
    "start_shuttle": "Shuttle mediation started",
    "start_letters": "Letter exchange started",
    "schedule_conference": "Conference scheduled",
    "conclude": "Intervention concluded",
    "withdraw": "A party withdrew",
    "pause": "Paused for cooling off",
    "resume": "Resumed",
    "close": "Closed",
    "reopen": "Reopened",
}

SCOPE_WORDS = {
    "indirect": "indirect contact (messages through a rep)",
    "letters_send": "writing letters",
    "letters_receive": "receiving letters",
    "direct": "meeting face to face",
}

FOLLOW_UP_WORDS = {
    "rep_visit": "rep visits",
    "practitioner_only": "the practitioner only",
    "no_contact": "no one (no contact)",
}

FIELD_WORDS = {
    "summary": "summary",
    "category": "category",
    "riskLevel": "risk level",
    "riskNotes": "risk notes",
    "facilitator": "facilitator",
}


def _words(value: Any) -> str:
    return str(value).replace("_", " ")


def _referred(a: dict[str, Any]) -> str:
    parties = ", ".join(
        f"{p['firstName']} {p['lastName']} ({_words(p['role'])})" for p in a.get("parties", [])
    )
    source = a.get("source") or {}
    return (
        f"Referred by {a.get('referredBy')} from {source.get('system')} ({source.get('reference')}): "
        f"{_words(a.get('category'))} in {a.get('prisonId')}, involving {parties or 'nobody yet'}."
    )


def _transition(a: dict[str, Any], b: dict[str, Any]) -> str:
    trigger = a.get("trigger", "")
    if trigger == "withdraw" and a.get("state") == b.get("state"):
        return f"A party withdrew; the case goes on in {_words(a.get('state'))}."
    text = (
        f"{TRIGGER_WORDS.get(trigger, _words(trigger))}: {_words(b.get('state'))} to {_words(a.get('state'))}"
    )
    details = []
    if a.get("reason"):
        details.append(f"reason: {a['reason']}")
    if trigger in {"conclude", "withdraw", "decline"} and a.get("outcome"):
        details.append(f"outcome: {_words(a['outcome'])}")
    if a.get("until"):
        details.append(f"until {a['until']}")
    return text + (f" ({'; '.join(details)})" if details else "") + "."


def _updated(a: dict[str, Any], _b: dict[str, Any]) -> str:
    # In the fields' own order: stored JSON is canonical, so the record's key order is not the request's.
    order = list(FIELD_WORDS)
    keys = sorted(a, key=lambda k: (order.index(k) if k in order else len(order), k))
    changed = ", ".join(FIELD_WORDS.get(k, k) for k in keys)
    level = f" Risk level now {a['riskLevel']}." if a.get("riskLevel") else ""
    return f"Case details changed: {changed}.{level}"


def _consent(a: dict[str, Any], _b: dict[str, Any]) -> str:
    verb = "consented to" if a.get("given") else "withdrew or refused consent to"
    return (
        f"{a.get('party')} {verb} {SCOPE_WORDS.get(a.get('scope', ''), a.get('scope'))}, "
        f"recorded by {a.get('recordedBy')} ({_words(a.get('method'))})."
    )


def _responsibility(a: dict[str, Any], _b: dict[str, Any]) -> str:
    said = "acknowledged" if a.get("acknowledged") else "did not acknowledge"
    return (
        f"{a.get('party')} {said} their part in the harm, recorded by {a.get('recordedBy')} "
        f"({_words(a.get('method'))})."
    )


def _party_updated(a: dict[str, Any], _b: dict[str, Any]) -> str:
    changes = []
    if a.get("followUp"):
        changes.append(f"to be checked on by {FOLLOW_UP_WORDS.get(a['followUp'], _words(a['followUp']))}")
    if "outcomeUpdates" in a:
        changes.append(
            "to be told what became of the agreement"
            if a["outcomeUpdates"]
            else "not to be told what became of the agreement"
        )
    return f"{a.get('party')}'s details changed" + (f": {'; '.join(changes)}" if changes else "") + "."


def _assignment(a: dict[str, Any], _b: dict[str, Any]) -> str:
    reps = len(a.get("repIds") or [])
    who = "a practitioner" if a.get("practitionerId") else "no practitioner"
    return f"Assignment changed: {who} and {reps} rep{'s' if reps != 1 else ''} assigned."


def _task_completed(a: dict[str, Any], _b: dict[str, Any]) -> str:
    minutes = a.get("durationMinutes")
    took = f" ({minutes} minute{'s' if minutes != 1 else ''})" if minutes is not None else ""
    return f"{_words(a.get('kind')).capitalize()} done: {a.get('outcome')}{took}."


_NOTE_KINDS = {"general": "Note", "conference": "Conference notes", "decline": "Why the case was declined"}


def _note(after: dict[str, Any]) -> str:
    kind = _NOTE_KINDS.get(str(after.get("kind")), "Note")
    correction = " (a correction)" if after.get("corrects") else ""
    for_reps = " for reps" if after.get("forReps") else ""
    return f"{kind}{correction}{for_reps}: {after.get('text')}"


SENTENCES: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "case.referred": lambda a, _b: _referred(a),
    "case.updated": _updated,
    "party.added": lambda a, _b: (
        f"{a.get('firstName')} {a.get('lastName')} added as a party ({_words(a.get('role'))})."
    ),
    "consent.recorded": _consent,
    "responsibility.recorded": _responsibility,
    "feedback.recorded": lambda a, _b: f"{a.get('party')} gave feedback ({_words(a.get('stage'))}).",
    "party.updated": _party_updated,
    "assignment.changed": _assignment,
    "letter.withheld": lambda _a, _b: "An undelivered letter was withheld.",
    "note.written": lambda a, _b: _note(a),
    "contact.voided": lambda a, _b: (
        f"A contact ({_words(a.get('kind'))}) was voided as recorded in error: {a.get('reason')}"
    ),
    "concern.raised": lambda a, _b: (
        f"Safeguarding concern ({_words(a.get('category'))}) raised about {a.get('prisonerNumber')}; "
        "staff were told."
    ),
    "concern.acknowledged": lambda a, _b: (
        f"Safeguarding concern acknowledged by {a.get('acknowledgedBy')}"
        + (f" (reference {a['externalReference']})" if a.get("externalReference") else "")
        + "."
    ),
    "concern.overdue": lambda a, _b: (
        f"Safeguarding concern not acknowledged within {a.get('ackWithinMinutes')} minutes: escalated."
    ),
    "case.legal-hold": lambda a, _b: (
        f"Legal hold placed: {a.get('reason')}." if a.get("legalHold") else "Legal hold released."
    ),
    "letter.drafted": lambda a, _b: (
        "A letter was drafted" + (" in reply to another." if a.get("inReplyTo") else ".")
    ),
    "letter.edited": lambda _a, _b: "A letter was rewritten.",
    "letter.submitted": lambda _a, _b: "A letter was submitted for a practitioner to read.",
    "letter.approved": lambda _a, _b: "A letter was approved and a delivery task set.",
    "letter.returned": lambda a, _b: f"A letter was returned to its author: {a.get('comments')}",
    "letter.delivered": lambda _a, _b: "A letter was delivered.",
    "contact.recorded": lambda a, _b: (
        f"{CONTACT_WORDS.get(a.get('kind', ''), 'Contact')} recorded ({a.get('durationMinutes')} minutes"
        + (f", round {a['shuttleRound']}" if a.get("shuttleRound") else "")
        + ")."
    ),
    "conference.arranged": lambda a, _b: (
        f"Conference arrangements changed: {a.get('scheduledAt')} at {a.get('location')}."
    ),
    "conference.outcome_recorded": lambda a, _b: (
        f"Conference recorded as held with {len(a.get('agreement') or [])} agreement item(s)."
        if a.get("held")
        else "Conference recorded as not held."
    ),
    "agreement.recorded": lambda a, _b: (
        f"Agreement reached by {_words(a.get('madeIn'))} with {len(a.get('agreement') or [])} item(s)."
    ),
    "agreement_item.marked": lambda a, _b: (
        f'Agreement item "{a.get("description")}" marked {a.get("status")}.'
    ),
    "agreement_item.overdue": lambda a, _b: (
        f'Agreement item "{a.get("description")}" passed its due date ({a.get("dueOn")}) still pending.'
    ),
    "task.added": lambda a, _b: f"A {_words(a.get('kind'))} task was added by hand.",
    "task.completed": _task_completed,
    "task.reassigned": lambda a, _b: f"A task was reassigned ({a.get('reason')}).",
    "task.cancelled": lambda a, _b: f"A {_words(a.get('kind'))} task was cancelled ({a.get('reason')}).",
    "task.rescheduled": lambda a, _b: (
        f"A {_words(a.get('kind'))} task was moved to {a.get('dueAt')} ({a.get('reason')})."
    ),
    "task.overdue": lambda a, _b: f"A {_words(a.get('kind'))} task became overdue.",
    "case.flagged": lambda a, _b: f"Flagged for the practitioner's review: {a.get('detail')}.",
}


def sentence(record: AuditRecord) -> str:
    """One record in plain words."""
    after, before = record.after or {}, record.before or {}
    if record.redacted:
        return "Details removed under the retention policy."
    if record.action.startswith("case.") and "trigger" in after:
        return _transition(after, before)
    make = SENTENCES.get(record.action)
    if make is not None:
        return make(after, before)
    return f"{_words(record.action.replace('.', ' '))}."


def actor_words(actor: dict[str, Any]) -> str:
    """Who did it, for people."""
    return f"{actor.get('name')} ({actor.get('role')})"


async def case_records(session: AsyncSession, case_id: Any) -> list[AuditRecord]:
    """The case's audit records, oldest first."""
    rows = await session.execute(
        select(AuditRecord).where(col(AuditRecord.chain) == str(case_id)).order_by(col(AuditRecord.seq))
    )
    return list(rows.scalars())
