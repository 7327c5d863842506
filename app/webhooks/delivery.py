"""Sending queued webhook deliveries, signed as Standard Webhooks says, at least once.

A timed-work runner claims due rows by setting a lease (`claimed_until`): on PostgreSQL with
`FOR UPDATE SKIP LOCKED`, so runners side by side take different rows; on SQLite the one writer
does the same. Each outcome is written as soon as it is known. A runner that dies mid-batch
leaves leases behind that run out, and the rows are delivered again by whoever comes next: a
delivery can arrive twice in that case (receivers deduplicate on `webhook-id`), never not at all.

Each delivery looks its target's host up once, judges the addresses (`app.webhooks.targets`) and
connects to one of them itself, never to whatever the name resolves to by then; redirects are not
followed.
"""

import asyncio
import json
import logging
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlmodel import col
from standardwebhooks import Webhook

from app import __version__, clock
from app.common.backoff import backoff_seconds
from app.config import get_settings
from app.db import Database, rowcount
from app.errors import TargetNotAllowedError
from app.models.events import OutboxEvent
from app.models.webhooks import WebhookDelivery, WebhookSubscription
from app.webhooks.schemas import DeliveryStatus
from app.webhooks.targets import Target, resolve_target

log = logging.getLogger(__name__)

PENDING = DeliveryStatus.PENDING.value


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery with what is needed to send it."""

    id: uuid.UUID
    attempts: int
    url: str
    secret: str
    event_id: uuid.UUID
    body: str


@dataclass(slots=True)
class Outcome:
    """What one pass of delivering did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    lost_lease: int = 0
    errors: list[str] = field(default_factory=list)


def body_of(payload: dict[str, object]) -> str:
    """The exact text sent and signed for an event."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def sign(secret: str, *, msg_id: str, body: str) -> dict[str, str]:
    """The Standard Webhooks headers for one message, signed now."""
    at = clock.now()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


async def claim_due(db: Database, runner: str, *, limit: int) -> list[Job]:
    """Lease up to `limit` due deliveries to this runner and load what sending them needs."""
    settings = get_settings()
    now = clock.now()
    async with db.transaction() as session:
        due = (
            select(col(WebhookDelivery.id))
            .where(
                col(WebhookDelivery.status) == PENDING,
                col(WebhookDelivery.next_attempt_at) <= now,
                or_(col(WebhookDelivery.claimed_until).is_(None), col(WebhookDelivery.claimed_until) <= now),
            )
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # The due rows first, then the update: as a subquery of the UPDATE, PostgreSQL may run
        # the LIMIT ... SKIP LOCKED again per row and lease more than `limit`.
        ids = list((await session.execute(due)).scalars())
        if not ids:
            return []
        claimed = list(
            (
                await session.execute(
                    update(WebhookDelivery)
                    .where(col(WebhookDelivery.id).in_(ids))
                    .values(
                        claimed_until=now + timedelta(seconds=settings.webhook_lease_seconds),
                        claimed_by=runner,
                    )
                    .returning(col(WebhookDelivery.id)),
                    execution_options={"synchronize_session": False},
                )
            ).scalars()
        )
        if not claimed:
            return []
        rows = await session.execute(
            select(
                col(WebhookDelivery.id),
                col(WebhookDelivery.attempts),
                col(WebhookSubscription.url),
                col(WebhookSubscription.secret),
                col(OutboxEvent.event_id),
                col(OutboxEvent.payload),
            )
            .join(WebhookSubscription, col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id))
            .join(OutboxEvent, col(OutboxEvent.event_id) == col(WebhookDelivery.event_id))
            .where(col(WebhookDelivery.id).in_(claimed))
        )
        return [
            Job(id=i, attempts=a, url=u, secret=s, event_id=e, body=body_of(p)) for i, a, u, s, e, p in rows
        ]


class Clients:
    """HTTP clients for one pass, one for each target origin (scheme, host name, port).

    Requests go to an address, not a name, so a client's pool keeps connections by address:
    with one client for every target, a connection made over TLS for one name would be reused
    for another name at the same address. One client for each origin keeps each name's own.
    """

    def __init__(self, stack: AsyncExitStack, timeout: httpx.Timeout) -> None:
        self._stack = stack
        self._timeout = timeout
        self._clients: dict[tuple[str, bytes, int | None], httpx.AsyncClient] = {}

    def of(self, url: httpx.URL) -> httpx.AsyncClient:
        """The client for requests to the URL's origin."""
        origin = (url.scheme, url.raw_host, url.port)
        client = self._clients.get(origin)
        if client is None:
            client = self._clients[origin] = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
            self._stack.push_async_callback(client.aclose)
        return client


async def deliver_due(db: Database, runner: str, *, limit: int | None = None) -> Outcome:
    """Claim one batch of due deliveries and send them, a few at a time."""
    settings = get_settings()
    jobs = await claim_due(db, runner, limit=limit or settings.webhook_batch_size)
    outcome = Outcome(claimed=len(jobs))
    if not jobs:
        return outcome
    gate = asyncio.Semaphore(settings.webhook_concurrency)
    async with AsyncExitStack() as stack:
        clients = Clients(stack, httpx.Timeout(settings.webhook_timeout_seconds))

        async def one(job: Job) -> None:
            async with gate:
                await _deliver(db, clients, runner, job, outcome)

        await asyncio.gather(*(one(job) for job in jobs))
    return outcome


async def _deliver(db: Database, clients: Clients, runner: str, job: Job, outcome: Outcome) -> None:
    settings = get_settings()
    status_code: int | None = None
    permanent = False
    try:
        target = await resolve_target(job.url, allow_private=settings.webhook_allow_private_targets)
        headers = {
            **sign(job.secret, msg_id=str(job.event_id), body=job.body),
            "content-type": "application/json",
            "user-agent": f"rj-casework/{__version__}",
        }
        response = await _post(clients.of(target.url), target, job.body.encode(), headers)
        status_code = response.status_code
        error = None if response.is_success else f"the receiver answered {response.status_code}"
    except TargetNotAllowedError as exc:
        error, permanent = exc.message, True
    except OSError as exc:
        error = f"{httpx.URL(job.url).host} cannot be resolved now: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    await _record(db, runner, job, status_code=status_code, error=error, permanent=permanent, outcome=outcome)


async def _post(
    client: httpx.AsyncClient, target: Target, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """POST to the target at each of its checked addresses in turn, until one takes the
    connection (nothing is sent to an address that did not)."""
    failed: httpx.TransportError | None = None
    for address in target.addresses:
        url, host, extensions = target.request_to(address)
        try:
            return await client.post(url, content=body, headers=headers | host, extensions=extensions)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failed = exc
    raise failed or httpx.ConnectError(f"{target.url.host} has no address")


async def _record(
    db: Database,
    runner: str,
    job: Job,
    *,
    status_code: int | None,
    error: str | None,
    permanent: bool,
    outcome: Outcome,
) -> None:
    settings = get_settings()
    now = clock.now()
    attempts = job.attempts + 1
    values: dict[str, object] = {
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error,
        "claimed_until": None,
        "claimed_by": None,
    }
    if error is None:
        values |= {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now}
    elif permanent or attempts >= settings.webhook_max_attempts:
        values |= {"status": DeliveryStatus.DEAD.value}
    else:
        wait = backoff_seconds(
            attempts, base=settings.webhook_backoff_base_seconds, cap=settings.webhook_backoff_max_seconds
        )
        values |= {"next_attempt_at": now + timedelta(seconds=wait)}
    async with db.transaction() as session:
        kept = await rowcount(
            session,
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == job.id,
                col(WebhookDelivery.claimed_by) == runner,
                col(WebhookDelivery.status) == PENDING,
            )
            .values(**values),
        )
    if not kept:
        # The lease ran out and another runner took the row: it will record its own outcome.
        outcome.lost_lease += 1
        log.warning("webhook delivery %s: lease lost before its outcome was recorded", job.id)
    elif error is None:
        outcome.delivered += 1
    elif values.get("status") == DeliveryStatus.DEAD.value:
        outcome.dead += 1
        log.warning("webhook delivery %s is dead after %d attempts: %s", job.id, attempts, error)
    else:
        outcome.retrying += 1
        outcome.errors.append(error)


async def deliver_all_due(db: Database, runner: str, *, max_batches: int = 50) -> Outcome:
    """Deliver batch after batch until nothing is due (bounded, so a pass always ends)."""
    total = Outcome()
    for _ in range(max_batches):
        outcome = await deliver_due(db, runner)
        total.claimed += outcome.claimed
        total.delivered += outcome.delivered
        total.retrying += outcome.retrying
        total.dead += outcome.dead
        total.lost_lease += outcome.lost_lease
        if outcome.claimed == 0:
            break
    return total
