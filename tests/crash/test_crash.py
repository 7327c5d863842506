"""Crashes under load: the real server (`rj-casework serve`) killed with SIGKILL mid-load, and
PostgreSQL stopped in immediate mode mid-load. Every acknowledged write must survive with its
audit record and event, nothing may be half-written, and the audit chains must verify.

The kill test runs on the suite's database (SQLite in the SQLite pass, PostgreSQL in the
PostgreSQL pass); the database-stop test on a PostgreSQL instance of its own."""

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.migrate import upgrade
from tests.crash.load import Tally, check_durable, run_load
from tests.crash.postgres import OwnPostgres, bindir
from tests.server import Server
from tests.support import Keys, referral_body

# The figures each test last saw, printed at the end of the run.
FIGURES: dict[str, str] = {}


def no_server_errors_but_503(tally: Tally) -> None:
    """No 500s: the only server errors allowed are 503 problems while the database is away."""
    assert {s for s in tally.statuses if s >= 500} <= {503}, tally.statuses
    for problem in tally.problems:
        assert '"errorCode":"SERVICE_UNAVAILABLE"' in problem["body"], problem


async def still_serves(server: Server, keys: Keys) -> None:
    """After the crash the service answers, accepts a write and its trail verifies."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        assert (await c.get("/health")).status_code == 200
        r = await c.post("/referrals", json=referral_body(), headers=keys.practitioner.headers)
        assert r.status_code == 201, r.text
        r = await c.get("/audit/verify", headers=keys.admin.headers)
        assert r.json()["valid"] is True, r.text


class TestServerKilled:
    async def test_every_acknowledged_write_survives_sigkill(
        self, database_url: str, db: Database, keys: Keys, tmp_path: Path
    ) -> None:
        server = Server(database_url, log=tmp_path / "server.log").start()
        try:

            async def kill(_tally: Tally) -> None:
                await asyncio.to_thread(server.kill)

            tally = await run_load(server.url, keys.practitioner, until_acked=80, then=kill)
            assert tally.transport_errors > 0, "the kill did not land mid-load"
            no_server_errors_but_503(tally)
            server.start()
            counts = await check_durable(db, tally)
            await still_serves(server, keys)
        finally:
            server.stop()
        FIGURES[f"kill on {db.engine.dialect.name}"] = (
            f"{tally.tried} requests, {len(tally.acked)} acknowledged writes, all found; "
            f"{tally.transport_errors} cut off by the kill; {counts['checked']} audit records verified"
        )


@pytest.fixture
def own_postgres(is_postgres: bool) -> Iterator[OwnPostgres]:
    """A PostgreSQL of this test's own (in the PostgreSQL pass only)."""
    if not is_postgres:
        pytest.skip("runs in the PostgreSQL pass")
    if bindir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs the PostgreSQL programs (initdb, pg_ctl) for the database-stop test")
        pytest.skip("no PostgreSQL programs installed")
    pg = OwnPostgres().init()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


class TestDatabaseStopped:
    async def test_outage_is_503_and_the_service_recovers_by_itself(
        self, own_postgres: OwnPostgres, tmp_path: Path
    ) -> None:
        settings = Settings(database_url=own_postgres.url)
        await upgrade(settings)
        # The test's own pool outlives the restart: it pings, so the checks after it get live
        # connections (the server's pool does not ping; a broken connection is replaced).
        db = Database(settings.model_copy(update={"db_pool_pre_ping": True}))
        keys = await Keys.create(db)
        server = Server(own_postgres.url, log=tmp_path / "server.log").start()
        seen: dict[str, int] = {}
        try:

            async def outage(tally: Tally) -> None:
                acked_before = len(tally.acked)
                await asyncio.to_thread(own_postgres.stop_immediate)
                seen["acked at stop"] = acked_before
                await asyncio.sleep(1.5)
                seen["503 during outage"] = tally.statuses[503]
                await asyncio.to_thread(own_postgres.start)
                restarted = len(tally.acked)
                async with asyncio.timeout(30):
                    while len(tally.acked) <= restarted + 8:
                        await asyncio.sleep(0.05)
                seen["acked after restart"] = len(tally.acked) - restarted

            tally = await run_load(server.url, keys.practitioner, until_acked=60, then=outage)
            no_server_errors_but_503(tally)
            assert seen["503 during outage"] > 0, "no request met the outage"
            assert seen["acked after restart"] > 0
            assert server.proc is not None and server.proc.poll() is None, "the server died"
            counts = await check_durable(db, tally)
            await still_serves(server, keys)
        finally:
            server.stop()
            await db.dispose()
        assert "Traceback" not in (tmp_path / "server.log").read_text()
        FIGURES["postgresql stopped"] = (
            f"{tally.tried} requests, {len(tally.acked)} acknowledged writes, all found; "
            f"{tally.statuses[503]} answered 503 during the outage, 0 answered 500; "
            f"{counts['checked']} audit records verified"
        )


def test_report_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Print what the crash tests saw (pytest -s shows it)."""
    with capsys.disabled():
        for name, figure in FIGURES.items():
            print(f"\ncrash {name}: {figure}")
