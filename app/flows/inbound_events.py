"""Domain events from other prison systems: recorded once, acted on, retried when that fails.

Each event is recorded first, in a short transaction of its own, under its sender and its
`eventId` (or a hash of its body): the same event again from the same sender is never acted on
twice, and one sender's event never stands for another's. Acting on it runs in its own
transactions, and never holds one open while another system is being asked for something.
What could not be done is kept with its error: `failed` (worth retrying: the timed work retries it
with back-off, an admin can replay at once) or `rejected` (the event itself cannot be acted on).
"""

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change, record_global_change
from app.auth.access import cases_in_caseload, inbound_scope, require_prison
from app.auth.service import principal_of
from app.cases import repository as repo
from app.common.backoff import backoff_seconds
from app.common.enums import AssigneeType, CaseState, TaskKind
from app.common.patterns import PRISON_ID, PRISONER_NUMBER
from app.config import get_settings
from app.context import SYSTEM, Principal, RequestContext
from app.db import Database, dialect_insert, fetch_page, new_id, rowcount
from app.errors import AppError, InvalidStateError, NotFoundError, ValidationFailedError
from app.events.schemas import DomainEvent, InboundStatus
from app.models.auth import ApiClient
from app.models.cases import Case, CaseFlag, Party
from app.models.events import InboundEvent
from app.referrals import incident_history
from app.referrals.incident_reporting import IncidentSystemError, fetch_report
from app.referrals.incident_reports import occurred_at, refer_report, source_reference
from app.referrals.schemas import IncidentReport
from app.tasks.service import new_task

log = logging.getLogger(__name__)

INCIDENT_REPORT_CREATED = "incident.report.created"
PRISONER_RELEASED = "prison-offender-events.prisoner.released"
PRISONER_RECEIVED = "prison-offender-events.prisoner.received"
HANDLED = (INCIDENT_REPORT_CREATED, PRISONER_RELEASED, PRISONER_RECEIVED)

FLAG_KIND = {PRISONER_RELEASED: "prisoner_released", PRISONER_RECEIVED: "prisoner_received"}
REVIEW_WITHIN = timedelta(days=1)

S = InboundStatus


def event_prison(event: DomainEvent) -> str | None:
    """The prison an event is about, as far as it says: an incident report's `location`, a
    prisoner's movement's `prisonId` (None when it names none). An incident report's is then
    the location of the report itself, once fetched."""
    info = event.additional_information
    value = info.get("location" if event.event_type == INCIDENT_REPORT_CREATED else "prisonId")
    return value if isinstance(value, str) and re.fullmatch(PRISON_ID, value) else None


def dedupe_key(event: DomainEvent) -> str:
    """What makes two deliveries the same event: its `eventId`, else its whole body."""
    if event.event_id:
        return f"id:{event.event_id}"
    body = json.dumps(event.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return f"sha256:{hashlib.sha256(body.encode()).hexdigest()}"


async def receive(db: Database, ctx: RequestContext, event: DomainEvent) -> tuple[InboundEvent, bool]:
    """Record an event and act on it; the record, and False when it had been received before.

    A repeat of an event that failed or was rejected is acted on again; any other repeat is only
    answered with what became of the first.
    """
    now = clock.now()
    handled = event.event_type in HANDLED
    sender = ctx.principal.client_id
    if sender is None:
        # Every caller of the API has a client id; without one, no sender's events could be told apart.
        raise ValidationFailedError("an inbound event needs a sender")
    key = dedupe_key(event)
    async with db.transaction() as session:
        inserted = (
            await session.execute(
                dialect_insert(session)(InboundEvent)
                .values(
                    id=new_id(),
                    dedupe_key=key,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    occurred_at=event.occurred_at,
                    payload=event.model_dump(mode="json", by_alias=True),
                    sender_client_id=sender,
                    prison_id=event_prison(event),
                    status=S.PROCESSING.value if handled else S.IGNORED.value,
                    attempts=1 if handled else 0,
                    lease_until=now + timedelta(seconds=get_settings().inbound_lease_seconds),
                    case_ids=[],
                    received_at=now,
                    processed_at=None if handled else now,
                )
                .on_conflict_do_nothing(index_elements=["sender_client_id", "dedupe_key"])
                .returning(InboundEvent.id)
            )
        ).scalar_one_or_none()
        if inserted is None:
            existing = (
                await session.execute(
                    select(InboundEvent).where(
                        col(InboundEvent.sender_client_id) == sender, col(InboundEvent.dedupe_key) == key
                    )
                )
            ).scalar_one()
    if inserted is None:
        if existing.status in (S.FAILED.value, S.REJECTED.value):
            return await process(db, existing.id, request_id=ctx.request_id, retry=True), True
        return existing, False
    if not handled:
        log.info("inbound event %s of type %s ignored", inserted, event.event_type)
        return await get_inbound(db, inserted), True
    return await process(db, inserted, request_id=ctx.request_id, retry=False), True


async def find(
    session: AsyncSession, inbound_id: uuid.UUID, principal: Principal | None = None
) -> InboundEvent:
    """One received event; for a `principal`, only one about a prison of their caseload (404 when
    unknown or outside it: both found by the same statement, finding nothing)."""
    query = select(InboundEvent).where(col(InboundEvent.id) == inbound_id)
    if principal is not None:
        query = query.where(inbound_scope(principal))
    record = (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()
    if record is None:
        raise NotFoundError(f"no inbound event {inbound_id}")
    return record


async def get_inbound(
    db: Database, inbound_id: uuid.UUID, principal: Principal | None = None
) -> InboundEvent:
    """One received event, read in a transaction of its own (within the caller's caseload when
    given)."""
    async with db.transaction() as session:
        return await find(session, inbound_id, principal)


async def replay(db: Database, ctx: RequestContext, inbound_id: uuid.UUID) -> InboundEvent:
    """Act again on an event that failed or was rejected, now (an admin's decision, audited)."""
    record = await get_inbound(db, inbound_id, ctx.principal)
    if record.status not in (S.FAILED.value, S.REJECTED.value):
        raise InvalidStateError(f"the event is {record.status}; only failed or rejected events are replayed")
    async with db.transaction() as session:
        await record_global_change(
            session,
            ctx,
            action="inbound-event.replayed",
            entity_type="inbound_event",
            entity_id=record.id,
            before={"status": record.status, "attempts": record.attempts, "error": record.error},
        )
    return await process(db, inbound_id, request_id=ctx.request_id, retry=True)


async def retry_due(db: Database, *, limit: int = 50) -> int:
    """The timed work's part: act again on failed events whose time has come, and on abandoned ones."""
    now = clock.now()
    async with db.transaction() as session:
        due = list(
            (
                await session.execute(
                    select(col(InboundEvent.id))
                    .where(_retryable(now))
                    .order_by(col(InboundEvent.next_attempt_at), col(InboundEvent.received_at))
                    .limit(limit)
                )
            ).scalars()
        )
    for inbound_id in due:
        await process(db, inbound_id, request_id=None, retry=True)
    return len(due)


def _retryable(now: Any) -> Any:
    return or_(
        and_(col(InboundEvent.status) == S.FAILED.value, col(InboundEvent.next_attempt_at) <= now),
        and_(col(InboundEvent.status) == S.PROCESSING.value, col(InboundEvent.lease_until) <= now),
    )


async def process(
    db: Database, inbound_id: uuid.UUID, *, request_id: str | None, retry: bool
) -> InboundEvent:
    """Act on a recorded event (taking it over first when `retry`), and record the outcome."""
    if retry and not await _take(db, inbound_id):
        return await get_inbound(db, inbound_id)  # someone else is on it, or it is done
    record = await get_inbound(db, inbound_id)
    event = DomainEvent.model_validate(record.payload)
    try:
        async with db.transaction() as session:
            ctx = await _sender_context(session, record, request_id)
        if event.event_type == INCIDENT_REPORT_CREATED:
            report = await _fetch(event)
            await _about(db, record, report.location)
            async with db.transaction() as session:
                require_prison(ctx.principal, report.location)
                # Kept for the outcomes report even when the referral below is refused.
                await incident_history.record_report(
                    session, report, occurred_at(report), source_reference(report)
                )
            async with db.transaction() as session:
                case, _created = await refer_report(session, ctx, report)
                await _finish(session, record, case_ids=[case.id] if case is not None else [])
        else:
            async with db.transaction() as session:
                await _record_movement(session, record, event)
                case_ids = await _flag_cases(session, ctx, record, event)
                await _finish(session, record, case_ids=case_ids)
    except IncidentSystemError as exc:
        await _fail(db, record, exc.message, retryable=exc.retryable)
    except AppError as exc:
        await _fail(db, record, exc.message, retryable=False)
    return await get_inbound(db, inbound_id)


async def _about(db: Database, record: InboundEvent, prison_id: str) -> None:
    """Record the prison an event turned out to be about (an incident report's, once fetched)."""
    if record.prison_id == prison_id or not re.fullmatch(PRISON_ID, prison_id):
        return
    async with db.transaction() as session:
        await session.execute(
            update(InboundEvent).where(col(InboundEvent.id) == record.id).values(prison_id=prison_id),
            execution_options={"synchronize_session": False},
        )
    record.prison_id = prison_id


async def _take(db: Database, inbound_id: uuid.UUID) -> bool:
    now = clock.now()
    async with db.transaction() as session:
        return (
            await rowcount(
                session,
                update(InboundEvent)
                .where(
                    col(InboundEvent.id) == inbound_id,
                    or_(
                        col(InboundEvent.status).in_([S.FAILED.value, S.REJECTED.value]),
                        _retryable(now),
                    ),
                )
                .values(
                    status=S.PROCESSING.value,
                    attempts=InboundEvent.attempts + 1,
                    lease_until=now + timedelta(seconds=get_settings().inbound_lease_seconds),
                    next_attempt_at=None,
                ),
            )
            == 1
        )


async def _sender_context(
    session: AsyncSession, record: InboundEvent, request_id: str | None
) -> RequestContext:
    """Act as the client that sent the event, within its caseload."""
    if record.sender_client_id is None:
        return RequestContext(principal=SYSTEM, request_id=request_id)
    client = await session.get(ApiClient, record.sender_client_id)
    if client is None or not client.active:
        raise ValidationFailedError("the client that sent this event no longer exists or was revoked")
    return RequestContext(principal=principal_of(client), request_id=request_id)


async def _fetch(event: DomainEvent) -> IncidentReport:
    detail_url = event.detail_url
    if not detail_url:
        raise IncidentSystemError("the event has no detailUrl to fetch the report from", retryable=False)
    try:
        return IncidentReport.model_validate(await fetch_report(detail_url))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        raise IncidentSystemError(
            f"the incident report fetched is not usable: {problems}", retryable=False
        ) from None


async def _finish(session: AsyncSession, record: InboundEvent, *, case_ids: Sequence[uuid.UUID]) -> None:
    await session.execute(
        update(InboundEvent)
        .where(col(InboundEvent.id) == record.id)
        .values(
            status=S.PROCESSED.value,
            error=None,
            case_ids=[str(c) for c in case_ids],
            processed_at=clock.now(),
            lease_until=None,
            next_attempt_at=None,
        ),
        execution_options={"synchronize_session": False},
    )


async def _fail(db: Database, record: InboundEvent, error: str, *, retryable: bool) -> None:
    settings = get_settings()
    next_attempt = None
    if retryable and record.attempts < settings.inbound_max_attempts:
        wait = backoff_seconds(
            record.attempts, base=settings.inbound_retry_base_seconds, cap=settings.inbound_retry_max_seconds
        )
        next_attempt = clock.now() + timedelta(seconds=wait)
    status = S.FAILED if retryable else S.REJECTED
    log.warning("inbound event %s %s (attempt %d): %s", record.id, status.value, record.attempts, error)
    async with db.transaction() as session:
        await session.execute(
            update(InboundEvent)
            .where(col(InboundEvent.id) == record.id)
            .values(status=status.value, error=error, next_attempt_at=next_attempt, lease_until=None),
            execution_options={"synchronize_session": False},
        )


async def _record_movement(session: AsyncSession, record: InboundEvent, event: DomainEvent) -> None:
    """Keep what a release or reception says about the prisoner's custody (the outcomes report
    counts a person only while they are held in a reporting prison)."""
    number = event.noms_number()
    if not number or not re.fullmatch(PRISONER_NUMBER, number):
        return  # refused with its reason by _flag_cases
    info = event.additional_information
    reason = info.get("reason")
    direction = incident_history.movement_direction(event.event_type == PRISONER_RELEASED, reason)
    if direction is None:
        return
    prison = info.get("prisonId")
    await incident_history.record_movement(
        session,
        prisoner_number=number,
        occurred_at=event.occurred_at,
        direction=direction,
        reason=reason if isinstance(reason, str) else None,
        prison_id=prison if isinstance(prison, str) and re.fullmatch(PRISON_ID, prison) else None,
        inbound_event_id=record.id,
    )


async def _flag_cases(
    session: AsyncSession, ctx: RequestContext, record: InboundEvent, event: DomainEvent
) -> list[uuid.UUID]:
    """Flag every open case of the prisoner and ask each case's practitioner to review it."""
    number = event.noms_number()
    if not number or not re.fullmatch(PRISONER_NUMBER, number):
        raise ValidationFailedError(
            "the event names no prisoner: additionalInformation.nomsNumber (or a NOMS identifier in "
            "personReference) must be a prisoner number such as A1234BC"
        )
    case_ids = (
        await session.execute(
            select(col(Case.id))
            .distinct()
            .join(Party, col(Party.case_id) == col(Case.id))
            .where(
                col(Party.prisoner_number) == number,
                col(Case.state) != CaseState.CLOSED.value,
                cases_in_caseload(ctx.principal),
            )
            .order_by(col(Case.id))
        )
    ).scalars()
    flagged = []
    for case_id in list(case_ids):
        case = await repo.get_case(session, str(case_id), lock=True)
        if case is None or case.state == CaseState.CLOSED:
            continue
        await _flag(session, ctx, case, record, event, number)
        flagged.append(case.id)
    return flagged


async def _flag(
    session: AsyncSession,
    ctx: RequestContext,
    case: Case,
    record: InboundEvent,
    event: DomainEvent,
    number: str,
) -> None:
    now = clock.now()
    party = (
        await session.execute(
            select(Party).where(col(Party.case_id) == case.id, col(Party.prisoner_number) == number).limit(1)
        )
    ).scalar_one()
    detail = _flag_detail(event, party)
    flag = CaseFlag(
        case_id=case.id,
        kind=FLAG_KIND[event.event_type],
        at=event.occurred_at,
        detail=detail,
        prisoner_number=number,
        source_event_id=record.id,
        created_at=now,
    )
    session.add(flag)
    task = new_task(
        session,
        case=case,
        prison_id=case.prison_id,
        kind=TaskKind.PRACTITIONER_REVIEW,
        due_at=now + REVIEW_WITHIN,
        assignee_type=AssigneeType.PRACTITIONER,
        assignee_id=case.practitioner_id,
        party=party,
        instructions=(
            f"Review {case.reference}: {detail}. Decide whether the work can go on as planned, "
            "and update the party's location, pause or close the case as needed."
        ),
        now=now,
    )
    await repo.bump_version(session, case, now)
    record_case_change(
        session,
        ctx,
        case,
        action="case.flagged",
        entity_type="case_flag",
        entity_id=flag.id,
        after={
            "kind": flag.kind,
            "at": flag.at,
            "detail": detail,
            "prisonerNumber": number,
            "taskId": task.id,
            "inboundEventId": record.id,
            "eventType": event.event_type,
        },
    )


def _flag_detail(event: DomainEvent, party: Party) -> str:
    info = event.additional_information
    prison = info.get("prisonId") or "prison"
    who = f"{party.first_name} {party.last_name} ({party.prisoner_number})"
    when = event.occurred_at.date().isoformat()
    if event.event_type == PRISONER_RELEASED:
        text = f"{who} was released from {prison} on {when}"
    else:
        text = f"{who} was received into {prison} on {when}"
    reason = ", ".join(str(info[k]) for k in ("reason", "details") if info.get(k))
    return f"{text} ({reason})" if reason else text


async def list_inbound(
    session: AsyncSession, principal: Principal, *, status: InboundStatus | None, offset: int, limit: int
) -> tuple[list[InboundEvent], int]:
    """Received events about the prisons of the caller's caseload, newest first, optionally of
    one status."""
    conditions = [inbound_scope(principal)]
    if status:
        conditions.append(col(InboundEvent.status) == status.value)
    return await fetch_page(
        session,
        InboundEvent,
        where=conditions,
        order_by=[col(InboundEvent.received_at).desc(), col(InboundEvent.id)],
        offset=offset,
        limit=limit,
    )
