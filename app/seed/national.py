"""The national data set: 120 prisons, 300,000 cases in every state, 1,000,000 parties and
consents, 3,000,000 audit records whose hash chains verify, 500,000 tasks, reps and API keys,
and the parties' incident history (the reports their cases were made from, and a few incidents in
the year before each referral and after each case ended) for the outcomes report.

Loaded in bulk (COPY through the engine's own asyncpg connections on PostgreSQL, multi-row
INSERT on SQLite), never through the API. Each case's history is simulated once: its audit
records are hashed exactly as `app.audit.chain` hashes them, the case row carries the end of its
chain, and the records are written in time order across all cases, as the service would have
written them over three years.
"""

import asyncio
import hashlib
import heapq
import json
import os
import random
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app import clock
from app.audit.chain import content_from_texts, link_hash
from app.auth.service import KEY_PREFIX, hash_key
from app.cases.responsibility import note_facts
from app.common.jsonable import canonical_json
from app.db import Database
from app.models import metadata
from app.models.cases import Case

KEYS_FILE = Path("national-keys.json")
SPAN = timedelta(days=3 * 365)
BIG_TABLES = ("audit_record", "rj_case", "party", "consent", "task", "case_rep", "incident_record")

ACTIVE_STATES = (
    ("referred", 0.10),
    ("assessment", 0.25),
    ("shuttle_mediation", 0.18),
    ("letter_exchange", 0.10),
    ("conference", 0.05),
    ("follow_up", 0.22),
    ("on_hold", 0.10),
)
# The triggers after `accept` that bring a case to its state.
PATHS: dict[str, tuple[str, ...]] = {
    "assessment": (),
    "shuttle_mediation": ("start_shuttle",),
    "letter_exchange": ("start_letters",),
    "conference": ("schedule_conference",),
    "follow_up": ("start_shuttle", "conclude"),
    "on_hold": ("start_shuttle", "pause"),
    "closed": ("start_shuttle", "conclude", "close"),
}
DESTINATIONS = {
    "accept": "assessment",
    "decline": "closed",
    "start_shuttle": "shuttle_mediation",
    "start_letters": "letter_exchange",
    "schedule_conference": "conference",
    "conclude": "follow_up",
    "pause": "on_hold",
    "close": "closed",
    # Called off where shuttle mediation can go on (the only call-off generated).
    "call_off": "shuttle_mediation",
}
# Small shares of cases that show the safety rules at work. Each is the first case of its kind
# and then one in every so many, so that a small load holds each too:
# - a conference called off by hand, the shuttle going on (among cases in shuttle mediation);
# - one party of three or four withdrew and the others go on (among cases in shuttle mediation);
# - declined after acceptance, its assessment visits cancelled (among declined cases).
CALLED_OFF, PARTY_WITHDREW, DECLINED_AFTER_VISITS = "called_off", "party_withdrew", "declined_after_visits"
VARIANT_EVERY = {CALLED_OFF: 25, PARTY_WITHDREW: 12, DECLINED_AFTER_VISITS: 4}
VARIANT_PATHS: dict[str, tuple[str, ...]] = {
    CALLED_OFF: ("schedule_conference", "call_off"),
    PARTY_WITHDREW: ("start_shuttle", "withdraw"),
}
# The wellbeing checks of a party who withdrew, hours after the withdrawal (the default offsets).
WITHDRAWN_CHECK_HOURS = (4, 24, 7 * 24, 28 * 24)
PARTIES_PATTERN = (2, 3, 4, 3, 4, 4)  # 3⅓ parties a case on average
CATEGORIES = (
    "assault",
    "fight",
    "threats",
    "bullying",
    "debt",
    "theft",
    "verbal_abuse",
    "cell_share_dispute",
    "other",
)
FIRST = (
    "Dean Marcus Liam Tyrone Connor Jamal Stephen Kyle Andre Paul Sam Ian Ryan Jordan Lewis Callum "
    "Darren Lee Craig Wayne Nathan Aaron Jason Kieran Shane Reece Mohammed Tomasz Ashley Bradley"
).split()
LAST = (
    "Walsh Okoye Parry Baptiste Haigh Reid Moss Bennett Lewis Kerr Quinn Doyle Hughes Price Ahmed "
    "Clarke Kowalski Murphy Evans Shaw Begum Wright Taylor Nowak Campbell Brown Singh Jones Ward Hall"
).split()
KNOWN_PRISONS = ("MDI", "LEI")
# A party's other incidents in the year before the referral and the year after the case ended:
# how many (drawn uniformly from the tuple), of which type and in which part. Fewer after a
# concluded case than after one that was not, as providers report.
INCIDENTS_BEFORE = (0, 0, 0, 1, 1, 2)
INCIDENTS_AFTER_CONCLUDED = (0, 0, 0, 0, 0, 1)
INCIDENTS_AFTER_OTHERWISE = (0, 0, 0, 1, 1, 2)
INCIDENT_TYPES = (
    ("ASSAULT_5", "violence"),
    ("FIGHT_1", "violence"),
    ("DISORDER_2", "threats_and_antisocial"),
    ("BULLYING_1", "threats_and_antisocial"),
    ("THREAT_1", "threats_and_antisocial"),
    ("FIND_6", "other"),
)
INCIDENT_PARTS = ("perpetrator", "perpetrator", "victim", "other")


@dataclass(frozen=True, slots=True)
class Plan:
    """How much to generate; `national()` is the issue's size, `scaled` a fraction of it."""

    prisons: int = 120
    cases: int = 300_000
    consents: int = 1_000_000
    audit_records: int = 3_000_000
    tasks: int = 500_000
    reps_per_prison: int = 10

    @classmethod
    def scaled(cls, scale: float) -> "Plan":
        """The national plan times `scale` (at least two prisons and a dozen cases)."""
        base = cls()
        return cls(
            prisons=max(2, round(base.prisons * scale)),
            cases=max(12, round(base.cases * scale)),
            consents=round(base.consents * scale),
            audit_records=round(base.audit_records * scale),
            tasks=round(base.tasks * scale),
        )


@dataclass(slots=True)
class Summary:
    """What was loaded, counted as it was written."""

    rows: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    keys_file: str = ""
    keys: dict[str, Any] = field(default_factory=dict)


class Progress:
    """A one-line progress bar on standard error."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = max(total, 1)
        self.enabled = enabled
        self.started = time.monotonic()
        self.shown = 0.0
        self.tty = sys.stderr.isatty()
        self.last_tenth = -1

    def show(self, done: int, note: str, *, force: bool = False) -> None:
        """Redraw at most a few times a second (every tenth when not a terminal)."""
        if not self.enabled:
            return
        now = time.monotonic()
        fraction = min(done / self.total, 1.0)
        if self.tty:
            if not force and now - self.shown < 0.25:
                return
            self.shown = now
            bar = "#" * int(fraction * 30)
            line = f"\r[{bar:<30}] {fraction:6.1%} {note} {now - self.started:6.0f}s"
            sys.stderr.write(line)
            sys.stderr.flush()
            return
        tenth = int(fraction * 10)
        if tenth != self.last_tenth or force:
            self.last_tenth = tenth
            print(f"{fraction:6.1%} {note} {now - self.started:.0f}s", file=sys.stderr, flush=True)

    def done(self, note: str) -> None:
        """Finish the line."""
        if self.enabled:
            self.show(self.total, note, force=True)
            if self.tty:
                sys.stderr.write("\n")


# --- writing ------------------------------------------------------------------------------------

# Columns left to the database: the audit record's id, and columns the generated history never
# sets (revoked and rotated keys, legal holds, purges, letters, conferences' expected attendees,
# volunteers' completions, parties' wish for outcome updates, agreement checks, who attended a
# conference), which take their defaults.
DEFAULTED = {
    "audit_record": {"id"},
    "api_client": {"revoked_at", "previous_key_hash", "previous_key_expires_at"},
    "rj_case": {"legal_hold", "legal_hold_reason", "purged_at"},
    "party": {"outcome_updates"},
    "task": {"letter_id", "completed_by_rep_id", "agreement_item_id"},
    "conference": {"expected_attendees", "attended_party_ids"},
}
COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in metadata.tables[name].columns if c.name not in DEFAULTED.get(name, set()))
    for name in (
        "rep",
        "api_client",
        "rj_case",
        "party",
        "consent",
        "responsibility",
        "task",
        "case_rep",
        "conference",
        "prison_counter",
        "audit_chain_head",
        "audit_record",
        "incident_record",
    )
}
# JSON columns hold canonical JSON text in the rows generated here.
JSON_COLUMNS = {
    name: {c.name for c in metadata.tables[name].columns if isinstance(c.type, JSON)} for name in COLUMNS
}


class Sink:
    """Buffers rows per table and writes them in large batches."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in COLUMNS}
        self.counts: dict[str, int] = dict.fromkeys(COLUMNS, 0)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        """Queue one row."""
        self.buffers[table].append(row)

    async def maybe_flush(self) -> None:
        """Write every buffer that is full."""
        for table, rows in self.buffers.items():
            if len(rows) >= self.batch:
                await self.flush(table)

    async def flush(self, table: str) -> None:
        """Write one table's buffer."""
        rows = self.buffers[table]
        if rows:
            self.buffers[table] = []
            self.counts[table] += len(rows)
            await self.write(table, rows)

    async def flush_all(self) -> None:
        """Write everything buffered and wait for it."""
        for table in self.buffers:
            await self.flush(table)
        await self.drain()

    async def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    async def drain(self) -> None:
        """Wait for writes under way."""


class PostgresSink(Sink):
    """COPY on one connection per table, the next batch generated while the last is written."""

    def __init__(self, connections: dict[str, Any], batch: int) -> None:
        super().__init__(batch)
        self.connections = connections
        self.pending: dict[str, asyncio.Task[Any]] = {}

    async def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        previous = self.pending.pop(table, None)
        if previous is not None:
            await previous
        copy = self.connections[table].copy_records_to_table(table, records=rows, columns=COLUMNS[table])
        self.pending[table] = asyncio.ensure_future(copy)

    async def drain(self) -> None:
        for task in self.pending.values():
            await task
        self.pending.clear()


class GenericSink(Sink):
    """Multi-row INSERT through SQLAlchemy, for SQLite (the JSON texts are parsed back first)."""

    def __init__(self, conn: AsyncConnection, batch: int) -> None:
        super().__init__(batch)
        self.conn = conn

    async def write(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        columns = COLUMNS[table]
        json_columns = JSON_COLUMNS[table]
        values = [
            {
                name: (json.loads(v) if name in json_columns and v is not None else v)
                for name, v in zip(columns, row, strict=True)
            }
            for row in rows
        ]
        await self.conn.execute(metadata.tables[table].insert(), values)


# --- the simulation -----------------------------------------------------------------------------


@dataclass(slots=True)
class Client:
    """An API client as the generator knows it."""

    id: uuid.UUID
    actor: str  # canonical JSON of Principal.actor()


@dataclass(slots=True)
class Chain:
    """One audit chain being written: its name, last seq and hash."""

    name: str
    case_id: str | None
    seq: int = 0
    head: str = ""


class Generator:
    """Simulates every case once, in order of referral, and writes what it leaves behind."""

    def __init__(self, plan: Plan, sink: Sink, *, seed: int, now: datetime, progress: Progress) -> None:
        self.plan = plan
        self.sink = sink
        self.rng = random.Random(seed)  # noqa: S311 - made-up data, repeatable from its seed
        self.now = now.replace(microsecond=0)
        self.start = self.now - SPAN
        self.progress = progress
        self.heap: list[tuple[datetime, int, tuple[Any, ...]]] = []
        self.tiebreak = 0
        self.keys: dict[str, Any] = {"practitioners": {}, "practitionerIds": {}, "reps": {}, "repPrisons": {}}
        self.states: dict[str, int] = {}
        self.prisons: list[str] = []
        self.practitioners: dict[str, Client] = {}
        self.reps: dict[str, list[uuid.UUID]] = {}
        self.referrer: Client | None = None
        self.counters: dict[str, int] = {}
        self.historic_index = 0
        self.variants_seen: dict[str, int] = {}
        self.historic_total = 0
        self.done_total = 0
        self.request = 0

    # ids, names, times

    def new_id(self) -> uuid.UUID:
        """A random (seeded) version-4 id."""
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def prisoner_number(self) -> str:
        """A prisoner number in the NOMS shape."""
        r = self.rng
        letters = "ABCDEFGHJKLMNPRSTVWXYZ"
        return f"{r.choice('ABG')}{r.randrange(10000):04d}{r.choice(letters)}{r.choice(letters)}"

    def location(self, prison: str) -> str:
        """A cell in the prison."""
        r = self.rng
        return f"{prison}-{r.choice('ABCDEFGH')}-{r.randrange(1, 5)}-{r.randrange(1, 40):03d}"

    def request_id(self) -> str:
        """A request id as the middleware would record it."""
        self.request += 1
        return f"nat-{self.request:08x}"

    # audit records

    def record(
        self,
        chain: Chain,
        at: datetime,
        actor: Client,
        action: str,
        entity_type: str,
        entity_id: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> int:
        """Append one record to `chain`, hashed as the service hashes it; its seq."""
        seq = chain.seq + 1
        before_text = canonical_json(before) if before is not None else None
        after_text = canonical_json(after) if after is not None else None
        request_id = self.request_id()
        digest = hashlib.sha256(
            content_from_texts(
                case_id=chain.case_id,
                occurred_at=at,
                request_id=request_id,
                actor=actor.actor,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                before=before_text,
                after=after_text,
            )
        ).hexdigest()
        link = link_hash(chain.name, seq, chain.head, digest)
        row = (
            chain.name,
            seq,
            uuid.UUID(chain.case_id) if chain.case_id else None,
            at,
            request_id,
            actor.actor,
            action,
            entity_type,
            entity_id,
            before_text,
            after_text,
            digest,
            chain.head,
            link,
            False,
        )
        chain.seq, chain.head = seq, link
        self.tiebreak += 1
        heapq.heappush(self.heap, (at, self.tiebreak, row))
        return seq

    def emit_records_until(self, moment: datetime | None) -> None:
        """Move every record before `moment` (all, for None) to the sink, oldest first."""
        heap = self.heap
        add = self.sink.add
        while heap and (moment is None or heap[0][0] < moment):
            add("audit_record", heapq.heappop(heap)[2])

    # the estate: prisons, reps, clients

    def estate(self, global_chain: Chain) -> None:
        """Prisons, their reps, and a key for every practitioner, rep and national role."""
        r = self.rng
        prisons = list(KNOWN_PRISONS[: self.plan.prisons])
        while len(prisons) < self.plan.prisons:
            code = f"{r.choice('ABCDEFGHKLMNPRSTUVWY')}{r.choice('ABCDEFGHKLMNPRSTUVWY')}I"
            if code not in prisons:
                prisons.append(code)
        self.prisons = prisons
        system = Client(uuid.UUID(int=0), canonical_json(_actor(None, "rj-casework", "admin", None)))
        at = self.start - timedelta(days=30)
        step = timedelta(seconds=30)
        for prison in prisons:
            self.reps[prison] = []
            for n in range(self.plan.reps_per_prison):
                rep_id = self.new_id()
                status = (
                    "active" if n < self.plan.reps_per_prison - 2 else ("in_training", "suspended")[n % 2]
                )
                if status == "active":
                    self.reps[prison].append(rep_id)
                row = (
                    rep_id,
                    self.prisoner_number(),
                    r.choice(FIRST),
                    r.choice(LAST),
                    prison,
                    self.location(prison)[:-4],
                    status,
                    date(2022, 1 + n % 12, 1 + n),
                    30,
                    at,
                    at,
                )
                self.sink.add("rep", row)
                self.record(
                    global_chain,
                    at,
                    system,
                    "rep.registered",
                    "rep",
                    str(rep_id),
                    None,
                    {
                        "prisonerNumber": row[1],
                        "firstName": row[2],
                        "lastName": row[3],
                        "prisonId": prison,
                        "location": row[5],
                        "status": status,
                        "trainedOn": row[7].isoformat(),
                        "maxActiveCases": 30,
                    },
                )
                at += step
        for prison in prisons:
            client = self.client(
                global_chain, at, system, f"Practitioner ({prison})", "practitioner", [prison]
            )
            self.practitioners[prison] = client
            self.keys["practitionerIds"][prison] = str(client.id)
            at += step
        for prison in prisons:
            for rep_id in self.reps[prison]:
                self.client(global_chain, at, system, f"Rep {rep_id.hex[:8]}", "rep", [prison], rep_id=rep_id)
                self.keys["repPrisons"][str(rep_id)] = prison
                at += step
        self.referrer = self.client(global_chain, at, system, "National incident reporting", "referrer", [])
        for role in ("manager", "auditor", "admin"):
            self.client(global_chain, at, system, f"National {role}", role, [])

    def client(
        self,
        chain: Chain,
        at: datetime,
        system: Client,
        name: str,
        role: str,
        prisons: list[str],
        *,
        rep_id: uuid.UUID | None = None,
    ) -> Client:
        """One API client with its key, registered on the global chain."""
        client_id = self.new_id()
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self.sink.add(
            "api_client",
            (client_id, name, role, canonical_json(prisons), not prisons, rep_id, hash_key(key), True, at),
        )
        self.record(
            chain,
            at,
            system,
            "client.created",
            "api_client",
            str(client_id),
            None,
            {
                "name": name,
                "role": role,
                "prisons": prisons,
                "allPrisons": not prisons,
                "repId": str(rep_id) if rep_id else None,
            },
        )
        if role == "practitioner":
            self.keys["practitioners"][prisons[0]] = key
        elif role == "rep":
            self.keys["reps"][str(rep_id)] = key
        else:
            self.keys[role] = key
        actor = canonical_json(_actor(str(client_id), name, role, str(rep_id) if rep_id else None))
        return Client(client_id, actor)

    # the cases

    def outline(self) -> list[tuple[datetime, str, bool, int, str | None]]:
        """Every case's referral time, final state, whether declined, number of parties, and
        the safety rule it shows, if any (`VARIANT_EVERY`)."""
        r = random.Random(self.rng.random())  # noqa: S311 - made-up data, repeatable from its seed
        n = self.plan.cases
        names = [s for s, _ in ACTIVE_STATES]
        weights = [w for _, w in ACTIVE_STATES]
        out = []
        for i in range(n):
            created = self.start + SPAN * ((i + r.random()) / n)
            age = (self.now - created).days
            active = r.random() < (0.9 if age < 90 else 0.05)
            state = r.choices(names, weights)[0] if active else "closed"
            declined = state == "closed" and r.random() < 0.25
            parties = PARTIES_PATTERN[i % len(PARTIES_PATTERN)]
            out.append((created, state, declined, parties, self.variant(state, declined, parties)))
        return out

    def variant(self, state: str, declined: bool, parties: int) -> str | None:
        """The safety rule the next case shows, if it is the first of its kind or its turn."""
        kinds = (
            [DECLINED_AFTER_VISITS]
            if declined
            else [CALLED_OFF] + ([PARTY_WITHDREW] if parties >= 3 else [])
            if state == "shuttle_mediation"
            else []
        )
        for kind in kinds:
            seen = self.variants_seen.get(kind, 0)
            self.variants_seen[kind] = seen + 1
            if seen % VARIANT_EVERY[kind] == 0:
                return kind
        return None

    async def cases(self, global_records: int) -> None:
        """Generate, hash and write every case."""
        outline = self.outline()
        accepted = [i for i, (_c, s, d, _p, _v) in enumerate(outline) if s != "referred" and not d]
        required_consents = sum(
            _required_consents(_stage(outline[i][1], outline[i][4]), outline[i][3]) for i in accepted
        )
        open_tasks = sum((0 if d else _open_tasks(s, p)) + _variant_tasks(v, p) for _c, s, d, p, v in outline)
        base_records = sum(_base_records(s, d, p, v) for _c, s, d, p, v in outline)
        extra_consents = max(self.plan.consents - required_consents, 0)
        historic = max(self.plan.tasks - open_tasks, 0)
        remaining = max(
            self.plan.audit_records - global_records - base_records - required_consents - extra_consents, 0
        )
        self.historic_total = historic
        self.done_total = min(historic, remaining)
        filler = remaining - self.done_total
        slots = {i: k for k, i in enumerate(accepted)}
        count = len(accepted) or 1
        for i, (created, state, declined, n_parties, variant) in enumerate(outline):
            k = slots.get(i)
            extras = _share(extra_consents, k, count) if k is not None else 0
            tasks = _share(historic, k, count) if k is not None else 0
            fill = _share(filler, k, count) if k is not None else 0
            self.case(i, created, state, declined, n_parties, extras, tasks, fill, variant)
            self.emit_records_until(created)
            if i % 200 == 0:
                await self.sink.maybe_flush()
                self.progress.show(i, f"cases {i:,}/{self.plan.cases:,}")
        self.emit_records_until(None)
        self.progress.show(self.plan.cases, f"cases {self.plan.cases:,}/{self.plan.cases:,}", force=True)

    def case(
        self,
        i: int,
        created: datetime,
        state: str,
        declined: bool,
        n_parties: int,
        extra_consents: int,
        historic_tasks: int,
        filler: int,
        variant: str | None = None,
    ) -> None:
        """One case: its row, parties, consents, tasks, assignment and audit chain; `variant`:
        the safety rule it shows (`VARIANT_EVERY`)."""
        r = self.rng
        prison = self.prisons[i % len(self.prisons)]
        practitioner = self.practitioners[prison]
        assert self.referrer is not None  # noqa: S101 - set when the prisons are made, before any case
        number = self.counters.get(prison, 0) + 1
        self.counters[prison] = number
        reference = f"{prison}-RJ-{number:06d}"
        case_id = self.new_id()
        cid = str(case_id)
        chain = Chain(cid, cid)
        category = r.choice(CATEGORIES)
        staff = i % 3 == 0
        source = ("RJ-STAFF", f"STAFF-{i:07d}") if staff else ("IRS", f"IR-{i:08d}")
        referrer = practitioner if staff else self.referrer
        referred_by = r.choice(("Safer custody team", "Wing officer", "Incident reporting", "Chaplaincy"))
        parties = []
        for p in range(n_parties):
            role = ("harmed", "harmer")[p] if p < 2 else "both"
            parties.append(
                (
                    self.new_id(),
                    self.prisoner_number(),
                    r.choice(FIRST),
                    r.choice(LAST),
                    role,
                    self.location(prison),
                )
            )
        accepted = state != "referred" and not declined
        reps = self.reps[prison]
        rep_id = reps[i % len(reps)] if accepted and reps else None
        path = _path(state, variant) if accepted else ()
        # How many records the chain will hold, so their times can be spread over the case's life.
        consents = self.consents_for(_stage(state, variant), parties, extra_consents) if accepted else []
        visited = variant == DECLINED_AFTER_VISITS
        # Work past assessment needs every harmer's acknowledgement of their part: open cases
        # carry it; closed ones ended before the responsibility ledger was kept.
        acknowledging = [p for p in parties if p[4] != "harmed"] if _acknowledged(state) else []
        n_records = (
            1
            + (1 if declined else 0)
            + (1 if visited else 0)
            + (
                3 + len(consents) + len(acknowledging) + len(path) + historic_tasks + filler
                if accepted
                else 0
            )
        )
        if state == "closed":
            end = min(created + timedelta(days=r.uniform(20, 150)), self.now - timedelta(minutes=5))
        else:
            end = created + (self.now - created) * r.uniform(0.6, 0.99)
        step = (end - created) / max(n_records, 1)
        clock_at = [created]

        def tick() -> datetime:
            clock_at[0] += step
            return clock_at[0]

        snap: dict[str, Any] = {
            "state": "referred",
            "version": 1,
            "category": category,
            "summary": None,
            "riskLevel": None,
            "riskNotes": None,
            "facilitator": None,
            "outcome": None,
            "practitionerId": None,
            "previousState": None,
            "pausedUntil": None,
        }
        party_snaps = [
            {"prisonerNumber": p[1], "firstName": p[2], "lastName": p[3], "role": p[4], "location": p[5]}
            for p in parties
        ]
        self.record(
            chain,
            created,
            referrer,
            "case.referred",
            "case",
            cid,
            None,
            {
                "reference": reference,
                "prisonId": prison,
                "state": "referred",
                "category": category,
                "source": {"system": source[0], "reference": source[1]},
                "referredBy": referred_by,
                "parties": party_snaps,
            },
        )
        row: dict[str, Any] = {
            "closed_at": None,
            "concluded_at": None,
            "decline_reason": None,
            "pause_reason": None,
        }

        def fire(trigger: str, at: datetime, details: dict[str, Any], **changes: Any) -> None:
            before = dict(snap)
            snap.update(changes)
            snap["state"] = DESTINATIONS[trigger]
            snap["version"] += 1
            self.record(
                chain,
                at,
                practitioner,
                f"case.{trigger}",
                "case",
                cid,
                before,
                {**snap, "trigger": trigger, **details},
            )

        rows_tasks: list[tuple[Any, ...]] = []
        if declined:
            reason = r.choice(("unsuitable", "consent_refused", "parties_unavailable", "out_of_scope"))
            details: dict[str, Any] = {"reason": reason}
            if visited:
                # Accepted, then declined when the assessment visits found no consent: the visits
                # (the practitioner's, with no rep assigned) were cancelled with it.
                reason = details["reason"] = "consent_refused"
                at = tick()
                fire("accept", at, {}, practitionerId=str(practitioner.id))
                visits = [self.visit(case_id, prison, party, practitioner, at) for party in parties]
                details["cancelledTaskIds"] = [str(v[0]) for v in visits]
                rows_tasks += [(*v[:-2], "The case was declined.", clock_at[0] + step) for v in visits]
            at = tick()
            outcome = "unsuitable" if reason in ("unsuitable", "out_of_scope") else "withdrawn"
            row["decline_reason"], row["closed_at"] = reason, at
            fire("decline", at, details, outcome=outcome)
        leaver = parties[-1] if variant == PARTY_WITHDREW else None
        if accepted:
            assert rep_id is not None  # noqa: S101 - every prison has reps, so an accepted case has one
            self.sink.add("case_rep", (case_id, rep_id))
            fire("accept", tick(), {}, practitionerId=str(practitioner.id))
            snap["version"] += 1
            self.record(
                chain,
                tick(),
                practitioner,
                "assignment.changed",
                "assignment",
                cid,
                {"practitionerId": str(practitioner.id), "repIds": []},
                {"practitionerId": str(practitioner.id), "repIds": [str(rep_id)]},
            )
            risk = r.choices(("low", "medium", "high"), (0.6, 0.3, 0.1))[0]
            if (
                state in ("shuttle_mediation", "conference", "follow_up", "on_hold", "closed")
                and risk == "high"
            ):
                risk = "medium"
            facilitator = "rep" if risk == "low" else "practitioner"
            notes = (
                "No weapons involved."
                if risk == "low"
                else "Previous threats on the wing; keep apart at meals."
            )
            before = {"riskLevel": None, "riskNotes": None, "facilitator": None}
            snap.update(riskLevel=risk, riskNotes=notes, facilitator=facilitator)
            snap["version"] += 1
            self.record(
                chain,
                tick(),
                practitioner,
                "case.updated",
                "case",
                cid,
                before,
                {"riskLevel": risk, "riskNotes": notes, "facilitator": facilitator},
            )
            for party, scope, given, method in consents:
                at = tick()
                consent_id = self.new_id()
                snap["version"] += 1
                seq = self.record(
                    chain,
                    at,
                    practitioner,
                    "consent.recorded",
                    "consent",
                    str(consent_id),
                    None,
                    {
                        "partyId": str(party[0]),
                        "party": f"{party[2]} {party[3]}",
                        "scope": scope,
                        "given": given,
                        "method": method,
                        "recordedBy": "Rep on the wing",
                    },
                )
                self.sink.add(
                    "consent",
                    (
                        consent_id,
                        case_id,
                        party[0],
                        scope,
                        given,
                        method,
                        "Rep on the wing",
                        practitioner.id,
                        "practitioner",
                        at,
                        seq,
                    ),
                )
            for party in acknowledging:
                at = tick()
                entry_id = self.new_id()
                snap["version"] += 1
                note = "Accepts his part in what happened on the landing."
                seq = self.record(
                    chain,
                    at,
                    practitioner,
                    "responsibility.recorded",
                    "responsibility",
                    str(entry_id),
                    None,
                    {
                        "partyId": str(party[0]),
                        "party": f"{party[2]} {party[3]}",
                        "acknowledged": True,
                        "method": "in_person",
                        "recordedBy": "Practitioner",
                        **note_facts(note),
                    },
                )
                self.sink.add(
                    "responsibility",
                    (
                        entry_id,
                        case_id,
                        party[0],
                        True,
                        "in_person",
                        "Practitioner",
                        practitioner.id,
                        "practitioner",
                        note,
                        at,
                        seq,
                    ),
                )
            for n in range(historic_tasks):
                rows_tasks.append(
                    self.historic_task(chain, case_id, prison, rep_id, parties, n, tick(), practitioner)
                )
            preparation: tuple[Any, ...] = ()
            for trigger in path:
                at = tick()
                details = {}
                changes: dict[str, Any] = {}
                if trigger == "withdraw" and leaver is not None:
                    self.withdraw(chain, cid, snap, at, practitioner, leaver)
                    rows_tasks += self.checks_after_withdrawal(case_id, prison, leaver, practitioner, at)
                    continue
                if trigger == "call_off":
                    details["reason"] = "Security intelligence: a threat against a party on the wing."
                    details["cancelledTaskIds"] = [str(preparation[0])]
                    rows_tasks.append((*preparation[:-2], "The conference was called off.", at))
                elif trigger == "start_letters":
                    details["partyId"] = str(parties[0][0])
                elif trigger == "schedule_conference":
                    when = self.now + timedelta(days=r.randrange(2, 21))
                    details["conference"] = {
                        "scheduledAt": when.isoformat(),
                        "location": f"{prison} chapel meeting room",
                        "facilitatorId": str(practitioner.id),
                    }
                    self.sink.add(
                        "conference",
                        (
                            self.new_id(),
                            case_id,
                            when,
                            f"{prison} chapel meeting room",
                            practitioner.id,
                            "[]",
                            None,
                            True,
                            None,
                            "[]",
                            None,
                            at,
                        ),
                    )
                    if variant == CALLED_OFF:
                        preparation = self.preparation(case_id, prison, practitioner, when, at)
                elif trigger == "conclude":
                    changes["outcome"] = r.choice(
                        ("resolved", "resolved", "partially_resolved", "not_resolved")
                    )
                    details["outcome"] = changes["outcome"]
                    row["concluded_at"] = at
                elif trigger == "pause":
                    until = self.now + timedelta(hours=r.randrange(6, 96))
                    changes["previousState"] = snap["state"]
                    changes["pausedUntil"] = until.isoformat(timespec="microseconds")
                    row["pause_reason"] = "Tempers high after an incident on the wing"
                    row["paused_until"] = until
                    details.update(until=changes["pausedUntil"], reason=row["pause_reason"])
                elif trigger == "close":
                    row["closed_at"] = at
                fire(trigger, at, details, **changes)
            for n in range(filler):
                old = snap["summary"]
                snap["summary"] = f"Work in progress, note {n + 1}: {r.choice(LAST)} seen on the wing."
                snap["version"] += 1
                self.record(
                    chain,
                    tick(),
                    practitioner,
                    "case.updated",
                    "case",
                    cid,
                    {"summary": old},
                    {"summary": snap["summary"]},
                )
            rows_tasks.extend(
                self.open_tasks(case_id, prison, state, rep_id, parties, practitioner, clock_at[0])
            )
        self.states[state] = self.states.get(state, 0) + 1
        last_at = clock_at[0]
        incident_at = created - timedelta(hours=r.randrange(1, 48))
        self.sink.add(
            "rj_case",
            (
                case_id,
                reference,
                prison,
                snap["state"],
                snap["previousState"],
                row.get("paused_until"),
                row["pause_reason"],
                snap["version"],
                category,
                snap["summary"],
                f"{category.replace('_', ' ').capitalize()} reported on the landing.",
                incident_at,
                f"{prison}-{r.choice('ABCDEFGH')}-{r.randrange(1, 5)}",
                snap["riskLevel"],
                snap["riskNotes"],
                snap["facilitator"],
                source[0],
                source[1],
                referred_by,
                referrer.id,
                practitioner.id if accepted or visited else None,
                snap["outcome"],
                row["decline_reason"],
                row["closed_at"],
                row["concluded_at"],
                chain.seq,
                chain.head,
                created,
                last_at,
            ),
        )
        for party in parties:
            out = party is leaver
            follow_up = "practitioner_only" if out else None
            self.sink.add("party", (party[0], case_id, *party[1:], created, follow_up, not out))
        self.incidents(
            case_id if source[0] == "IRS" else None,
            f"{prison}-{source[1]}",
            category,
            prison,
            parties,
            incident_at,
            created,
            row["concluded_at"] or row["closed_at"] or last_at,
            concluded=row["concluded_at"] is not None,
        )
        for t in rows_tasks:
            self.sink.add("task", t)

    def incidents(
        self,
        case_id: uuid.UUID | None,
        report_key: str,
        category: str,
        prison: str,
        parties: list[tuple[Any, ...]],
        occurred: datetime,
        referred: datetime,
        ended: datetime,
        *,
        concluded: bool,
    ) -> None:
        """The parties' incident history: the report the case was made from (for a case referred
        by the incident system), and a few other incidents in the year either side."""
        r = self.rng
        add = self.sink.add
        if case_id is not None:
            kind = "ASSAULT_1" if category == "assault" else "FIGHT_1"
            for party in parties:
                part = "victim" if party[4] == "harmed" else "perpetrator"
                add(
                    "incident_record",
                    (
                        self.new_id(),
                        report_key,
                        party[1],
                        occurred,
                        prison,
                        "violence",
                        part,
                        kind,
                        case_id,
                        referred,
                    ),
                )
        after = INCIDENTS_AFTER_CONCLUDED if concluded else INCIDENTS_AFTER_OTHERWISE
        for party in parties:
            number = party[1]
            times = [
                referred - timedelta(days=1 + r.random() * 364) for _ in range(r.choice(INCIDENTS_BEFORE))
            ]
            times += [ended + timedelta(days=1 + r.random() * 364) for _ in range(r.choice(after))]
            for at in times:
                if at >= self.now:
                    continue
                kind, family = r.choice(INCIDENT_TYPES)
                add(
                    "incident_record",
                    (
                        self.new_id(),
                        f"{prison}-H{self.new_id().hex[:12]}",
                        number,
                        at,
                        prison,
                        family,
                        r.choice(INCIDENT_PARTS),
                        None,
                        None,
                        at,
                    ),
                )

    def consents_for(
        self, state: str, parties: list[tuple[Any, ...]], extra: int
    ) -> list[tuple[tuple[Any, ...], str, bool, str]]:
        """The consents a case in `state` needs, then `extra` ledger entries on other scopes."""
        methods = ("in_person", "written", "via_rep")
        out = [(p, "indirect", True, self.rng.choice(methods)) for p in parties]
        if state == "letter_exchange":
            out += [
                (p, "letters_send" if n == 0 else "letters_receive", True, "written")
                for n, p in enumerate(parties)
            ]
        if state == "conference":
            out += [(p, "direct", True, "in_person") for p in parties]
        spare = "letters_send" if state == "conference" else "direct"
        for n in range(extra):
            out.insert(n % (len(out) + 1), (parties[n % len(parties)], spare, n % 2 == 0, "via_rep"))
        return out

    def historic_task(
        self,
        chain: Chain,
        case_id: uuid.UUID,
        prison: str,
        rep_id: uuid.UUID,
        parties: list[tuple[Any, ...]],
        n: int,
        at: datetime,
        practitioner: Client,
    ) -> tuple[Any, ...]:
        """A task of the case's past: done (and audited) or cancelled."""
        j = self.historic_index
        self.historic_index += 1
        done = (j + 1) * self.done_total // max(self.historic_total, 1) > j * self.done_total // max(
            self.historic_total, 1
        )
        party = parties[n % len(parties)]
        kind = "assessment_visit" if n < len(parties) else ("shuttle_visit", "wellbeing_check")[n % 2]
        task_id = self.new_id()
        minutes = 15 + (n * 7) % 45
        if done:
            self.record(
                chain,
                at,
                practitioner,
                "task.completed",
                "task",
                str(task_id),
                {"status": "open"},
                {"kind": kind, "status": "done", "outcome": "Seen; no concerns", "durationMinutes": minutes},
            )
        return (
            task_id,
            case_id,
            prison,
            kind,
            at - timedelta(hours=2),
            "done" if done else "cancelled",
            "rep",
            rep_id,
            party[0],
            f"{kind.replace('_', ' ').capitalize()}: see {party[2]} {party[3]} at {party[5]}.",
            False,
            "Seen; no concerns" if done else None,
            None,
            minutes if done else None,
            at if done else None,
            at - timedelta(days=2),
            None,
            None,
        )

    def open_tasks(
        self,
        case_id: uuid.UUID,
        prison: str,
        state: str,
        rep_id: uuid.UUID,
        parties: list[tuple[Any, ...]],
        practitioner: Client,
        at: datetime,
    ) -> list[tuple[Any, ...]]:
        """The open work a case in `state` has, due from two days ago to a fortnight ahead."""
        out = []
        for n, (kind, who) in enumerate(_open_task_kinds(state, len(parties))):
            party = parties[n % len(parties)]
            due = self.now + timedelta(minutes=self.rng.randrange(-2 * 24 * 60, 14 * 24 * 60))
            assignee = ("practitioner", practitioner.id) if who == "practitioner" else ("rep", rep_id)
            out.append(
                (
                    self.new_id(),
                    case_id,
                    prison,
                    kind,
                    due,
                    "open",
                    assignee[0],
                    assignee[1],
                    party[0] if kind != "conference_preparation" else None,
                    f"{kind.replace('_', ' ').capitalize()}: see {party[2]} {party[3]} at {party[5]}.",
                    False,
                    None,
                    None,
                    None,
                    None,
                    at,
                    None,
                    None,
                )
            )
        return out

    def withdraw(
        self, chain: Chain, cid: str, snap: dict[str, Any], at: datetime, practitioner: Client, leaver: Any
    ) -> None:
        """A party withdrew and the others go on: the case keeps its state, with a new version."""
        before = dict(snap)
        snap["version"] += 1
        after = {**snap, "trigger": "withdraw", "partyId": str(leaver[0]), "participating": False}
        self.record(chain, at, practitioner, "case.withdraw", "case", cid, before, after)

    def checks_after_withdrawal(
        self, case_id: uuid.UUID, prison: str, leaver: Any, practitioner: Client, at: datetime
    ) -> list[tuple[Any, ...]]:
        """The leaver's wellbeing checks, the practitioner's (a party who withdrew is not
        visited by reps)."""
        return [
            (
                self.new_id(),
                case_id,
                prison,
                "wellbeing_check",
                at + timedelta(hours=hours),
                "open",
                "practitioner",
                practitioner.id,
                leaver[0],
                f"Wellbeing check: visit {leaver[2]} {leaver[3]} and ask how they are since they withdrew.",
                False,
                None,
                None,
                None,
                None,
                at,
                None,
                None,
            )
            for hours in WITHDRAWN_CHECK_HOURS
        ]

    def visit(
        self, case_id: uuid.UUID, prison: str, party: Any, practitioner: Client, at: datetime
    ) -> tuple[Any, ...]:
        """An assessment visit for the practitioner, made at acceptance and cancelled by the
        decline (as a task row, its reason and time still to fill)."""
        return (
            self.new_id(),
            case_id,
            prison,
            "assessment_visit",
            at + timedelta(days=2),
            "cancelled",
            "practitioner",
            practitioner.id,
            party[0],
            f"Assessment visit: explain restorative justice to {party[2]} {party[3]}.",
            False,
            None,
            None,
            None,
            None,
            at,
            None,
            None,
        )

    def preparation(
        self, case_id: uuid.UUID, prison: str, practitioner: Client, when: datetime, at: datetime
    ) -> tuple[Any, ...]:
        """The facilitator's preparation of a conference, cancelled when it was called off (as a
        task row, its reason and time still to fill)."""
        return (
            self.new_id(),
            case_id,
            prison,
            "conference_preparation",
            when - timedelta(days=1),
            "cancelled",
            "practitioner",
            practitioner.id,
            None,
            f"Prepare the conference for the case at {prison} chapel meeting room.",
            False,
            None,
            None,
            None,
            None,
            at,
            None,
            None,
        )


def _actor(client_id: str | None, name: str, role: str, rep_id: str | None) -> dict[str, Any]:
    return {"clientId": client_id, "name": name, "role": role, "repId": rep_id}


def _share(total: int, k: int, count: int) -> int:
    """The k-th of `count` even shares of `total` (the shares add up to `total` exactly)."""
    return (k + 1) * total // count - k * total // count


def _stage(state: str, variant: str | None) -> str:
    """The stage whose consents a case holds: a called-off conference's, in shuttle mediation."""
    return "conference" if variant == CALLED_OFF else state


def _path(state: str, variant: str | None) -> tuple[str, ...]:
    """The triggers after `accept` that bring an accepted case to its state."""
    return VARIANT_PATHS.get(variant or "", PATHS.get(state, ()))


def _variant_tasks(variant: str | None, parties: int) -> int:
    """The tasks a case has for the safety rule it shows."""
    if variant == CALLED_OFF:
        return 1
    if variant == PARTY_WITHDREW:
        return len(WITHDRAWN_CHECK_HOURS)
    if variant == DECLINED_AFTER_VISITS:
        return parties
    return 0


def _required_consents(state: str, parties: int) -> int:
    return parties * (1 + (state in ("letter_exchange", "conference")))


def _open_task_kinds(state: str, parties: int) -> list[tuple[str, str]]:
    if state == "assessment":
        return [("assessment_visit", "rep")] * parties
    if state == "shuttle_mediation":
        return [("shuttle_visit", "rep")]
    if state == "letter_exchange":
        return [("letter_delivery", "rep")]
    if state == "conference":
        return [("conference_preparation", "practitioner")]
    if state == "follow_up":
        return [("wellbeing_check", "rep")] * (2 * parties)
    return []


def _open_tasks(state: str, parties: int) -> int:
    return len(_open_task_kinds(state, parties)) if state != "referred" else 0


def _base_records(state: str, declined: bool, parties: int, variant: str | None = None) -> int:
    """Records of a case other than consents, past tasks and notes."""
    if declined:
        return 2 + (variant == DECLINED_AFTER_VISITS)
    if state == "referred":
        return 1
    # The harmers' acknowledgements: every party but the first, who was harmed.
    acknowledgements = parties - 1 if _acknowledged(state) else 0
    return 4 + len(_path(state, variant)) + acknowledgements


def _acknowledged(state: str) -> bool:
    """Whether an accepted case in `state` holds its harmers' acknowledgements."""
    return bool(PATHS.get(state)) and state != "closed"


# --- loading ------------------------------------------------------------------------------------


async def load_national(
    db: Database,
    *,
    scale: float | None = None,
    seed: int = 20261123,
    keys_file: Path = KEYS_FILE,
    progress: bool = True,
    plan: Plan | None = None,
) -> int:
    """Load the national data set into an empty database; 0 on success, 1 with a reason if not.

    `scale` (or RJ_NATIONAL_SCALE) loads a fraction of it, `plan` any other size; the keys go
    to `keys_file`."""
    if plan is None:
        plan = Plan.scaled(scale if scale is not None else float(os.environ.get("RJ_NATIONAL_SCALE", "1")))
    async with db.engine.connect() as conn:
        existing = (await conn.execute(select(func.count()).select_from(Case))).scalar_one()
    if existing:
        print(
            f"national: the database already holds {existing} cases; load into an empty database",
            file=sys.stderr,
        )
        return 1
    summary = await generate(db, plan, seed=seed, keys_file=keys_file, progress=progress)
    rows = ", ".join(f"{name} {n:,}" for name, n in summary.rows.items() if n)
    print(f"national: loaded in {summary.seconds:.0f}s: {rows}", file=sys.stderr)
    print(f"national: states {summary.states}; keys in {summary.keys_file}", file=sys.stderr)
    return 0


async def generate(db: Database, plan: Plan, *, seed: int, keys_file: Path, progress: bool) -> Summary:
    """Generate and write `plan`; what was written."""
    started = time.monotonic()
    now = clock.now()
    bar = Progress(plan.cases, progress)
    if db.engine.dialect.name == "postgresql":
        summary = await _generate_postgres(db, plan, seed=seed, now=now, bar=bar)
    else:
        async with db.engine.begin() as conn:
            sink = GenericSink(conn, batch=2000)
            generator = Generator(plan, sink, seed=seed, now=now, progress=bar)
            summary = await _run(generator, sink)
    bar.done("loaded")
    keys_file.write_text(json.dumps(summary.keys, indent=2) + "\n")
    keys_file.chmod(0o600)
    summary.keys_file = str(keys_file)
    summary.seconds = time.monotonic() - started
    return summary


async def _run(generator: Generator, sink: Sink) -> Summary:
    global_chain = Chain("global", None)
    generator.estate(global_chain)
    await generator.cases(global_chain.seq)
    sink.add("audit_chain_head", ("global", global_chain.seq, global_chain.head))
    for prison, last in sorted(generator.counters.items()):
        sink.add("prison_counter", (prison, last))
    await sink.flush_all()
    return Summary(rows=dict(sink.counts), states=dict(sorted(generator.states.items())), keys=generator.keys)


async def _generate_postgres(db: Database, plan: Plan, *, seed: int, now: datetime, bar: Progress) -> Summary:
    tables = list(COLUMNS)
    async with _connections(db, len(tables) + 1) as conns:
        control = conns[-1]
        for pg in conns:
            # Generated rows are consistent by construction: foreign keys and the audit trigger
            # are not checked row by row (as pg_restore does), and a lost batch is loaded again.
            await pg.execute("SET session_replication_role = replica; SET synchronous_commit = off")
        dropped = await _drop_indexes(control)
        sink = PostgresSink(dict(zip(tables, conns, strict=False)), batch=20_000)
        generator = Generator(plan, sink, seed=seed, now=now, progress=bar)
        summary = await _run(generator, sink)
        bar.show(plan.cases, "building indexes", force=True)
        await _restore_indexes(conns[:2], dropped)
        bar.show(plan.cases, "vacuum and analyse", force=True)
        await _in_turn(conns[:2], [f"VACUUM (ANALYZE) {t}" for t in tables])
    return summary


class _connections:
    """Raw asyncpg connections borrowed from the engine's pool."""

    def __init__(self, db: Database, n: int) -> None:
        self.db = db
        self.n = n
        self.held: list[AsyncConnection] = []

    async def __aenter__(self) -> list[Any]:
        out = []
        for _ in range(self.n):
            conn = await self.db.engine.connect()
            self.held.append(conn)
            raw = await conn.get_raw_connection()
            out.append(raw.driver_connection)
        return out

    async def __aexit__(self, *exc: object) -> None:
        for conn in self.held:
            pg: Any = (await conn.get_raw_connection()).driver_connection
            await pg.execute("RESET ALL")
            await conn.close()


async def _drop_indexes(pg: Any) -> list[str]:
    """Drop secondary indexes and unique constraints of the big tables; the statements to restore them."""
    restore: list[str] = []
    for name, table, definition in await pg.fetch(
        "SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "WHERE c.contype = 'u' AND c.conrelid::regclass::text = ANY($1::text[])",
        list(BIG_TABLES),
    ):
        await pg.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in await pg.fetch(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid::regclass::text = ANY($1::text[]) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        list(BIG_TABLES),
    ):
        await pg.execute(f"DROP INDEX {name}")
        restore.append(definition)
    return restore


async def _restore_indexes(conns: Sequence[Any], statements: list[str]) -> None:
    """Rebuild what `_drop_indexes` dropped, one statement per connection at a time."""
    for pg in conns:
        await pg.execute("SET maintenance_work_mem = '256MB'")
    await _in_turn(conns, statements)


async def _in_turn(conns: Sequence[Any], statements: list[str]) -> None:
    """Run statements on the connections, each connection taking the next one when free."""
    queue = list(statements)

    async def work(pg: Any) -> None:
        while queue:
            await pg.execute(queue.pop(0))

    await asyncio.gather(*(work(pg) for pg in conns))
