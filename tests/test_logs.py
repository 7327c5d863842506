"""What the service's processes log: `RJ_LOG_LEVEL` for the service's own messages, in the
server and in the timed-work runner; the workflow and migration libraries' notes on their own
workings only when debugging."""

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import col

from app import logs
from app.config import Settings
from app.db import Database
from app.models.cases import Case
from tests.support import Api, until


def _timed_work_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`rj-casework worker --once` in a process of its own, with `env` over this one's."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "--once"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


LIBRARIES = ("transitions", "alembic")


@pytest.fixture
def library_level() -> Iterator[None]:
    """Put the libraries' loggers back as the test found them."""
    levels = {name: logging.getLogger(name).level for name in LIBRARIES}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def test_a_move_at_info_logs_nothing_of_the_workflow_library(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    case = await api.to_state("assessment")
    with caplog.at_level(logging.INFO):
        await api.must_fire(case["id"], "pause", until=until(hours=6), reason="cooling off")
        await api.must_fire(case["id"], "resume")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("transitions")] == []


@pytest.mark.parametrize(
    ("level", "library"),
    [
        ("DEBUG", logging.DEBUG),
        ("info", logging.WARNING),
        ("WARNING", logging.WARNING),
        ("ERROR", logging.ERROR),
    ],
)
def test_the_libraries_speak_below_warning_only_when_debugging(
    library_level: None, level: str, library: int
) -> None:
    logs.configure(level)
    assert {name: logging.getLogger(name).getEffectiveLevel() for name in LIBRARIES} == dict.fromkeys(
        LIBRARIES, library
    )


def test_an_unknown_level_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="RJ_LOG_LEVEL"):
        logs.configure("LOUD")
    with pytest.raises(
        ValidationError, match="'LOUD' is not a log level: DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ):
        Settings(log_level="LOUD")
    assert Settings(log_level="warning").log_level == "WARNING"


@pytest.mark.parametrize(
    ("variable", "value", "told"),
    [
        (
            "RJ_LOG_LEVEL",
            "LOUD",
            "RJ_LOG_LEVEL: 'LOUD' is not a log level: DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
        ("RJ_MAX_BODY_BYTES", "lots", "RJ_MAX_BODY_BYTES: Input should be a valid integer"),
        ("RJ_TIMED_WORK", "sometimes", "RJ_TIMED_WORK: Input should be 'auto', 'in-server' or 'separate'"),
    ],
)
def test_the_command_line_refuses_a_bad_setting_in_one_line(
    settings: Settings, variable: str, value: str, told: str
) -> None:
    run = _timed_work_once({"RJ_DATABASE_URL": settings.database_url, variable: value})
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert run.stderr.startswith("rj-casework: " + told)


async def test_the_timed_work_logs_at_the_configured_level(
    api: Api, db: Database, settings: Settings
) -> None:
    case = await api.to_state("shuttle_mediation")
    await api.must_fire(case["id"], "pause", until=until(hours=6), reason="cooling off")
    async with db.transaction() as session:
        await session.execute(
            update(Case)
            .where(col(Case.id) == uuid.UUID(case["id"]))
            .values(paused_until=datetime(2020, 1, 1, tzinfo=UTC))
        )
    run = _timed_work_once({"RJ_DATABASE_URL": settings.database_url, "RJ_LOG_LEVEL": "INFO"})

    assert run.returncode == 0, run.stderr
    assert "resumed 1 case(s) after cooling off" in run.stderr
    assert "timed work pass: " in run.stderr
    assert "transitions" not in run.stderr
    assert (await api.case(case["id"]))["state"] == "shuttle_mediation"

    quiet = _timed_work_once({"RJ_DATABASE_URL": settings.database_url, "RJ_LOG_LEVEL": "WARNING"})
    assert quiet.returncode == 0 and quiet.stderr == ""
