"""`rj-casework serve` runs the timed work itself when `RJ_TIMED_WORK` says so (by default on
SQLite): the real server, alone, resumes a case whose cooling-off has ended. With `separate` it
leaves that to `rj-casework worker`. Several server processes run one timed-work runner."""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings, timed_work_in_server
from app.db import Database
from app.migrate import upgrade
from tests.mediation import audit_of
from tests.server import CLI, REPO, Server
from tests.support import Api, Keys, until

# The runner looks for work this often here, so that a case falls due and is resumed in moments.
POLL_SECONDS = "0.2"
COOLING_OFF_SECONDS = 2
# How long the server is given to resume a case once due: many passes.
RESUME_WITHIN_SECONDS = 15
STARTUP_SECONDS = 60


def started_lines(log: Path) -> list[str]:
    """The lines `serve` printed to say what it started."""
    return [line for line in log.read_text().splitlines() if line.startswith("Started: ")]


def runner_pids(log: Path) -> list[int]:
    """The server processes that said (at DEBUG) that they run the timed work, in order."""
    said = "the timed-work runner started in server process "
    return [int(line.split(said)[1]) for line in log.read_text().splitlines() if said in line]


async def wait_for_line(log: Path, found: Any, seconds: float = STARTUP_SECONDS) -> None:
    """Wait until `found(log)` is true."""
    deadline = time.monotonic() + seconds
    while not found(log):
        assert time.monotonic() < deadline, log.read_text()
        await asyncio.sleep(0.1)


async def pause_briefly(api: Api) -> dict[str, Any]:
    """A case in assessment, paused until a moment from now."""
    case = await api.to_state("assessment")
    await api.must_fire(case["id"], "pause", until=until(seconds=COOLING_OFF_SECONDS), reason="cooling off")
    return case


async def state_after(api: Api, case_id: str, seconds: float, *, unless: str | None = None) -> str:
    """The case's state once `seconds` have passed, or as soon as it is `unless`."""
    deadline = time.monotonic() + seconds
    while True:
        state = str((await api.case(case_id))["state"])
        if state == unless or time.monotonic() >= deadline:
            return state
        await asyncio.sleep(0.2)


async def resumed_by_timed_work(api: Api, case_id: str) -> bool:
    """Whether the case went back to assessment, by the service's own hand (not a user's)."""
    state = await state_after(api, case_id, COOLING_OFF_SECONDS + RESUME_WITHIN_SECONDS, unless="assessment")
    records = await audit_of(api, case_id, "case.resume")
    return state == "assessment" and [r.actor["clientId"] for r in records] == [None]


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A freshly migrated SQLite database of the test's own, as `make run` makes one."""
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'rj.db'}")
    await upgrade(settings)
    db = Database(settings)
    yield db
    await db.dispose()


def serving(url: str, log: Path, **env: str) -> Server:
    """`rj-casework serve` on `url`, its runner polling often, with `env` over the test defaults."""
    return Server(url, log=log, env={"RJ_TIMED_WORK_POLL_SECONDS": POLL_SECONDS, **env})


class TestTimedWorkInTheServer:
    async def test_on_sqlite_the_server_alone_resumes_a_case_after_cooling_off(
        self, sqlite_db: Database, tmp_path: Path
    ) -> None:
        log = tmp_path / "server.log"
        url = sqlite_db.engine.url.render_as_string(hide_password=False)
        with serving(url, log, RJ_TIMED_WORK="auto", RJ_LOG_LEVEL="INFO") as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                api = Api(http, await Keys.create(sqlite_db), sqlite_db)
                case = await pause_briefly(api)
                assert await resumed_by_timed_work(api, case["id"])
        assert started_lines(log) == [
            f"Started: API on {server.url} (docs at /docs), timed work in this process; 1 server process."
        ]
        # The one line says it, first; no start-up notes of uvicorn or alembic beside it.
        assert log.read_text().splitlines()[0] == started_lines(log)[0]

    async def test_in_server_runs_it_on_the_suites_database(
        self, db: Database, keys: Keys, database_url: str, tmp_path: Path
    ) -> None:
        with serving(database_url, tmp_path / "server.log", RJ_TIMED_WORK="in-server") as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                api = Api(http, keys, db)
                case = await pause_briefly(api)
                assert await resumed_by_timed_work(api, case["id"])

    async def test_separate_leaves_the_timed_work_to_the_worker_command(
        self, db: Database, keys: Keys, database_url: str, tmp_path: Path
    ) -> None:
        log = tmp_path / "server.log"
        with serving(database_url, log, RJ_TIMED_WORK="separate") as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                api = Api(http, keys, db)
                case = await pause_briefly(api)
                # Ten times as long as a runner in the server takes to see a case due.
                assert await state_after(api, case["id"], COOLING_OFF_SECONDS + 2) == "on_hold"
                # It was due all along: one pass of `rj-casework worker` resumes it.
                worker = subprocess.run(
                    [str(CLI), "worker", "--once"],
                    env={**os.environ, "RJ_DATABASE_URL": database_url, "RJ_LOG_LEVEL": "WARNING"},
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert worker.returncode == 0, worker.stderr
                assert (await api.case(case["id"]))["state"] == "assessment"
        assert started_lines(log) == [
            f"Started: API on {server.url} (docs at /docs), no timed work (run it with rj-casework "
            "worker); 1 server process."
        ]


def parent_of(pid: int) -> int:
    """The parent process of `pid` (from /proc)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


class TestSeveralServerProcesses:
    async def test_one_server_process_runs_the_timed_work_and_its_replacement_takes_it_over(
        self, db: Database, keys: Keys, database_url: str, tmp_path: Path
    ) -> None:
        log = tmp_path / "server.log"
        env = {"RJ_TIMED_WORK": "in-server", "RJ_WORKERS": "2", "RJ_LOG_LEVEL": "DEBUG"}
        with serving(database_url, log, **env) as server:
            assert server.proc is not None
            await wait_for_line(log, started_lines)
            [line] = started_lines(log)
            said = f"Started: API on {server.url} (docs at /docs), timed work in server process "
            assert line.startswith(said) and line.endswith("; 2 server processes."), line
            first = int(line.removeprefix(said).split(";")[0])
            assert parent_of(first) == server.proc.pid
            assert runner_pids(log) == [first]
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                api = Api(http, keys, db)
                assert await resumed_by_timed_work(api, (await pause_briefly(api))["id"])

            os.kill(first, signal.SIGKILL)
            await wait_for_line(log, lambda path: len(runner_pids(path)) == 2)
            replacement = runner_pids(log)[1]
            assert replacement != first and parent_of(replacement) == server.proc.pid
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                api = Api(http, keys, db)
                assert await resumed_by_timed_work(api, (await pause_briefly(api))["id"])
            assert runner_pids(log) == [first, replacement]


class TestSetting:
    @pytest.mark.parametrize(
        ("timed_work", "database_url", "in_server"),
        [
            ("auto", "sqlite+aiosqlite:///./rj.db", True),
            ("auto", "postgresql+asyncpg://rj@db:5432/rj", False),
            ("in-server", "postgresql+asyncpg://rj@db:5432/rj", True),
            ("separate", "sqlite+aiosqlite:///./rj.db", False),
        ],
    )
    def test_auto_runs_it_in_the_server_on_sqlite_only(
        self, timed_work: str, database_url: str, in_server: bool
    ) -> None:
        settings = Settings(timed_work=timed_work, database_url=database_url)  # type: ignore[arg-type]
        assert timed_work_in_server(settings) is in_server
