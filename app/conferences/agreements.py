"""Agreements: who agreed to them, their items checked on until each is settled (past the case's
closing when the practitioner keeps them monitored), and the person harmed told what became of
them."""

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.cases.repository import CaseBundle
from app.common.dates import local_day_end
from app.common.enums import AgreementStatus, AssigneeType, CaseState, PartyRole, TaskKind
from app.conferences.schemas import (
    AgreedBy,
    AgreedByPublic,
    AgreementCreate,
    AgreementItemCreate,
    AgreementItemPublic,
    AgreementPublic,
    MadeIn,
)
from app.context import RequestContext
from app.errors import InvalidStateError, NotFoundError, ValidationFailedError
from app.models.cases import Party
from app.models.conferences import Agreement, AgreementItem
from app.models.tasks import Task
from app.tasks import service as tasks
from app.workflows.pairing import participating

# Where an agreement is reached outside a conference.
CARRIED_STATES = (CaseState.SHUTTLE_MEDIATION, CaseState.LETTER_EXCHANGE)
# Supporters come along for someone else: they are not asked to agree.
NOT_ASKED = frozenset({"supporter"})
# Who is told what became of an agreement: the people it was made for.
TOLD_ROLES = frozenset({PartyRole.HARMED.value, PartyRole.BOTH.value})
# Telling someone that every commitment is settled can wait a little; a broken one cannot.
TELL_SETTLED_WITHIN = timedelta(days=2)


def _name(party: Party | None) -> str:
    return f"{party.first_name} {party.last_name}" if party else "a party"


def must_agree(parties: Iterable[Party], attended: set[uuid.UUID] | None) -> list[Party]:
    """The parties whose agreement an agreement needs: those taking part, but supporters, who
    attended (`attended` None: every one, as when it is carried by shuttle or letters)."""
    return [
        p
        for p in participating(parties)
        if p.role not in NOT_ASKED and (attended is None or p.id in attended)
    ]


def check_agreement(
    bundle: CaseBundle,
    items: Sequence[AgreementItemCreate],
    agreed_by: Sequence[AgreedBy],
    *,
    attended: set[uuid.UUID] | None,
    items_field: str,
) -> None:
    """Refuse (422, naming the field) an agreement whose items are owned by strangers, or that
    not everyone it needs agreed to (`must_agree`)."""
    case = bundle.case
    known = {p.id: p for p in bundle.parties}
    for item in items:
        if item.owner_party_id not in known:
            raise ValidationFailedError.on(
                items_field, f"{item.owner_party_id} is not a party to {case.reference}"
            )
    seen: set[uuid.UUID] = set()
    for entry in agreed_by:
        if entry.party_id not in known:
            raise ValidationFailedError.on("agreedBy", f"{entry.party_id} is not a party to {case.reference}")
        if entry.party_id in seen:
            raise ValidationFailedError.on("agreedBy", f"{entry.party_id} is named twice")
        seen.add(entry.party_id)
    missing = [p for p in must_agree(bundle.parties, attended) if p.id not in seen]
    if missing:
        who = "who attended " if attended is not None else ""
        raise ValidationFailedError.on(
            "agreedBy",
            f"the agreement stands only when every party taking part {who}agreed to it; not recorded as "
            "agreeing: " + ", ".join(_name(p) for p in missing),
        )


async def add_agreement(
    session: AsyncSession,
    bundle: CaseBundle,
    *,
    made_in: CaseState,
    conference_id: uuid.UUID | None,
    items: Sequence[AgreementItemCreate],
    agreed_by: Sequence[AgreedBy],
    now: datetime,
) -> tuple[Agreement, list[AgreementItem]]:
    """Store an agreement (already checked) and its items, each pending with a check for the
    practitioner on its due date."""
    case = bundle.case
    agreement = Agreement(
        case_id=case.id,
        conference_id=conference_id,
        made_in=made_in.value,
        agreed_by=[{"partyId": str(a.party_id), "method": a.method.value} for a in agreed_by],
        created_at=now,
    )
    session.add(agreement)
    await session.flush()
    rows = [
        AgreementItem(
            case_id=case.id,
            conference_id=conference_id,
            agreement_id=agreement.id,
            position=i,
            description=item.description,
            owner_party_id=item.owner_party_id,
            due_on=item.due_on,
            status=AgreementStatus.PENDING.value,
            created_at=now,
        )
        for i, item in enumerate(items, start=1)
    ]
    session.add_all(rows)
    owners = {p.id: p for p in bundle.parties}
    for row in rows:
        _schedule_check(session, bundle, row, owners.get(row.owner_party_id), now)
    return agreement, rows


def _schedule_check(
    session: AsyncSession, bundle: CaseBundle, item: AgreementItem, owner: Party | None, now: datetime
) -> None:
    case = bundle.case
    tasks.new_task(
        session,
        case=case,
        prison_id=case.prison_id,
        kind=TaskKind.AGREEMENT_CHECK,
        due_at=max(local_day_end(item.due_on), now),
        assignee_type=AssigneeType.PRACTITIONER,
        assignee_id=case.practitioner_id,
        party=owner,
        agreement_item_id=item.id,
        instructions=(
            f'Agreement check on {case.reference}: find out whether {_name(owner)} kept "{item.description}" '
            f"(due {item.due_on:%Y-%m-%d}), then mark the item kept or broken."
        ),
        now=now,
    )


def agreement_record(agreement: Agreement, items: Sequence[AgreementItem]) -> dict[str, Any]:
    """An agreement as its audit record keeps it."""
    return {
        "agreementId": agreement.id,
        "madeIn": agreement.made_in,
        "agreedBy": agreement.agreed_by,
        "agreement": [
            {"id": i.id, "description": i.description, "ownerPartyId": i.owner_party_id, "dueOn": i.due_on}
            for i in items
        ],
    }


async def record_carried_agreement(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, body: AgreementCreate
) -> AgreementPublic:
    """An agreement reached by shuttle mediation or letters, with the same rule of who agrees as
    a conference's (everyone taking part, as nobody "attends")."""
    case = bundle.case
    state = CaseState(case.state)
    if state not in CARRIED_STATES:
        raise InvalidStateError(
            "an agreement is recorded here only in shuttle mediation or letter exchange "
            "(a conference's goes with its outcome)"
        )
    check_agreement(bundle, body.items, body.agreed_by, attended=None, items_field="items")
    now = clock.now()
    agreement, items = await add_agreement(
        session,
        bundle,
        made_in=state,
        conference_id=None,
        items=body.items,
        agreed_by=body.agreed_by,
        now=now,
    )
    record_case_change(
        session,
        ctx,
        case,
        action="agreement.recorded",
        entity_type="agreement",
        entity_id=agreement.id,
        after=agreement_record(agreement, items),
    )
    return present_agreement(agreement, items)


def present_agreement(agreement: Agreement, items: Sequence[AgreementItem]) -> AgreementPublic:
    """An agreement with its items, in their order."""
    return AgreementPublic(
        id=agreement.id,
        case_id=agreement.case_id,
        made_in=cast(MadeIn, agreement.made_in),
        conference_id=agreement.conference_id,
        agreed_by=agreed_by_of(agreement),
        items=[AgreementItemPublic.model_validate(i) for i in sorted(items, key=lambda i: i.position)],
        recorded_at=agreement.created_at,
    )


def agreed_by_of(agreement: Agreement | None) -> list[AgreedByPublic]:
    """Who agreed to an agreement, as sent."""
    return [AgreedByPublic.model_validate(a) for a in (agreement.agreed_by if agreement else [])]


async def agreements_of(session: AsyncSession, case_id: uuid.UUID) -> list[AgreementPublic]:
    """Every agreement of the case, oldest first, each with its items."""
    agreements = list(
        (
            await session.execute(
                select(Agreement)
                .where(col(Agreement.case_id) == case_id)
                .order_by(col(Agreement.created_at), col(Agreement.id))
            )
        ).scalars()
    )
    items: dict[uuid.UUID | None, list[AgreementItem]] = {}
    for item in (
        await session.execute(select(AgreementItem).where(col(AgreementItem.case_id) == case_id))
    ).scalars():
        items.setdefault(item.agreement_id, []).append(item)
    return [present_agreement(a, items.get(a.id, [])) for a in agreements]


async def pending_items(session: AsyncSession, case_id: uuid.UUID) -> int:
    """How many of the case's agreement items are still pending."""
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(AgreementItem)
                .where(
                    col(AgreementItem.case_id) == case_id,
                    col(AgreementItem.status) == AgreementStatus.PENDING.value,
                )
            )
        ).scalar_one()
    )


# --- settling an item ---------------------------------------------------------------------------


def told(bundle: CaseBundle, owner_id: uuid.UUID) -> list[Party]:
    """Who is told what became of an item: the parties taking part whose role is harmed or both,
    but its owner, unless they asked not to be told."""
    return [
        p
        for p in participating(bundle.parties)
        if p.role in TOLD_ROLES and p.id != owner_id and p.outcome_updates is not False
    ]


async def mark_item(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    item_id: uuid.UUID,
    *,
    status: AgreementStatus,
    note: str | None,
) -> AgreementItem:
    """Mark a commitment kept or broken, in any state of the case (a closed one's items may still
    be monitored). Settling it ends its check; a broken one asks the practitioner for a review
    and to tell the person harmed at once; the last one settled asks them to tell them too."""
    case = bundle.case
    item = await session.get(AgreementItem, item_id)
    if item is None or item.case_id != case.id:
        raise NotFoundError(f"no agreement item {item_id} on {case.reference}")
    if item.status == status.value and (note is None or note == item.status_note):
        return item
    now = clock.now()
    before = {"status": item.status, "note": item.status_note}
    was_pending = item.status == AgreementStatus.PENDING
    became_broken = status == AgreementStatus.BROKEN and item.status != AgreementStatus.BROKEN
    item.status = status.value
    item.status_note = note
    item.status_changed_at = now
    session.add(item)
    after: dict[str, Any] = {"status": item.status, "note": note, "description": item.description}
    owner = next((p for p in bundle.parties if p.id == item.owner_party_id), None)
    if was_pending:
        checks = [
            t
            for t in await tasks.open_tasks(session, case.id, [TaskKind.AGREEMENT_CHECK])
            if t.agreement_item_id == item.id
        ]
        tasks.cancel(session, checks, reason=f"The agreement item was marked {status.value}.", now=now)
        if checks:
            after["checkTaskIds"] = [t.id for t in checks]
    if became_broken:
        review = tasks.schedule_practitioner_review(
            session,
            case=case,
            why=(
                f'Agreement broken on {case.reference}: {_name(owner)} did not keep "{item.description}" '
                f"(due {item.due_on:%Y-%m-%d}). Review with the parties and decide what happens next."
            ),
            now=now,
        )
        after["reviewTaskId"] = review.id
    await session.flush()
    last = was_pending and await pending_items(session, case.id) == 0
    feedback = _tell(session, bundle, item, owner, broken=became_broken, last=last, now=now)
    if feedback:
        after["outcomeFeedbackTaskIds"] = [t.id for t in feedback]
    record_case_change(
        session,
        ctx,
        case,
        action="agreement_item.marked",
        entity_type="agreement_item",
        entity_id=item.id,
        before=before,
        after=after,
    )
    return item


def _tell(
    session: AsyncSession,
    bundle: CaseBundle,
    item: AgreementItem,
    owner: Party | None,
    *,
    broken: bool,
    last: bool,
    now: datetime,
) -> list[Task]:
    """One outcome_feedback task for each person to tell: on a broken item (due at once), and
    when the last item is settled (one task, not two, when both)."""
    if not broken and not last:
        return []
    case = bundle.case
    what = (
        f'"{item.description}" ({_name(owner)}, due {item.due_on:%Y-%m-%d}) was not kept'
        if broken
        else "every commitment of the agreement is now settled"
    )
    also = " Every commitment of the agreement is now settled." if broken and last else ""
    made = []
    for party in told(bundle, item.owner_party_id):
        made.append(
            tasks.new_task(
                session,
                case=case,
                prison_id=case.prison_id,
                kind=TaskKind.OUTCOME_FEEDBACK,
                due_at=now if broken else now + TELL_SETTLED_WITHIN,
                assignee_type=AssigneeType.PRACTITIONER,
                assignee_id=case.practitioner_id,
                party=party,
                instructions=(
                    f"{'Urgent: tell' if broken else 'Tell'} {_name(party)} what became of the agreement "
                    f"on {case.reference}: {what}.{also} Record what you said in the task's notes."
                ),
                now=now,
            )
        )
    return made


# --- items past their due date ------------------------------------------------------------------


async def overdue_items(session: AsyncSession, today: date, limit: int) -> list[uuid.UUID]:
    """Pending items whose due date has passed and whose lateness is not announced yet."""
    rows = await session.execute(
        select(col(AgreementItem.id))
        .where(
            col(AgreementItem.status) == AgreementStatus.PENDING.value,
            col(AgreementItem.due_on) < today,
            col(AgreementItem.overdue_notified).is_(False),
        )
        .order_by(col(AgreementItem.due_on), col(AgreementItem.id))
        .limit(limit)
    )
    return list(rows.scalars())


async def claim_overdue_item(session: AsyncSession, item_id: uuid.UUID, today: date) -> bool:
    """Mark an item as announced overdue; False when it is settled, not yet due, or announced
    already (by a concurrent runner), so that each item's event goes out once."""
    result = await session.execute(
        update(AgreementItem)
        .where(
            col(AgreementItem.id) == item_id,
            col(AgreementItem.status) == AgreementStatus.PENDING.value,
            col(AgreementItem.due_on) < today,
            col(AgreementItem.overdue_notified).is_(False),
        )
        .values(overdue_notified=True)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
