"""The timed-work runner: a pass over every kind of timed work, once or every few seconds.

`rj-casework worker` runs it on its own; `rj-casework serve` runs it inside one of its server
processes when `RJ_TIMED_WORK` says so (app/serving.py). Several runners may share a database:
each claims what it works on (a row lock or a lease) before doing it.
"""

import asyncio
import logging
import os
import socket
import uuid

from app.audit import checkpoints
from app.config import Settings
from app.db import Database
from app.flows import inbound_events, publishing
from app.idempotency import service as idempotency
from app.safeguarding.service import notify_overdue
from app.timed_work.due import mark_overdue_agreement_items, mark_overdue_tasks, resume_due_cases
from app.webhooks.delivery import deliver_all_due

log = logging.getLogger(__name__)

PUBLISH_BATCHES = 20


def runner_name() -> str:
    """A name for this runner, unique among those running (it marks the deliveries it holds)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def publish_events(db: Database) -> int:
    """Publish committed outbox events to the feed and queue their webhook deliveries."""
    published = 0
    for _ in range(PUBLISH_BATCHES):
        async with db.transaction() as session:
            done = await publishing.publish(session)
        published += done
        if not done:
            break
    return published


async def purge_idempotency_keys(db: Database) -> int:
    """Forget idempotency keys past their keeping time."""
    async with db.transaction() as session:
        return await idempotency.purge_expired(session)


async def run_once(db: Database, *, runner: str | None = None) -> dict[str, int]:
    """One pass over every kind of timed work; counts of what was done."""
    resumed = await resume_due_cases(db)
    overdue = await mark_overdue_tasks(db)
    items_overdue = await mark_overdue_agreement_items(db)
    concerns_overdue = await notify_overdue(db)
    published = await publish_events(db)
    delivery = await deliver_all_due(db, runner or runner_name())
    return {
        "resumed": resumed,
        "overdue": overdue,
        "agreementItemsOverdue": items_overdue,
        "concernsOverdue": concerns_overdue,
        "published": published,
        "delivered": delivery.delivered,
        "deliveryRetries": delivery.retrying,
        "deliveriesDead": delivery.dead,
        "inboundRetried": await inbound_events.retry_due(db),
        "idempotencyKeysPurged": await purge_idempotency_keys(db),
        "auditCheckpoints": await checkpoints.publish_if_due(db),
    }


async def run_timed_work(db: Database, *, once: bool, poll_seconds: float) -> int:
    """Run passes `poll_seconds` apart until stopped (or one pass with `once`)."""
    runner = runner_name()
    while True:
        try:
            done = await run_once(db, runner=runner)
            if any(done.values()):
                log.info("timed work pass: %s", done)
        except Exception:
            if once:
                raise
            log.exception("timed work pass failed; retrying")
        if once:
            return 0
        await asyncio.sleep(poll_seconds)


async def run_in_server(settings: Settings) -> None:
    """The runner inside a server process: passes until cancelled, on connections of its own
    (so that it never waits for the requests' pool, nor they for it)."""
    log.debug("the timed-work runner started in server process %d", os.getpid())
    db = Database(settings)
    try:
        await run_timed_work(db, once=False, poll_seconds=settings.timed_work_poll_seconds)
    finally:
        await db.dispose()
