"""Bounded write load against the real server, remembering every acknowledged write, and the
checks that nothing acknowledged was lost and nothing is half-written."""

import asyncio
import itertools
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from app.audit.service import verify
from app.db import Database
from app.models.audit import AuditRecord
from app.models.cases import Case, Consent, Party
from app.models.events import OutboxEvent
from tests.support import Key, referral_body

CLIENTS = 8
_numbers = itertools.count(1)


@dataclass
class Acked:
    """A write the service answered 2xx: what it was, its request id, its case, and detail."""

    kind: str
    request_id: str
    case_id: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tally:
    """What the clients saw."""

    acked: list[Acked] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def tried(self) -> int:
        """Requests sent."""
        return sum(self.statuses.values()) + self.transport_errors


class Writer:
    """One client doing a practitioner's day over and over: refer, accept, consent, edit."""

    def __init__(self, client: httpx.AsyncClient, key: Key, tally: Tally, stop: asyncio.Event) -> None:
        self.client = client
        self.key = key
        self.tally = tally
        self.stop = stop

    async def send(self, method: str, url: str, **kw: Any) -> httpx.Response | None:
        """One request with its own request id; None when the server could not be reached."""
        request_id = f"crash-{uuid.uuid4()}"
        headers = {**self.key.headers, "X-Request-ID": request_id, **kw.pop("headers", {})}
        try:
            r = await self.client.request(method, url, headers=headers, **kw)
        except httpx.TransportError:
            self.tally.transport_errors += 1
            await asyncio.sleep(0.05)
            return None
        self.tally.statuses[r.status_code] += 1
        if r.status_code >= 500:
            self.tally.problems.append({"status": r.status_code, "body": r.text, "url": url})
        r.extensions["request_id"] = request_id
        return r

    def ack(self, kind: str, r: httpx.Response, case_id: str, **detail: Any) -> None:
        """Remember a 2xx answer."""
        self.tally.acked.append(Acked(kind, r.extensions["request_id"], case_id, detail))

    async def run(self) -> None:
        """Write until told to stop."""
        while not self.stop.is_set():
            n = next(_numbers)
            body = referral_body(
                reference=f"CRASH-{uuid.uuid4().hex[:12]}",
                parties=[
                    (f"C{n % 10000:04d}AA", "Dean", "Walsh", "harmed"),
                    (f"D{n % 10000:04d}BB", "Ali", "Khan", "harmer"),
                ],
            )
            r = await self.send("POST", "/referrals", json=body)
            if r is None or r.status_code not in (200, 201):
                continue
            case = r.json()
            self.ack("referral", r, case["id"], source=body["source"]["reference"])
            r = await self.send("POST", f"/cases/{case['id']}/transitions", json={"trigger": "accept"})
            if r is None or r.status_code != 200:
                continue
            self.ack("transition", r, case["id"], trigger="accept", version=r.json()["version"])
            party = case["parties"][0]["id"]
            r = await self.send(
                "POST",
                f"/cases/{case['id']}/parties/{party}/consents",
                json={"scope": "indirect", "given": True, "recordedBy": "Rep Lewis", "method": "in_person"},
            )
            if r is None or r.status_code != 201:
                continue
            self.ack("consent", r, case["id"], consent=r.json()["id"])
            version = int(r.headers["etag"].strip('"'))
            r = await self.send(
                "PATCH",
                f"/cases/{case['id']}",
                json={"summary": f"Summary {n}", "riskLevel": "low"},
                headers={"If-Match": f'"{version}"'},
            )
            if r is not None and r.status_code == 200:
                self.ack("update", r, case["id"], version=r.json()["version"])


async def run_load(
    url: str,
    key: Key,
    *,
    until_acked: int,
    then: Callable[[Tally], Awaitable[None]] | None = None,
    after: float = 0.3,
    timeout: float = 90.0,
) -> Tally:
    """CLIENTS writers until `until_acked` writes were acknowledged; then await `then(tally)`
    (the crash) while they go on, keep writing `after` seconds more, and stop. Bounded by
    `timeout` seconds in all."""
    tally = Tally()
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        writers = [asyncio.create_task(Writer(client, key, tally, stop).run()) for _ in range(CLIENTS)]
        try:
            async with asyncio.timeout(timeout):
                while len(tally.acked) < until_acked:
                    await asyncio.sleep(0.02)
                if then is not None:
                    await then(tally)
                await asyncio.sleep(after)
        finally:
            stop.set()
            await asyncio.gather(*writers)
    return tally


async def check_durable(db: Database, tally: Tally) -> dict[str, int]:
    """Every acknowledged write is there with its audit record (found by request id) and event;
    nothing is half-written; the audit chains verify. Returns counts for the report."""
    async with db.transaction() as session:
        records = list((await session.execute(select(AuditRecord))).scalars())
        cases = {str(c.id): c for c in (await session.execute(select(Case))).scalars()}
        parties = Counter(str(p.case_id) for p in (await session.execute(select(Party))).scalars())
        consents = {str(c.id): c for c in (await session.execute(select(Consent))).scalars()}
        events = list((await session.execute(select(OutboxEvent))).scalars())
        verification = await verify(session)

    by_request = {r.request_id: r for r in records}
    actions = {
        "referral": "case.referred",
        "transition": "case.accept",
        "consent": "consent.recorded",
        "update": "case.updated",
    }
    for write in tally.acked:
        case = cases.get(write.case_id)
        assert case is not None, f"acknowledged {write.kind} lost its case: {write}"
        record = by_request.get(write.request_id)
        assert record is not None, f"acknowledged {write.kind} has no audit record: {write}"
        assert record.action == actions[write.kind] and str(record.case_id) == write.case_id, write
        if write.kind == "referral":
            assert case.source_reference == write.detail["source"]
        if write.kind == "consent":
            assert write.detail["consent"] in consents, f"acknowledged consent missing: {write}"
        if "version" in write.detail:
            assert case.version >= write.detail["version"], write

    case_records: dict[str, list[AuditRecord]] = defaultdict(list)
    for record in records:
        if record.case_id is not None:
            case_records[str(record.case_id)].append(record)
    case_events: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        case_events[str(event.case_id)][event.event_type] += 1
    for case_id, case in cases.items():
        mine = case_records[case_id]
        assert case.audit_seq == len(mine), (
            f"case {case.reference}: head at {case.audit_seq}, {len(mine)} records"
        )
        assert parties[case_id] >= 1, f"case {case.reference} has no parties"
        assert case_events[case_id]["restorative-justice.case.created"] == 1, case.reference
        moves = sum(
            1
            for r in mine
            if r.action.startswith("case.") and r.action not in ("case.referred", "case.updated")
        )
        assert case_events[case_id]["restorative-justice.case.state-changed"] == moves, case.reference
    for consent in consents.values():
        assert any(r.entity_id == str(consent.id) for r in case_records[str(consent.case_id)]), consent.id
    assert verification.valid, verification.first_invalid
    return {
        "cases": len(cases),
        "auditRecords": len(records),
        "events": len(events),
        "checked": verification.checked,
    }
