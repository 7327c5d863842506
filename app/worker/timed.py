"""Timed work: resuming paused cases when their time has come."""

import logging

from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.cases import repository as repo
from app.cases import service as cases
from app.cases.models import Case
from app.cases.schemas import TransitionRequest
from app.common.enums import CaseState, Trigger
from app.context import SYSTEM_CONTEXT
from app.db import Database

log = logging.getLogger(__name__)


async def resume_due_cases(db: Database, *, limit: int = 500) -> int:
    """Resume every case whose cooling-off time has passed; one transaction per case."""
    async with db.transaction() as session:
        due = list(
            (
                await session.execute(
                    select(col(Case.id))
                    .where(
                        col(Case.state) == CaseState.ON_HOLD.value,
                        col(Case.paused_until) <= clock.now(),
                    )
                    .order_by(col(Case.paused_until))
                    .limit(limit)
                )
            ).scalars()
        )
    resumed = 0
    for case_id in due:
        async with db.transaction() as session:
            case = await repo.get_case(session, str(case_id), lock=True)
            # Someone may have resumed or re-paused it since we looked.
            if case is None or case.state != CaseState.ON_HOLD or case.paused_until is None:
                continue
            if case.paused_until > clock.now():
                continue
            bundle = await repo.load_bundle(session, case)
            await cases.fire_transition(
                session,
                SYSTEM_CONTEXT,
                bundle,
                TransitionRequest(trigger=Trigger.RESUME),
                expected_version=None,
            )
            resumed += 1
    if resumed:
        log.info("resumed %d case(s) after cooling off", resumed)
    return resumed
