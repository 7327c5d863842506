"""Letters: the rules that keep an unapproved letter from reaching anyone."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.cases.models import Case
from app.common.enums import TaskKind, TaskStatus
from app.context import RequestContext
from app.letters.models import Letter
from app.tasks.models import Task

UNDELIVERED = ("draft", "submitted", "returned", "approved")


async def withhold_undelivered(session: AsyncSession, ctx: RequestContext, case: Case) -> int:
    """On withdrawal, withhold every letter not yet delivered and cancel its delivery task."""
    letters = (
        (
            await session.execute(
                select(Letter).where(col(Letter.case_id) == case.id, col(Letter.status).in_(UNDELIVERED))
            )
        )
        .scalars()
        .all()
    )
    now = clock.now()
    for letter in letters:
        before = letter.status
        letter.status = "withheld"
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
            after={"status": "withheld"},
        )
    if letters:
        delivery_tasks = await session.execute(
            select(Task).where(
                col(Task.case_id) == case.id,
                col(Task.kind) == TaskKind.LETTER_DELIVERY.value,
                col(Task.status) == TaskStatus.OPEN.value,
            )
        )
        for task in delivery_tasks.scalars():
            task.status = TaskStatus.CANCELLED.value
            session.add(task)
    return len(letters)
