"""The benchmark behind `bench/run`: the service on PostgreSQL with the national data set,
measured with wrk, against the database's own limit measured with pgbench in the same run.

Steps: create a database of its own, migrate, load the national data set, make an identity
provider for the run (a key pair) and sign a token for each practitioner, prepare request lists,
start `rj-casework serve --workers N` trusting the provider's key, run wrk per endpoint and
concurrency (the moves and case reads once with API keys and once with JWTs), capture the SQL of
one real transition and replay it with pgbench (-M prepared) for the limit L, check that every
2xx write has its audit record, verify the whole audit trail, record memory, write the results
(JSON, a Markdown table and a chart) and drop the database.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.seed.national import FIRST, LAST
from bench import targets
from bench.bare import PAUSABLE

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent
# The limit L moves real cases as the benchmark's own clients do: up to this many, shared out among
# pgbench's clients, each pausing its share in turn, then resuming them (a run of the service
# moves up to 4000).
PGBENCH_CASES = 12_000
# The reference the issue sets the transition target against (bench/bare.py).
BARE_LABEL = "POST /bare/cases/{id}/transitions (bare FastAPI + asyncpg, the same SQL)"
UNKEPT_LABEL = "GET /cases?state=assessment&prisonId=… (no views kept: RJ_CASE_VIEW_CACHE=0)"
TRANSITIONS_LABEL = "POST /cases/{id}/transitions (pause, resume)"
# How the endpoints measured with a JWT, not an API key, are told apart.
JWT_LABEL = ", with a JWT"
ENDPOINT_NAMES = (
    "transitions",
    "transitions_jwt",
    "referrals",
    "case_read",
    "case_read_jwt",
    "rep_tasks",
    "case_list",
    "case_list_unkept",
    "case_search",
    "ping",
    "bare",
    "report_summary_prison",
    "report_summary_estate",
    "report_outcomes_prison",
    "report_outcomes_estate",
)
# The reports are measured with few clients: a manager asks for one now and then, and each is
# many times the work of a page.
REPORT_CLIENTS = (1, 4)
REPORTS = {
    "report_summary_prison": ("summary", True),
    "report_summary_estate": ("summary", False),
    "report_outcomes_prison": ("outcomes", True),
    "report_outcomes_estate": ("outcomes", False),
}
# The servers started for each of their points: the module served (the service's own unless
# given), its settings, and the requests that warm it up.
SIDE_SERVERS: dict[str, tuple[str | None, dict[str, str], str]] = {
    "bare": ("bench.bare", {}, "bare_read"),
    "unkept": (None, {"RJ_CASE_VIEW_CACHE": "0"}, "case_read"),
}
# A person signed in through the prisons' identity provider calls with a JWT the provider signed;
# the run is its own provider. The authority is the one the service's default role mapping reads
# as a practitioner (RJ_JWT_ROLE_MAPPING).
JWT_ISSUER = "https://sign-in.bench.test/auth/issuer"
JWT_AUDIENCE = "rj-casework"
PRACTITIONER_AUTHORITY = "ROLE_RESTORATIVE_JUSTICE__PRACTITIONER"
# The runs that move cases, each on cases of its own: the service's with API keys, the service's
# with JWTs, and the bare reference's (bench/bare.py); how each calls: a path prefix and a bearer.
MOVES: dict[str, tuple[str, str | None]] = {
    "transitions": ("/cases", "key"),
    "transitions_jwt": ("/cases", "jwt"),
    "bare": ("/bare/cases", None),
}
# pgbench's audit seqs start here (each run from a base of its own above it), far beyond any
# real case's, so that its records are told apart from the case's own.
PGBENCH_FIRST_SEQ = 10_000_000


@dataclass
class Endpoint:
    """One thing measured: a name, a list of requests, and whether its 2xx must be audited."""

    name: str
    label: str
    audited: str | None = None  # the audit action each 2xx must have left
    results: list[dict[str, Any]] = field(default_factory=list)
    # "service", or a server started for each of its points: "bare", the reference endpoint
    # (bench/bare.py); "unkept", the service keeping no views of cases between requests.
    server: str = "service"
    # The concurrencies measured, when not the run's own.
    clients: tuple[int, ...] | None = None


def log(message: str) -> None:
    """Progress on standard error."""
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def pg_url(admin_url: str, database: str) -> str:
    """The SQLAlchemy URL of `database` on the admin URL's server."""
    return re.sub(r"/[^/]*$", f"/{database}", admin_url)


def dsn(url: str) -> str:
    """A libpq/asyncpg DSN from a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


def pg_args(url: str) -> list[str]:
    """Connection options for psql and pgbench."""
    m = re.match(
        r"postgresql(?:\+asyncpg)?://(?P<user>[^@:/]+)(?::[^@]*)?@(?P<host>[^:/]+)(?::(?P<port>\d+))?/", url
    )
    if not m:
        raise SystemExit(f"cannot read {url}")
    return ["-h", m["host"], "-p", m["port"] or "5432", "-U", m["user"]]


def free_port() -> int:
    """A free TCP port on the loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the database -------------------------------------------------------------------------------


@asynccontextmanager
async def connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of its own to the database `url` names, closed afterwards."""
    conn = await asyncpg.connect(dsn(url))
    try:
        yield conn
    finally:
        await conn.close()


async def create_database(admin: str, name: str) -> None:
    async with connection(admin) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"')


async def drop_database(admin: str, name: str) -> None:
    async with connection(admin) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run `rj-casework` and fail loudly."""
    subprocess.run([str(VENV_BIN / "rj-casework"), *args], env=env, cwd=cwd, check=True)


# --- JWT callers ---------------------------------------------------------------------------------


@dataclass
class IdentityProvider:
    """A stand-in for the prisons' identity provider, made for one run: a key pair whose public
    half the server is given (a PEM file in the run's folder), and whose private half signs a
    token for each practitioner of the benchmark."""

    private_key: rsa.RSAPrivateKey
    public_key_file: Path

    @classmethod
    def create(cls, folder: Path) -> "IdentityProvider":
        """A new key pair, its public key written into `folder`."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = folder / "jwt-public.pem"
        path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return cls(key, path)

    def server_settings(self) -> dict[str, str]:
        """The server's settings for verifying this provider's tokens."""
        return {
            "RJ_JWT_PUBLIC_KEY_FILE": str(self.public_key_file),
            "RJ_JWT_ISSUER": JWT_ISSUER,
            "RJ_JWT_AUDIENCE": JWT_AUDIENCE,
        }

    def practitioner_tokens(self, prisons: Iterable[str], lifetime: timedelta) -> dict[str, str]:
        """For each prison, the token of a practitioner whose caseload is that prison alone (as the
        data set's practitioner key for it), valid from now for `lifetime`."""
        now = int(time.time())
        tokens = {}
        for prison in prisons:
            claims = {
                "iss": JWT_ISSUER,
                "aud": JWT_AUDIENCE,
                "sub": f"BENCH_PRACTITIONER_{prison}",
                "name": f"Practitioner ({prison})",
                "iat": now,
                "exp": now + int(lifetime.total_seconds()),
                "authorities": [PRACTITIONER_AUTHORITY],
                "caseloads": [prison],
            }
            tokens[prison] = jwt.encode(claims, self.private_key, algorithm="RS256")
        return tokens


def token_lifetime(points: int, duration: int) -> timedelta:
    """How long the run's tokens stay valid: twice what its points may take (each its seconds of
    measuring, a checkpoint, a pause and perhaps a server of its own started and warmed), and an
    hour at least."""
    return timedelta(seconds=max(3600, 2 * points * (duration + 30)))


# --- request lists ------------------------------------------------------------------------------


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for ASCII


def write_requests(path: Path, requests: list[tuple[str, str, str | None, str | None]]) -> None:
    """A Lua data file for replay.lua."""
    lines = ["return {"]
    for method, target, key, body in requests:
        parts = [lua_string(method), lua_string(target), lua_string(key) if key else "nil"]
        parts.append(lua_string(body) if body is not None else "nil")
        lines.append("{" + ",".join(parts) + "},")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


async def prepare(
    url: str,
    keys: dict[str, Any],
    tokens: dict[str, str],
    work: Path,
    concurrencies: list[int],
    rep_route: str,
    moves: Iterable[str] = tuple(MOVES),
) -> tuple[dict[str, list[Path]], list[str]]:
    """Request lists per endpoint and concurrency, and the ids of the cases that `moves` (of
    MOVES) move, each run on cases of its own. The practitioners call with their API keys
    (`keys`), and for the JWT endpoints with their tokens (`tokens`, by prison)."""
    rng = random.Random(7)
    practitioners = keys["practitioners"]
    bearers: dict[str | None, dict[str, str]] = {"key": practitioners, "jwt": tokens, None: {}}
    moves = [m for m in MOVES if m in set(moves)]
    async with connection(url) as conn:
        pausable = await conn.fetch(
            "SELECT id, prison_id FROM rj_case WHERE state = ANY($1::text[]) ORDER BY id", list(PAUSABLE)
        )
        any_cases = await conn.fetch("SELECT id, prison_id FROM rj_case TABLESAMPLE SYSTEM (5) LIMIT 20000")
        reps = await conn.fetch(
            "SELECT r.id, r.prison_id FROM rep r WHERE r.status = 'active' ORDER BY r.id",
        )
    out: dict[str, list[Path]] = {}
    # Transitions: for each run its own cases; pause them all, then resume them all, so a case's
    # pause has long been committed when its resume comes.
    rows = list(pausable)
    rng.shuffle(rows)
    # The runs that move cases, each on cases of its own, and some left over for pgbench (see
    # choose_pgbench_cases).
    per_run = min(4000, len(rows) // (len(moves) * len(concurrencies) + 2))
    # A case's pause and resume must never be in flight together: far more cases than clients.
    if per_run < 20 * max(concurrencies):
        raise SystemExit(
            f"only {len(rows)} cases can be paused, too few for {len(concurrencies)} runs of up to "
            f"{max(concurrencies)} clients: load the data set again"
        )
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    pause = json.dumps({"trigger": "pause", "until": until, "reason": "Cooling off after a wing incident"})
    resume = json.dumps({"trigger": "resume"})
    moved: list[str] = []
    for name in moves:
        prefix, bearer = MOVES[name]
        out[name] = []
        for c in concurrencies:
            chosen, rows = rows[:per_run], rows[per_run:]
            moved += [str(r["id"]) for r in chosen]
            reqs: list[tuple[str, str, str | None, str | None]] = []
            for body in (pause, resume):
                reqs += [
                    (
                        "POST",
                        f"{prefix}/{r['id']}/transitions",
                        bearers[bearer].get(r["prison_id"]),
                        body,
                    )
                    for r in chosen
                ]
            path = work / f"{name}-{c}.lua"
            write_requests(path, reqs)
            out[name].append(path)
    prisons = sorted(practitioners)
    referral_reqs = []
    for i in range(2000):
        prison = prisons[i % len(prisons)]
        body = {
            "prisonId": prison,
            "source": {"system": "BENCH", "reference": "@N@"},
            "incident": {
                "occurredAt": "2026-11-20T10:00:00+00:00",
                "locationKey": f"{prison}-A-1",
                "category": "fight",
                "description": "A fight on the landing after association.",
            },
            "parties": [
                {
                    "prisonerNumber": f"B{rng.randrange(10000):04d}CD",
                    "firstName": "Dean",
                    "lastName": "Walsh",
                    "role": "harmed",
                    "location": f"{prison}-A-1-001",
                },
                {
                    "prisonerNumber": f"C{rng.randrange(10000):04d}DE",
                    "firstName": "Marcus",
                    "lastName": "Okoye",
                    "role": "harmer",
                    "location": f"{prison}-A-1-002",
                },
            ],
            "referredBy": "Wing officer",
        }
        referral_reqs.append(("POST", "/referrals", keys["referrer"], json.dumps(body)))
    reads = [(f"/cases/{r['id']}", r["prison_id"]) for r in any_cases]
    rng.shuffle(reads)
    read_reqs = [("GET", target, practitioners[prison], None) for target, prison in reads]
    # The same reads, in the same order, by the same practitioners signed in with their tokens.
    jwt_read_reqs = [("GET", target, tokens[prison], None) for target, prison in reads]
    list_reqs = [("GET", f"/cases?state=assessment&prisonId={p}", practitioners[p], None) for p in prisons]
    # A practitioner's search for a person by whole name: the national data set's names are
    # drawn from FIRST and LAST (app.seed.national), so a name matches about one party in 900
    # (some hundreds of cases in the country), of which a handful in the prison's caseload.
    search_reqs = [
        (
            "GET",
            f"/cases?q={FIRST[i % len(FIRST)]}+{LAST[(7 * i + 3) % len(LAST)]}",
            practitioners[p],
            None,
        )
        for i, p in enumerate(prisons * 4)
    ]
    rng.shuffle(search_reqs)
    rep_reqs = []
    for r in reps:
        rep_key = keys["reps"].get(str(r["id"]))
        if rep_key:
            target = rep_route.format(rep_id=r["id"])
            rep_reqs.append(("GET", target, rep_key, None))
    rng.shuffle(rep_reqs)
    ping = [("GET", "/health/ping", None, None)]
    # A year of reports up to today, by the national manager: for one prison at a time, and for
    # the whole estate.
    today = datetime.now(UTC).date()
    year = f"from={today - timedelta(days=364)}&to={today}"
    for name, (report, per_prison) in REPORTS.items():
        targets_ = (
            [f"/reports/{report}?prisonId={p}&{year}" for p in prisons]
            if per_prison
            else [f"/reports/{report}?{year}"]
        )
        path = work / f"{name}.lua"
        write_requests(path, [("GET", t, keys["manager"], None) for t in targets_])
        out[name] = [path] * len(REPORT_CLIENTS)
    for name, reqs in (
        ("referrals", referral_reqs),
        ("case_read", read_reqs),
        ("case_read_jwt", jwt_read_reqs),
        # the bare reference's warm-up, as the service's is warmed up with case reads
        ("bare_read", [("GET", "/bare" + target, None, None) for _, target, _, _ in read_reqs]),
        ("case_list", list_reqs),
        ("case_search", search_reqs),
        ("rep_tasks", rep_reqs),
        ("ping", ping),
    ):
        path = work / f"{name}.lua"
        write_requests(path, reqs)
        out[name] = [path] * len(concurrencies)
    return out, moved


# --- the server ---------------------------------------------------------------------------------


class Server:
    """`rj-casework serve` (or, given `module`, `python -m module`, served the same way) in its
    own process group."""

    def __init__(
        self,
        url: str,
        port: int,
        workers: int,
        cwd: Path,
        module: str | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.port = port
        self.workers = workers
        self.cwd = cwd
        self.module = module
        self.settings = settings or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "RJ_DATABASE_URL": self.url,
            "RJ_LOG_LEVEL": "warning",
            "RJ_BASE_URL": f"http://127.0.0.1:{self.port}",
            # The measured requests alone: no cases resumed or events delivered meanwhile.
            "RJ_TIMED_WORK": "separate",
            **self.settings,
        }
        command = [str(VENV_BIN / "rj-casework"), "serve"]
        if self.module is not None:
            command = [sys.executable, "-m", self.module]
        self.proc = subprocess.Popen(
            [
                *command,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=env,
            cwd=self.cwd,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health/ping", timeout=1).status_code < 500:
                    time.sleep(1.0)  # let every worker finish starting
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit("the server did not start")

    def worker_pids(self) -> list[int]:
        """The uvicorn processes serving requests (the workers, or the one process)."""
        if self.proc is None:
            return []
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        )
        children = [int(p) for p in out.stdout.split()]
        workers = []
        for child in children:
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"multiprocessing.resource_tracker" not in cmd:
                workers.append(child)
        return workers or [self.proc.pid]

    def memory(self) -> list[dict[str, int]]:
        """Resident and peak memory of each worker, in MB."""
        out = []
        for pid in self.worker_pids():
            status = Path(f"/proc/{pid}/status").read_text()
            values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
            out.append(
                {"pid": pid, "rssMB": int(values["VmRSS"]) // 1024, "peakMB": int(values["VmHWM"]) // 1024}
            )
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


# --- wrk ----------------------------------------------------------------------------------------


def run_wrk(base: str, data: Path, concurrency: int, duration: int, work: Path, tag: str) -> dict[str, Any]:
    """One wrk run; its result with the request ids of every 2xx response."""
    oklog = work / f"ok-{tag}"
    env = {**os.environ, "RJ_BENCH_DATA": str(data), "RJ_BENCH_OKLOG": str(oklog), "RJ_BENCH_RUN": tag}
    # One thread drives every connection: enough for these rates, and the lists stay in order.
    threads = 1
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{concurrency}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "lua" / "replay.lua"),
        base,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    if proc.stderr.strip():
        print(proc.stderr.strip()[:1000], file=sys.stderr)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result:\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    ids: list[str] = []
    for part in sorted(work.glob(f"ok-{tag}.*")):
        ids += [x for x in part.read_text().split() if x]
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["concurrency"] = concurrency
    result["latency_consistent"] = latency_consistent(result)
    result["ok_ids"] = ids
    return result


def latency_consistent(result: dict[str, Any]) -> bool:
    """Whether wrk's latency figures can describe its point. By Little's law the clients cannot
    have spent longer waiting than they were there (each has one request in flight at most):
    mean latency × requests <= clients × duration. wrk's own figures run up to about a third over
    that bound in ordinary points (seen in every run; its clock and its accounting of the point's
    duration), so only a point more than half as long again is taken as broken: one where the load
    generator itself was stalled, whose percentiles describe the stall, not the service."""
    waited = result["latency_us"]["mean"] * result["requests"]
    return bool(waited <= 1.5 * result["concurrency"] * result["duration_us"])


INCONSISTENT = "‡"


async def audit_check(url: str, ids: list[str], action_prefix: str) -> dict[str, int]:
    """How many of the 2xx request ids have an audit record of the expected kind."""
    async with connection(url) as conn:
        found = await conn.fetchval(
            "SELECT count(DISTINCT request_id) FROM audit_record WHERE request_id = ANY($1::text[]) "
            "AND action LIKE $2",
            ids,
            action_prefix + "%",
        )
    return {"ok": len(ids), "audited": int(found), "missing": len(set(ids)) - int(found)}


# --- the limit L --------------------------------------------------------------------------------


Statements = list[tuple[str, tuple[Any, ...]]]


async def capture_transition(url: str, keys: dict[str, Any]) -> tuple[Statements, Statements, str]:
    """The statements (with their arguments) that one real pause request sends, in order, and
    those of the resume that follows it on the same case."""
    os.environ["RJ_DATABASE_URL"] = url
    from sqlalchemy import event

    from app.api.app import create_app
    from app.config import get_settings
    from app.db import Database

    get_settings.cache_clear()
    # One connection, not a warmed pool: the request before the capture must have used the very
    # connection the captured ones use, or the capture takes in the driver's one-off type lookups
    # on a connection's first use of a statement.
    settings = get_settings().model_copy(update={"db_pool_warm": False})
    db = Database(settings)
    captured: Statements = []
    capturing = [False]

    # Statements prepared through SQLAlchemy are seen before they are sent; BEGIN, COMMIT and
    # anything else asyncpg sends as a simple query, by asyncpg's own query logger.
    def simple(record: Any) -> None:
        if capturing[0]:
            captured.append((record.query, tuple(record.args or ())))

    @event.listens_for(db.engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.driver_connection.add_query_logger(simple)

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _on_execute(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        if capturing[0]:
            captured.append((statement, tuple(parameters or ())))

    async with connection(url) as conn:
        case = await conn.fetchrow(
            "SELECT id, prison_id FROM rj_case WHERE state = 'assessment' ORDER BY updated_at LIMIT 1"
        )
    if case is None:
        raise SystemExit("no case in assessment left to pause: load the data set again")
    app = create_app(settings, database=db)
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    headers = {"Authorization": f"Bearer {keys['practitioners'][case['prison_id']]}"}
    moves: list[Statements] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            # One request first: the pool's connection exists, statements are prepared and the
            # key is known, as for nearly every request of a run.
            await client.get(f"/cases/{case['id']}", headers=headers)
            await _logged()
            for body in ({"trigger": "pause", "until": until, "reason": "capture"}, {"trigger": "resume"}):
                captured.clear()
                capturing[0] = True
                r = await client.post(f"/cases/{case['id']}/transitions", json=body, headers=headers)
                await _logged()
                capturing[0] = False
                if r.status_code != 200:
                    raise SystemExit(f"capture request failed: {r.status_code} {r.text}")
                if not captured or captured[-1][0].strip().rstrip(";").upper() != "COMMIT":
                    raise SystemExit(f"captured no whole transaction: {[q[:40] for q, _ in captured]}")
                moves.append(list(captured))
    return moves[0], moves[1], str(case["id"])


async def _logged() -> None:
    """Let the statements sent so far reach asyncpg's query loggers, which it calls with
    loop.call_soon: the last ones of a capture (its COMMIT), and those of a request before it
    (which must not be taken into it)."""
    for _ in range(3):
        await asyncio.sleep(0)


# The case pgbench moves: the client's current case k among the real cases chosen for it
# (`choose_pgbench_cases`), looked up by k, so that no statement is added to find it.
PGBENCH_CASE_ID = "(SELECT case_id FROM pgbench_case WHERE k = :k)"


def pgbench_script(pause: Statements, resume: Statements, case_id: str) -> tuple[str, dict[str, str]]:
    """The captured statements as a pgbench script that does what the benchmark's clients do:
    each client pauses its `:per` cases one after another, then resumes them, and so on (`per`
    is given to each run with -D). The case id becomes the client's current case, the audit seq
    a per-client counter, the outbox event id a fresh uuid; every other argument is passed as the
    same value, as a parameter (-M prepared)."""
    variables: dict[str, str] = {}
    lines = [
        "\\if :ready = 0",
        "SELECT 1 AS ready, :base AS seq, 0 AS t \\gset",
        "\\endif",
        "\\set t :t + 1",
        "\\set seq :seq + 1",
        "\\set k :client_id * :per + :t % :per",
        "\\if (:t / :per) % 2 = 0",
        *_script_lines("p", pause, case_id, variables),
        "\\else",
        *_script_lines("r", resume, case_id, variables),
        "\\endif",
    ]
    return "\n".join(lines) + "\n", variables


def _script_lines(tag: str, statements: Statements, case_id: str, variables: dict[str, str]) -> list[str]:
    statements = list(statements)
    # SQLAlchemy announces a statement before its connection sends the BEGIN that precedes it.
    for i in range(1, len(statements)):
        if statements[i][0].strip().upper().startswith("BEGIN"):
            statements[i - 1], statements[i] = statements[i], statements[i - 1]
    lines = []
    for n, (query, args) in enumerate(statements):
        text = query.strip().rstrip(";")

        def arg(m: re.Match[str], args: tuple[Any, ...] = args, n: int = n, query: str = query) -> str:
            i = int(m.group(1))
            value = args[i - 1]
            if value is None:
                return "NULL"
            if str(value) == case_id:
                return f"({PGBENCH_CASE_ID})"
            column = _column_of(query, i)
            if column == ("audit_record", "seq"):
                return ":seq"
            if column == ("outbox_event", "event_id"):
                return "gen_random_uuid()"
            name = f"{tag}{n}p{i}"
            variables[name] = _as_text(value)
            return f":{name}"

        text = re.sub(r"\$(\d+)", arg, text)
        lines.append(" ".join(text.split()) + ";")
    return lines


def _as_text(value: Any) -> str:
    """A parameter's value as PostgreSQL reads it from text (a list, such as a caseload, as an
    array literal)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return (
            "{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "}"
        )
    return str(value)


def _column_of(query: str, index: int) -> tuple[str, str] | None:
    """The table and column that $index fills in one of the statement's INSERTs (VALUES or
    INSERT ... SELECT, as in a data-modifying WITH)."""
    for m in re.finditer(
        r"INSERT INTO (\w+) \(([^)]*)\)\s*(?:VALUES\s*\((.*?)\)\s*(?:RETURNING|$)|SELECT\s+(.*?)\s+FROM\s)",
        query,
        re.S,
    ):
        columns = [c.strip() for c in m.group(2).split(",")]
        values = [v.strip() for v in (m.group(3) or m.group(4)).split(",")]
        for column, value in zip(columns, values, strict=False):
            if re.match(rf"\${index}\b", value):
                return m.group(1), column
    return None


async def choose_pgbench_cases(url: str, count: int, moved: list[str]) -> int:
    """Real cases of the data set for pgbench to move, as the benchmark's clients move them: up
    to `count` cases that could be paused and that no run of the service moved (`moved`), in a
    random order, numbered k = 0, 1, ... (table pgbench_case), with a copy of their rows to put
    back afterwards (`restore_pgbench_cases`). Moving the cases the service would move, rather
    than a few copies of one kind, makes PostgreSQL do what a move through the service makes it
    do: read the case's and its children's pages from wherever they lie, and log the first
    change of each page after a checkpoint whole. How many were chosen."""
    async with connection(url) as conn:
        await conn.execute("DROP TABLE IF EXISTS pgbench_case, pgbench_case_before, pgbench_mark")
        await conn.execute(
            "CREATE TABLE pgbench_case AS SELECT (row_number() OVER () - 1)::int AS k, id AS case_id "
            "FROM (SELECT id FROM rj_case WHERE state = ANY($1::text[]) AND NOT id = ANY($2::uuid[]) "
            "ORDER BY random() LIMIT $3) chosen",
            list(PAUSABLE),
            moved,
            count,
        )
        await conn.execute(
            """
            CREATE UNIQUE INDEX ON pgbench_case (k);
            CREATE TABLE pgbench_case_before AS
              SELECT c.* FROM rj_case c JOIN pgbench_case p ON p.case_id = c.id;
            CREATE TABLE pgbench_mark AS SELECT coalesce(max(position), 0) AS position FROM outbox_event;
            ANALYZE pgbench_case;
            """
        )
        return int(await conn.fetchval("SELECT count(*) FROM pgbench_case"))


async def checkpoint(url: str) -> None:
    """A checkpoint, before each measured point and each pgbench run: the pgbench runs move the
    same chosen cases again, and after it the first change of each page is logged whole once
    more, as it is for the cases a point of the service moves (none moved before by any run);
    every point and run starts in the same place of the checkpoint cycle."""
    async with connection(url) as conn:
        await conn.execute("CHECKPOINT")


async def restore_pgbench_cases(url: str) -> None:
    """Put the cases pgbench moved back as they were, and remove what it wrote about them."""
    async with connection(url) as conn:
        columns = [
            r["attname"]
            for r in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'rj_case'::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum"
            )
        ]
        restore = ", ".join(f"{c} = b.{c}" for c in columns if c != "id")
        async with conn.transaction():
            # The audit trigger refuses deletes; replica mode lets the owner of this database
            # remove the records pgbench wrote (their seqs start at 10,000,000), and only those.
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                f"""
                DELETE FROM audit_record
                  WHERE chain IN (SELECT case_id::text FROM pgbench_case) AND seq >= {PGBENCH_FIRST_SEQ};
                DELETE FROM outbox_event
                  WHERE case_id IN (SELECT case_id FROM pgbench_case)
                  AND position > (SELECT position FROM pgbench_mark);
                UPDATE rj_case c SET {restore} FROM pgbench_case_before b WHERE c.id = b.id;
                DROP TABLE pgbench_case, pgbench_case_before, pgbench_mark;
                """  # noqa: S608 - our own columns
            )


def run_pgbench(
    url: str,
    database: str,
    script: Path,
    variables: dict[str, str],
    *,
    clients: int,
    cases: int,
    duration: int,
    base: int,
) -> float:
    """pgbench -M prepared with the transition's SQL, its `clients` sharing the `cases` chosen
    for it; transactions per second."""
    cmd = [
        "pgbench",
        *pg_args(url),
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        str(min(clients, 2)),
        "-T",
        str(duration),
        "-D",
        "ready=0",
        "-D",
        f"base={base}",
        "-D",
        f"per={cases // clients}",
        "-f",
        str(script),
    ]
    for name, value in variables.items():
        cmd += ["-D", f"{name}={value}"]
    cmd.append(database)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    m = re.search(r"tps = ([\d.]+)", proc.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", proc.stdout)
    if not m or (failed and int(failed.group(1))) or proc.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{proc.stdout}\n{proc.stderr}")
    return float(m.group(1))


# --- results ------------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    lines = [
        f"Run {results['date']} on {results['conditions']['cpus']} cores "
        f"({results['conditions']['note']}; load average "
        f"{results['conditions']['load_average_start'][0]:.1f} at the start, "
        f"{results['conditions']['load_average_end'][0]:.1f} at the end); "
        f"{results['conditions']['workers']} workers, "
        f"{results['conditions']['duration_s']} s per point, national data set "
        f"({results['dataset']['rj_case']:,} cases, {results['dataset']['audit_record']:,} audit records).",
        "",
        "| endpoint | clients | req/s | p50 ms | p95 ms | p99 ms | non-2xx | 2xx audited |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for ep in results["endpoints"]:
        for r in ep["results"]:
            audit = r.get("audit")
            audited = f"{audit['audited']}/{audit['ok']}" if audit else "n/a"
            lat = r["latency_us"]
            mark = "" if r.get("latency_consistent", True) else f" {INCONSISTENT}"
            lines.append(
                f"| {ep['label']} | {r['concurrency']} | {r['rps']:.0f} | {lat['p50'] / 1000:.1f}{mark} | "
                f"{lat['p95'] / 1000:.1f}{mark} | {lat['p99'] / 1000:.1f}{mark} | "
                f"{r['other'] + sum(r['errors'].values())} | {audited} |"
            )
    if any(not r.get("latency_consistent", True) for ep in results["endpoints"] for r in ep["results"]):
        lines += [
            "",
            f"{INCONSISTENT} wrk's latency figures for this point cannot be: its clients would have "
            "waited longer than the point lasted (mean latency × requests > clients × duration). "
            "The load generator itself was stalled during the point, so they describe the stall, not "
            "the service; its request count stands, its rate is a lower bound.",
        ]
    limit = results["limit"]
    lines += [
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| L: pgbench -M prepared, the SQL of one transition ({limit['round_trips']} round trips) on "
        f"{limit['cases']:,} real cases | "
        f"{limit['tps']:.0f} tps at {limit['best_clients']} clients ({limit['by_clients']}) |",
        f"| transitions with API keys, best | {results['transition_best_rps']:.0f} req/s = "
        f"**{results['ratio_to_limit']:.0%} of L**, "
        f"{results['transition_best_rps'] / results['bare_best_rps']:.0%} of the bare reference |",
        *(
            [
                f"| transitions with JWTs, best | {results['jwt_transition_best_rps']:.0f} req/s = "
                f"**{results['jwt_ratio_to_limit']:.0%} of L**, "
                f"{results['jwt_transition_best_rps'] / results['bare_best_rps']:.0%} of the bare reference |"
            ]
            if results.get("jwt_transition_best_rps") is not None
            else []
        ),
        f"| the bare FastAPI + asyncpg reference (the same SQL), best | {results['bare_best_rps']:.0f} "
        f"req/s = {results['bare_ratio_to_limit']:.0%} of L |",
        f"| HTTP ceiling (GET /health/ping), best | {results['ping_best_rps']:.0f} req/s |",
        f"| audit verify ({results['verify']['checked']:,} records) | {results['verify']['seconds']:.1f} s, "
        f"{results['verify']['records_per_s']:,.0f} records/s, valid: {results['verify']['valid']} |",
        "| memory per worker after the run (RSS / peak) | "
        + ", ".join(f"{m['rssMB']} / {m['peakMB']} MB" for m in results["memory"])
        + " |",
    ]
    if "targets" in results:
        lines += ["", *targets.markdown(results["targets"])]
    return "\n".join(lines) + "\n"


def chart(results: dict[str, Any], path: Path) -> None:
    """Throughput and p99 against concurrency, one line per endpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 6.4))
    colours: dict[str, Any] = {}
    for ep in results["endpoints"]:
        xs = [r["concurrency"] for r in ep["results"]]
        # An endpoint measured with JWTs: its API-key twin's colour, dashed.
        twin = ep["name"].removesuffix("_jwt")
        style: dict[str, Any] = {"marker": "o", "label": ep["label"]}
        if twin != ep["name"] and twin in colours:
            style |= {"color": colours[twin], "linestyle": "--", "marker": "s"}
        (line,) = left.plot(xs, [r["rps"] for r in ep["results"]], **style)
        colours[ep["name"]] = line.get_color()
        right.plot(
            xs, [r["latency_us"]["p99"] / 1000 for r in ep["results"]], **{**style, "color": line.get_color()}
        )
    left.axhline(results["limit"]["tps"], color="grey", linestyle="--", label="L (pgbench, transition SQL)")
    left.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="requests/s", title="Throughput")
    right.axhline(50, color="red", linestyle=":", label="p99 target 50 ms")
    right.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="p99 latency (ms)", title="p99")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
    # One legend for both, under them, where it hides no line.
    lines: dict[str, Any] = {}
    for ax in (left, right):
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            lines.setdefault(label, handle)
    # Two columns: the endpoints' labels are long, and three columns ran off the figure's edges.
    fig.legend(list(lines.values()), list(lines), loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.suptitle(f"rj-casework on the national data set, {results['date']}", fontsize=10)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.savefig(path, dpi=110)


# --- the run ------------------------------------------------------------------------------------


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark rj-casework against PostgreSQL's own limit")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("RJ_BENCH_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--workers", type=int, default=int(os.environ.get("RJ_WORKERS", "2")))
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the national data set")
    parser.add_argument("--database", help="use this already loaded database (kept afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the database made for the run")
    parser.add_argument(
        "--only",
        help="comma-separated endpoints to measure, of "
        + ", ".join(ENDPOINT_NAMES)
        + " (default: all; the moves with API keys, the bare reference and the ceiling always)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the first worker during transitions")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)
    for tool in ("wrk", "pgbench"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed (apt-get install wrk postgresql-client)")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="rj-bench-"))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    database = args.database or f"rj_bench_{os.getpid()}"
    url = pg_url(args.admin_url, database)
    env = {**os.environ, "RJ_DATABASE_URL": url, "RJ_NATIONAL_SCALE": str(args.scale)}
    started = time.monotonic()
    load_at_start = os.getloadavg()
    server: Server | None = None
    side: Server | None = None
    try:
        if not args.database:
            log(f"creating database {database}")
            await create_database(args.admin_url, database)
            run_cli(["migrate"], env, work)
            log(f"loading the national data set (scale {args.scale})")
            t = time.monotonic()
            run_cli(["demo", "--scale", "national"], env, work)
            load_seconds = time.monotonic() - t
            shutil.copy(work / "national-keys.json", work / "keys.json")
        else:
            load_seconds = 0.0
            keys_path = Path(os.environ.get("RJ_BENCH_KEYS", "national-keys.json"))
            shutil.copy(keys_path, work / "keys.json")
            log(f"vacuumed the tables earlier runs wrote to in {await vacuum(url):.0f} s")
        keys = json.loads((work / "keys.json").read_text())
        dataset = await counts(url)
        openapi = json.loads((ROOT / "openapi" / "openapi.json").read_text())
        has_rep_route = "/reps/{rep_id}/tasks" in openapi.get("paths", {})
        rep_route = "/reps/{rep_id}/tasks" if has_rep_route else "/tasks?assigneeId={rep_id}&status=open"
        endpoints = endpoints_measured(rep_route, args.only)
        provider = IdentityProvider.create(work)
        lifetime = token_lifetime(len(endpoints) * len(concurrencies), args.duration)
        tokens = provider.practitioner_tokens(keys["practitioners"], lifetime)
        log(f"signed a JWT for each of {len(tokens)} practitioners, valid for {lifetime}")
        log("preparing request lists")
        moves = [e.name for e in endpoints if e.name in MOVES]
        data, moved = await prepare(url, keys, tokens, work, concurrencies, rep_route, moves)
        data["case_list_unkept"] = data["case_list"]
        port = free_port()
        server = Server(url, port, args.workers, work, settings=provider.server_settings())
        log(f"starting the server with {args.workers} workers on port {port}")
        server.start()
        base = f"http://127.0.0.1:{port}"
        # A short warm-up, so every worker has its connections and prepared statements.
        run_wrk(base, data["case_read"][0], 8, 3, work, "warm")
        bases = {"service": base}
        # The bare reference's points alternate with the transitions' (with API keys, then with
        # JWTs) at each concurrency, so that they meet the same moment of a shared machine. It is
        # started for each of its points and stopped after (both at once would hold more
        # connections than the server allows).
        paired = [e for e in endpoints if e.name in MOVES]
        points = [(ep, n) for n in range(len(concurrencies)) for ep in paired]
        points += [
            (ep, n) for ep in endpoints if ep not in paired for n in range(len(ep.clients or concurrencies))
        ]
        for ep, n in points:
            c = (ep.clients or concurrencies)[n]
            if ep.server != "service":
                module, settings, warm = SIDE_SERVERS[ep.server]
                side = Server(url, free_port(), args.workers, work, module=module, settings=settings)
                side.start()
                bases[ep.server] = f"http://127.0.0.1:{side.port}"
                run_wrk(bases[ep.server], data[warm][0], 8, 3, work, f"warm-{ep.server}")
            # Each point starts right after a checkpoint, as each pgbench run does: a move's first
            # change of a page since a checkpoint logs the whole page, and a checkpoint that
            # max_wal_size sets off in the middle of a point would otherwise decide its figures.
            await checkpoint(url)
            tag = f"{ep.name}-{c}-{uuid.uuid4().hex[:6]}"
            profiler = None
            if args.profile and ep.name == "transitions" and c == max(concurrencies):
                pid = server.worker_pids()[0]
                profiler = subprocess.Popen(
                    [
                        str(VENV_BIN / "py-spy"),
                        "record",
                        "-p",
                        str(pid),
                        "-d",
                        str(args.duration),
                        "-o",
                        str(Path(args.out) / "profile-transitions.svg"),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            result = run_wrk(bases[ep.server], data[ep.name][n], c, args.duration, work, tag)
            if profiler is not None:
                profiler.wait(timeout=60)
            ids = result.pop("ok_ids")
            if ep.audited:
                result["audit"] = await audit_check(url, ids, ep.audited)
            ep.results.append(result)
            lat = result["latency_us"]
            log(
                f"{ep.name:15} c={c:<3} {result['rps']:8.0f} req/s  p50 {lat['p50'] / 1000:6.1f}  "
                f"p99 {lat['p99'] / 1000:6.1f} ms  non-2xx {result['other']}  "
                + (f"audited {result['audit']['audited']}/{result['audit']['ok']}" if ep.audited else "")
                + ("" if result["latency_consistent"] else f"  {INCONSISTENT} latency figures inconsistent")
            )
            time.sleep(1)
            if side is not None:
                side.stop()
                side = None
        memory = server.memory()
        log("verifying the whole audit trail through GET /audit/verify")
        t = time.monotonic()
        r = httpx.get(
            f"{base}/audit/verify", headers={"Authorization": f"Bearer {keys['auditor']}"}, timeout=600
        )
        verify_seconds = time.monotonic() - t
        verify = r.json()
        memory_after_verify = server.memory()
        server.stop()
        server = None
        log("capturing the SQL of one transition")
        pause, resume, case_id = await capture_transition(url, keys)
        script_text, variables = pgbench_script(pause, resume, case_id)
        script = work / "transition.sql"
        script.write_text(script_text)
        (Path(args.out) / "transition-pgbench.sql").write_text(script_text)
        pg_clients = [1, 2, 4, 8, 16, 32]
        pg_cases = await choose_pgbench_cases(url, PGBENCH_CASES, moved)
        log(f"pgbench moves {pg_cases} real cases the service did not move")
        by_clients: dict[int, float] = {}
        try:
            if pg_cases < 10 * max(pg_clients):
                raise SystemExit(f"only {pg_cases} cases for pgbench to move: load the data set again")
            for c in pg_clients:
                # Each run writes its audit seqs from a base of its own: the chains stay unique.
                base = PGBENCH_FIRST_SEQ * (len(by_clients) + 1)
                await checkpoint(url)
                by_clients[c] = run_pgbench(
                    url,
                    database,
                    script,
                    variables,
                    clients=c,
                    cases=pg_cases,
                    duration=args.duration,
                    base=base,
                )
                log(f"pgbench c={c:<3} {by_clients[c]:8.0f} tps")
        except SystemExit as failed:
            log(f"pgbench stopped: {failed}")
            if not by_clients:
                by_clients[1] = float("nan")
        finally:
            await restore_pgbench_cases(url)
        best_clients = max(by_clients, key=lambda c: by_clients[c])
        best = best_rps(endpoints, "transitions")
        jwt_best = best_rps(endpoints, "transitions_jwt")
        bare_best = best_rps(endpoints, "bare")
        limit_tps = by_clients[best_clients]
        results: dict[str, Any] = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "conditions": {
                "cpus": os.cpu_count(),
                "workers": args.workers,
                "duration_s": args.duration,
                "concurrency": concurrencies,
                "python": platform.python_version(),
                "postgres": await server_version(url),
                "load_average_start": load_at_start,
                "load_average_end": os.getloadavg(),
                "note": "a shared machine: compare ratios within one run, not absolute figures across runs",
                "commit": subprocess.run(
                    ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
                ).stdout.strip(),
            },
            "dataset": dataset,
            "load_seconds": round(load_seconds, 1),
            "endpoints": [{"name": e.name, "label": e.label, "results": e.results} for e in endpoints],
            "limit": {
                "tps": by_clients[best_clients],
                "best_clients": best_clients,
                "by_clients": {str(c): round(v) for c, v in by_clients.items()},
                "round_trips": len(pause),
                "cases": pg_cases,
                "statements": {"pause": [q for q, _ in pause], "resume": [q for q, _ in resume]},
            },
            "transition_best_rps": best,
            "ratio_to_limit": best / limit_tps,
            # None when the run left the moves with JWTs out (`--only`)
            "jwt_transition_best_rps": jwt_best,
            "jwt_ratio_to_limit": None if jwt_best is None else jwt_best / limit_tps,
            "bare_best_rps": bare_best,
            "bare_ratio_to_limit": bare_best / limit_tps,
            "ping_best_rps": best_rps(endpoints, "ping"),
            "verify": {
                "valid": verify.get("valid"),
                "checked": verify.get("checked", 0),
                "seconds": round(verify_seconds, 2),
                "records_per_s": verify.get("checked", 0) / verify_seconds if verify_seconds else 0,
            },
            "memory": memory,
            "memory_after_verify": memory_after_verify,
            "seconds": round(time.monotonic() - started),
        }
        results["targets"] = targets.judge(results)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
        out = Path(args.out)
        (out / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        (out / f"{stamp}.md").write_text(markdown(results))
        chart(results, out / f"{stamp}.png")
        (out / "latest.md").write_text(markdown(results))
        shutil.copy(out / f"{stamp}.png", out / "latest.png")
        print(markdown(results))
        log(f"results in {out}/{stamp}.json, .md and .png")
        return 0
    finally:
        for running in (server, side):
            if running is not None:
                running.stop()
        if not args.database and not args.keep:
            log(f"dropping database {database}")
            await drop_database(args.admin_url, database)
        shutil.rmtree(work, ignore_errors=True)


def endpoints_measured(rep_route: str, only: str | None) -> list[Endpoint]:
    """The endpoints a run measures: all, or those `only` names with the moves (API keys), the
    bare reference and the ceiling, which every run measures."""
    endpoints = [
        Endpoint("transitions", TRANSITIONS_LABEL, audited="case."),
        Endpoint("transitions_jwt", TRANSITIONS_LABEL + JWT_LABEL, audited="case."),
        Endpoint("referrals", "POST /referrals", audited="case.referred"),
        Endpoint("case_read", "GET /cases/{id}"),
        Endpoint("case_read_jwt", "GET /cases/{id}" + JWT_LABEL),
        Endpoint("rep_tasks", "GET " + rep_route.replace("{rep_id}", "{id}")),
        Endpoint("case_list", "GET /cases?state=assessment&prisonId=…"),
        Endpoint("case_list_unkept", UNKEPT_LABEL, server="unkept"),
        Endpoint("case_search", "GET /cases?q={first}+{last}"),
        Endpoint("ping", "GET /health/ping (HTTP ceiling)"),
        Endpoint("bare", BARE_LABEL, audited="case.", server="bare"),
        *(
            Endpoint(
                name,
                f"GET /reports/{report}"
                + ("?prisonId=…" if per_prison else " (the whole estate)")
                + ", a year",
                clients=REPORT_CLIENTS,
            )
            for name, (report, per_prison) in REPORTS.items()
        ),
    ]
    if not only:
        return endpoints
    wanted = set(only.split(","))
    unknown = wanted - set(ENDPOINT_NAMES)
    if unknown:
        raise SystemExit(f"--only: no endpoint {', '.join(sorted(unknown))} (of {', '.join(ENDPOINT_NAMES)})")
    wanted |= {"transitions", "ping", "bare"}
    return [e for e in endpoints if e.name in wanted]


def best_rps(endpoints: list[Endpoint], name: str) -> float | None:
    """An endpoint's best throughput over its points; None when the run did not measure it."""
    rates = [r["rps"] for e in endpoints if e.name == name for r in e.results]
    return max(rates) if rates else None


async def counts(url: str) -> dict[str, int]:
    """Rows per table of the data set."""
    async with connection(url) as conn:
        out = {}
        for table in ("rj_case", "party", "consent", "audit_record", "task", "rep", "api_client"):
            out[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 - fixed names
        return out


# The tables a run writes to: the moves, referrals and pgbench's copies leave dead rows behind.
CHURNED = ("rj_case", "party", "consent", "case_rep", "audit_record", "outbox_event", "task")


async def vacuum(url: str) -> float:
    """VACUUM (ANALYZE) the tables earlier runs wrote to, so that a reused database starts as
    autovacuum would keep it (some PostgreSQL set-ups, CI's among them, run with it off); the
    seconds it took."""
    started = time.monotonic()
    async with connection(url) as conn:
        for table in CHURNED:
            await conn.execute(f"VACUUM (ANALYZE) {table}")
    return time.monotonic() - started


async def server_version(url: str) -> str:
    async with connection(url) as conn:
        return str(await conn.fetchval("SHOW server_version"))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
