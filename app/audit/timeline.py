"""A case's history in words a person can read, from its audit records."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audit.models import AuditRecord

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
    changed = ", ".join(FIELD_WORDS.get(k, k) for k in a)
    level = f" Risk level now {a['riskLevel']}." if a.get("riskLevel") else ""
    return f"Case details changed: {changed}.{level}"


def _consent(a: dict[str, Any], _b: dict[str, Any]) -> str:
    verb = "consented to" if a.get("given") else "withdrew or refused consent to"
    return (
        f"{a.get('party')} {verb} {SCOPE_WORDS.get(a.get('scope', ''), a.get('scope'))}, "
        f"recorded by {a.get('recordedBy')} ({_words(a.get('method'))})."
    )


def _assignment(a: dict[str, Any], _b: dict[str, Any]) -> str:
    reps = len(a.get("repIds") or [])
    who = "a practitioner" if a.get("practitionerId") else "no practitioner"
    return f"Assignment changed: {who} and {reps} rep{'s' if reps != 1 else ''} assigned."


def _task_completed(a: dict[str, Any], _b: dict[str, Any]) -> str:
    minutes = a.get("durationMinutes")
    took = f" ({minutes} minute{'s' if minutes != 1 else ''})" if minutes is not None else ""
    return f"{_words(a.get('kind')).capitalize()} done: {a.get('outcome')}{took}."


SENTENCES: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "case.referred": lambda a, _b: _referred(a),
    "case.updated": _updated,
    "party.added": lambda a, _b: (
        f"{a.get('firstName')} {a.get('lastName')} added as a party ({_words(a.get('role'))})."
    ),
    "consent.recorded": _consent,
    "assignment.changed": _assignment,
    "letter.withheld": lambda _a, _b: "An undelivered letter was withheld.",
    "task.completed": _task_completed,
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
