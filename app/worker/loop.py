"""`rj-casework worker`: the timed work, once or on a loop."""

import asyncio
import logging

from app.db import Database
from app.safeguarding.service import notify_overdue
from app.worker.timed import mark_overdue_tasks, resume_due_cases

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0


async def run_once(db: Database) -> dict[str, int]:
    """One pass over every kind of timed work; counts of what was done."""
    return {
        "resumed": await resume_due_cases(db),
        "overdue": await mark_overdue_tasks(db),
        "concernsOverdue": await notify_overdue(db),
    }


async def run_worker(db: Database, *, once: bool) -> int:
    """Run passes until stopped (or one pass with `once`)."""
    while True:
        try:
            done = await run_once(db)
            if any(done.values()):
                log.info("worker pass: %s", done)
        except Exception:
            if once:
                raise
            log.exception("worker pass failed; retrying")
        if once:
            return 0
        await asyncio.sleep(POLL_SECONDS)
