"""`rj-casework worker`: the timed work and event delivery, once or on a loop."""

import asyncio
import logging
import os
import socket
import uuid

from app.audit import checkpoints
from app.db import Database
from app.events import feed, inbound
from app.idempotency import service as idempotency
from app.safeguarding.service import notify_overdue
from app.webhooks.delivery import deliver_all_due
from app.worker.timed import mark_overdue_tasks, resume_due_cases

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
PUBLISH_BATCHES = 20


def worker_name() -> str:
    """A name for this worker, unique among those running (it marks the deliveries it holds)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def publish_events(db: Database) -> int:
    """Publish committed outbox events to the feed and queue their webhook deliveries."""
    published = 0
    for _ in range(PUBLISH_BATCHES):
        async with db.transaction() as session:
            done = await feed.publish(session)
        published += done
        if not done:
            break
    return published


async def purge_idempotency_keys(db: Database) -> int:
    """Forget idempotency keys past their keeping time."""
    async with db.transaction() as session:
        return await idempotency.purge_expired(session)


async def run_once(db: Database, *, worker: str | None = None) -> dict[str, int]:
    """One pass over every kind of timed work; counts of what was done."""
    resumed = await resume_due_cases(db)
    overdue = await mark_overdue_tasks(db)
    concerns_overdue = await notify_overdue(db)
    published = await publish_events(db)
    delivery = await deliver_all_due(db, worker or worker_name())
    return {
        "resumed": resumed,
        "overdue": overdue,
        "concernsOverdue": concerns_overdue,
        "published": published,
        "delivered": delivery.delivered,
        "deliveryRetries": delivery.retrying,
        "deliveriesDead": delivery.dead,
        "inboundRetried": await inbound.retry_due(db),
        "idempotencyKeysPurged": await purge_idempotency_keys(db),
        "auditCheckpoints": await checkpoints.publish_if_due(db),
    }


async def run_worker(db: Database, *, once: bool) -> int:
    """Run passes until stopped (or one pass with `once`)."""
    worker = worker_name()
    while True:
        try:
            done = await run_once(db, worker=worker)
            if any(done.values()):
                log.info("worker pass: %s", done)
        except Exception:
            if once:
                raise
            log.exception("worker pass failed; retrying")
        if once:
            return 0
        await asyncio.sleep(POLL_SECONDS)
