"""Letters: the rules that keep an unapproved letter from reaching anyone.

A letter moves only along the table below, as a case moves only along the workflow's.
"""

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.auth.access import Permission, letter_scope, sees_letter, sees_practitioner_comments
from app.cases.repository import CaseBundle
from app.common.enums import CaseState, ConsentScope, LetterStatus, TaskKind, TaskStatus
from app.context import Principal, RequestContext
from app.errors import (
    ConsentMissingError,
    InvalidStateError,
    LetterMoveNotAllowedError,
    NotFoundError,
    ValidationFailedError,
)
from app.letters.schemas import LetterPublic
from app.models.cases import Case, Party
from app.models.letters import Letter
from app.models.tasks import Task
from app.tasks import service as tasks

L = LetterStatus
S = CaseState

# Letters are written, read and approved while the case is in letter exchange. An approved letter
# may still be delivered once the work has moved on (to shuttle mediation, a conference, or
# follow-up after concluding); never while the case is paused for cooling off or closed.
WRITING_STATES = (S.LETTER_EXCHANGE,)
DELIVERY_STATES = (S.LETTER_EXCHANGE, S.SHUTTLE_MEDIATION, S.CONFERENCE, S.FOLLOW_UP)


@dataclass(frozen=True, slots=True)
class LetterMove:
    """One row of the letter table. `permission=None`: only the service itself (on withdrawal)."""

    action: str
    sources: tuple[LetterStatus, ...]
    dest: LetterStatus
    permission: Permission | None
    case_states: tuple[CaseState, ...]


MOVES: dict[str, LetterMove] = {
    m.action: m
    for m in (
        LetterMove("submit", (L.DRAFT, L.RETURNED), L.SUBMITTED, Permission.LETTER_WRITE, WRITING_STATES),
        LetterMove("approve", (L.SUBMITTED,), L.APPROVED, Permission.LETTER_APPROVE, WRITING_STATES),
        LetterMove("return", (L.SUBMITTED,), L.RETURNED, Permission.LETTER_APPROVE, WRITING_STATES),
        LetterMove("deliver", (L.APPROVED,), L.DELIVERED, Permission.LETTER_DELIVER, DELIVERY_STATES),
        LetterMove(
            "withhold",
            (L.DRAFT, L.SUBMITTED, L.RETURNED, L.APPROVED),
            L.WITHHELD,
            None,
            tuple(CaseState),
        ),
    )
}
EDITABLE = (L.DRAFT, L.RETURNED)
UNDELIVERED = tuple(s.value for s in MOVES["withhold"].sources)


def _body_facts(body: str) -> dict[str, Any]:
    # The audit trail proves what was written without keeping a second copy of a private letter.
    return {"bodyLength": len(body), "bodySha256": hashlib.sha256(body.encode()).hexdigest()}


def _party(bundle: CaseBundle, party_id: uuid.UUID, what: str) -> Party:
    for party in bundle.parties:
        if party.id == party_id:
            return party
    raise ValidationFailedError(f"{what} {party_id} is not a party to {bundle.case.reference}")


def _consented(bundle: CaseBundle, party: Party, scope: ConsentScope) -> bool:
    consent = bundle.consents.get((party.id, scope.value))
    return bool(consent and consent.given)


def _require_state(case: Case, allowed: tuple[CaseState, ...], doing: str) -> None:
    if CaseState(case.state) not in allowed:
        raise InvalidStateError(
            f"cannot {doing} while the case is {case.state.replace('_', ' ')}; "
            f"allowed in: {', '.join(s.value for s in allowed)}",
            extra={"state": case.state, "allowedStates": [s.value for s in allowed]},
        )


async def create_letter(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    *,
    author_party_id: uuid.UUID,
    recipient_party_id: uuid.UUID,
    body: str,
    in_reply_to: uuid.UUID | None,
) -> Letter:
    """A draft from one party to another, who both consented to letters."""
    case = bundle.case
    _require_state(case, WRITING_STATES, "write a letter")
    author = _party(bundle, author_party_id, "author")
    recipient = _party(bundle, recipient_party_id, "recipient")
    if author.id == recipient.id:
        raise ValidationFailedError("a letter goes from one party to another")
    missing = []
    if not _consented(bundle, author, ConsentScope.LETTERS_SEND):
        missing.append(f"{author.first_name} {author.last_name} has not consented to write letters")
    if not _consented(bundle, recipient, ConsentScope.LETTERS_RECEIVE):
        missing.append(f"{recipient.first_name} {recipient.last_name} has not consented to receive letters")
    if missing:
        raise ConsentMissingError("; ".join(missing))
    if in_reply_to is not None:
        answered = await session.get(Letter, in_reply_to)
        if answered is None or answered.case_id != case.id:
            raise ValidationFailedError(f"no letter {in_reply_to} on {case.reference} to reply to")
        if answered.recipient_party_id != author.id or answered.author_party_id != recipient.id:
            raise ValidationFailedError("a reply goes from the recipient of a letter back to its author")
        if answered.status != L.DELIVERED:
            raise InvalidStateError("only a delivered letter can be answered")
    now = clock.now()
    letter = Letter(
        case_id=case.id,
        author_party_id=author.id,
        recipient_party_id=recipient.id,
        in_reply_to=in_reply_to,
        body=body,
        status=L.DRAFT.value,
        created_at=now,
        updated_at=now,
    )
    session.add(letter)
    await session.flush()
    record_case_change(
        session,
        ctx,
        case,
        action="letter.drafted",
        entity_type="letter",
        entity_id=letter.id,
        after={
            "status": letter.status,
            "authorPartyId": author.id,
            "recipientPartyId": recipient.id,
            "inReplyTo": in_reply_to,
            **_body_facts(body),
        },
    )
    return letter


async def edit_letter(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, letter: Letter, *, body: str
) -> Letter:
    """Rewrite a draft or a returned letter."""
    _require_state(bundle.case, WRITING_STATES, "change a letter")
    if LetterStatus(letter.status) not in EDITABLE:
        raise LetterMoveNotAllowedError(f"a {letter.status} letter cannot be changed")
    before = _body_facts(letter.body)
    letter.body = body
    letter.updated_at = clock.now()
    session.add(letter)
    record_case_change(
        session,
        ctx,
        bundle.case,
        action="letter.edited",
        entity_type="letter",
        entity_id=letter.id,
        before=before,
        after=_body_facts(body),
    )
    return letter


async def move(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    letter: Letter,
    action: str,
    *,
    comments: str | None = None,
    outcome: str = "delivered",
    duration_minutes: int = 0,
    notes: str | None = None,
) -> Letter:
    """Move a letter along the table (the caller holds the case row lock)."""
    case = bundle.case
    step = MOVES[action]
    status = LetterStatus(letter.status)
    if status not in step.sources:
        allowed = [m.action for m in MOVES.values() if status in m.sources and m.permission is not None]
        raise LetterMoveNotAllowedError(
            f"cannot {action} a {status.value} letter"
            + (f"; it can be: {', '.join(allowed)}" if allowed else ""),
            extra={"status": status.value, "allowedActions": allowed},
        )
    _require_state(case, step.case_states, f"{action} a letter")
    now = clock.now()
    before: dict[str, Any] = {"status": status.value}
    after: dict[str, Any] = {"status": step.dest.value}
    if action == "approve":
        letter.approved_by = ctx.principal.client_id
        letter.approved_at = now
        task = tasks.schedule_letter_delivery(
            session,
            case=case,
            letter_id=letter.id,
            author=_party(bundle, letter.author_party_id, "author"),
            recipient=_party(bundle, letter.recipient_party_id, "recipient"),
            rep_ids=bundle.rep_ids,
            now=now,
        )
        after["deliveryTaskId"] = task.id
    elif action == "return":
        letter.practitioner_comments = comments
        after["comments"] = comments
    elif action == "deliver":
        # The recipient's consent is a gate of the delivery, judged by its caller
        # (`app.workflows.case_workflow.ACTION_GATES`).
        letter.delivered_at = now
        letter.delivered_by_rep_id = ctx.principal.rep_id
        after["deliveredByRepId"] = ctx.principal.rep_id
    letter.status = step.dest.value
    letter.updated_at = now
    session.add(letter)
    record_case_change(
        session,
        ctx,
        case,
        action=f"letter.{_PAST[action]}",
        entity_type="letter",
        entity_id=letter.id,
        before=before,
        after=after,
    )
    if action == "deliver":
        for task in await _open_delivery_tasks(session, letter):
            await tasks.complete_task(
                session,
                ctx,
                task,
                case=case,
                outcome=outcome,
                notes=notes,
                duration_minutes=duration_minutes,
                extra={"letterId": letter.id},
            )
    return letter


_PAST = {"submit": "submitted", "approve": "approved", "return": "returned", "deliver": "delivered"}


async def _open_delivery_tasks(session: AsyncSession, letter: Letter) -> list[Task]:
    rows = await session.execute(
        select(Task).where(
            col(Task.letter_id) == letter.id,
            col(Task.kind) == TaskKind.LETTER_DELIVERY.value,
            col(Task.status) == TaskStatus.OPEN.value,
        )
    )
    return list(rows.scalars())


async def withhold_undelivered(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case,
    *,
    party_id: uuid.UUID | None = None,
    written_by_only: bool = False,
) -> int:
    """On withdrawal, withhold every letter not yet delivered (only those to or from `party_id`
    when a party is named: the others' letters still go; only those from them when
    `written_by_only`) and cancel their delivery tasks."""
    conditions = [col(Letter.case_id) == case.id, col(Letter.status).in_(UNDELIVERED)]
    if party_id is not None and written_by_only:
        conditions.append(col(Letter.author_party_id) == party_id)
    elif party_id is not None:
        conditions.append(
            (col(Letter.author_party_id) == party_id) | (col(Letter.recipient_party_id) == party_id)
        )
    letters = (await session.execute(select(Letter).where(*conditions))).scalars().all()
    now = clock.now()
    for letter in letters:
        before = letter.status
        letter.status = L.WITHHELD.value
        letter.updated_at = now
        session.add(letter)
        record_case_change(
            session,
            ctx,
            case,
            action="letter.withheld",
            entity_type="letter",
            entity_id=letter.id,
            before={"status": before},
            after={"status": L.WITHHELD.value},
        )
    if letters:
        deliveries = await tasks.open_tasks(
            session, case.id, [TaskKind.LETTER_DELIVERY], letter_ids=[letter.id for letter in letters]
        )
        tasks.cancel(session, deliveries, reason="The letter was withheld.", now=now)
    return len(letters)


async def get_letter(
    session: AsyncSession, principal: Principal, case: Case, letter_id: uuid.UUID, *, lock: bool = False
) -> Letter:
    """A letter of the case the caller may see (404 otherwise)."""
    stmt = select(Letter).where(col(Letter.id) == letter_id, col(Letter.case_id) == case.id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    letter = (await session.execute(stmt)).scalar_one_or_none()
    if letter is None or not sees_letter(principal, letter):
        raise NotFoundError(f"no letter {letter_id} on {case.reference}")
    return letter


async def list_letters(session: AsyncSession, principal: Principal, case: Case) -> list[Letter]:
    """The case's letters the caller may see, oldest first."""
    rows = await session.execute(
        select(Letter)
        .where(col(Letter.case_id) == case.id, letter_scope(principal))
        .order_by(col(Letter.created_at), col(Letter.id))
    )
    return list(rows.scalars())


async def present_letters(
    session: AsyncSession, principal: Principal, case: Case, letters: list[Letter]
) -> list[LetterPublic]:
    """Letters as the caller may see them, each with the replies the caller may see."""
    visible = await list_letters(session, principal, case)
    replies: dict[uuid.UUID, list[uuid.UUID]] = {}
    for other in visible:
        if other.in_reply_to is not None:
            replies.setdefault(other.in_reply_to, []).append(other.id)
    comments = sees_practitioner_comments(principal)
    return [
        LetterPublic(
            id=letter.id,
            case_id=letter.case_id,
            status=LetterStatus(letter.status),
            author_party_id=letter.author_party_id,
            recipient_party_id=letter.recipient_party_id,
            in_reply_to=letter.in_reply_to,
            replies=replies.get(letter.id, []),
            body=letter.body,
            practitioner_comments=letter.practitioner_comments if comments else None,
            approved_at=letter.approved_at,
            delivered_at=letter.delivered_at,
            delivered_by_rep_id=letter.delivered_by_rep_id,
            created_at=letter.created_at,
            updated_at=letter.updated_at,
        )
        for letter in letters
    ]
