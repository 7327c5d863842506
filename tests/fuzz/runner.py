"""Fuzz the real service (`rj-casework serve`) from its own OpenAPI document with schemathesis:
every phase (examples, coverage, fuzzing, stateful), every check, as one role on a seeded database.

python -m tests.fuzz.runner [--backend auto|postgresql|sqlite] [--role practitioner|rep] [--max-examples N]
Exits non-zero on any server error or schema mismatch; `make test-fuzz` runs it.
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import Database
from app.migrate import upgrade
from tests.conftest import _create_pg_database, _drop_pg_database
from tests.server import REPO, Server
from tests.support import Api, Keys

PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def seed(db: Database, url: str, role: str) -> str:
    """Reps, keys and a case in every state; the key of `role`."""
    keys = await Keys.create(db)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        api = Api(client, keys, db)
        rep = await api.rep(maxActiveCases=50)
        for state in (
            "referred",
            "assessment",
            "shuttle_mediation",
            "letter_exchange",
            "conference",
            "follow_up",
            "on_hold",
            "closed",
        ):
            case = await api.to_state(state)
            if state not in ("closed", "referred"):
                r = await api.assign(case["id"], [rep["id"]])
                assert r.status_code == 200, r.text
    if role == "rep":
        return (await keys.rep(uuid.UUID(rep["id"]))).token
    return getattr(keys, role).token


def _postgres_url() -> str | None:
    """The shared PostgreSQL to make a database on, when there is one."""
    url = os.environ.get("RJ_TEST_DATABASE_URL") or PG_DEFAULT
    host = make_url(url)
    with socket.socket() as s:
        s.settimeout(2)
        if s.connect_ex((host.host or "127.0.0.1", host.port or 5432)) == 0:
            return url
    if os.environ.get("CI") == "true":
        raise SystemExit("fuzz: CI=true needs PostgreSQL, which is not reachable")
    return None


def summary(report_dir: Path, label: str) -> str:
    """One line with what the run tried and found."""
    found = sorted(report_dir.glob("*.json"))
    if not found:
        return f"fuzz {label}: schemathesis wrote no report (see its output above)"
    report = json.loads(found[-1].read_text())
    cases = report["test_cases"]
    return (
        f"fuzz {label}: {report['operations']['tested']} operations, "
        f"phases {', '.join(k for k, v in report['phases'].items() if v['status'] == 'success')}; "
        f"{cases['generated']} test cases, {cases['unique_failures']} failures, "
        f"{len(report['errors'])} errors, in {report['running_time']:.0f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["auto", "sqlite", "postgresql"], default="auto")
    parser.add_argument("--role", choices=["practitioner", "rep", "manager", "admin"], default="practitioner")
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("RJ_FUZZ_EXAMPLES", "25")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("RJ_FUZZ_SEED", "20261123")))
    args, rest = parser.parse_known_args()
    work = Path(tempfile.mkdtemp(prefix="rj-fuzz-"))
    admin_url = _postgres_url() if args.backend in ("auto", "postgresql") else None
    if args.backend == "postgresql" and admin_url is None:
        raise SystemExit("fuzz: PostgreSQL is not reachable")
    if admin_url is None:
        db_url = f"sqlite+aiosqlite:///{work}/fuzz.db"
    else:
        name = f"rjfuzz_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        asyncio.run(_create_pg_database(admin_url, name))
        db_url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    label = f"as {args.role} on {make_url(db_url).get_backend_name()}"
    try:
        settings = Settings(database_url=db_url)
        asyncio.run(upgrade(settings))
        with Server(db_url, log=work / "server.log") as server:
            token = asyncio.run(_seeded(settings, server.url, args.role))
            command = [
                str(Path(sys.executable).parent / "schemathesis"),
                "--config-file",
                str(Path(__file__).with_name("schemathesis.toml")),
                "run",
                f"{server.url}/openapi.json",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--checks",
                "all",
                # Replaced by hooks.well_formed_data_passes_validation.
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                str(args.max_examples),
                "--seed",
                str(args.seed),
                "--report",
                "json",
                "--report-dir",
                str(work / "report"),
                *rest,
            ]
            print(f"fuzz {label}: {' '.join(command[3:])}", flush=True)
            code = subprocess.call([*command, "-H", f"Authorization: Bearer {token}"], cwd=REPO)
        print(summary(work / "report", label))
        if code:
            print(f"fuzz {label}: failed; the server's log is {work / 'server.log'}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        return code
    finally:
        if admin_url is not None:
            asyncio.run(_drop_pg_database(admin_url, make_url(db_url).database or ""))


async def _seeded(settings: Settings, url: str, role: str) -> str:
    db = Database(settings)
    try:
        return await seed(db, url, role)
    finally:
        await db.dispose()


if __name__ == "__main__":
    sys.exit(main())
