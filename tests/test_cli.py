"""The `rj-casework` command line, run in-process against the test database."""

import asyncio
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.audit.models import GLOBAL_CHAIN, AuditRecord
from app.auth.models import ApiClient
from app.cli import main
from app.config import Settings, get_settings
from app.db import Database
from tests.support import Api, until


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line in a thread of its own (it starts its own event loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class TestClientsCreate:
    async def test_prints_only_the_key_and_stores_only_its_hash(
        self, settings: Settings, db: Database, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = await run(
            capsys,
            "clients",
            "create",
            "--name",
            "Incident reporting",
            "--role",
            "referrer",
            "--prison",
            "MDI",
        )

        assert code == 0, err
        key = out.strip()
        assert out == key + "\n"
        assert key.startswith("rjk_") and len(key) > 40
        async with db.transaction() as session:
            stored = (
                await session.execute(select(ApiClient).where(col(ApiClient.name) == "Incident reporting"))
            ).scalar_one()
            records = list(
                (
                    await session.execute(select(AuditRecord).where(col(AuditRecord.chain) == GLOBAL_CHAIN))
                ).scalars()
            )
        assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert (stored.role, stored.prisons, stored.all_prisons) == ("referrer", ["MDI"], False)
        assert key not in json.dumps(stored.model_dump(mode="json"))
        assert [r.action for r in records] == ["client.created"]
        assert key not in json.dumps(records[0].after) and stored.key_hash not in json.dumps(records[0].after)
        # The printed key works.
        r = await client.get("/cases", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200

    async def test_each_key_is_different(
        self, settings: Settings, db: Database, capsys: pytest.CaptureFixture[str]
    ) -> None:
        keys = set()
        for _ in range(2):
            code, out, _err = await run(
                capsys, "clients", "create", "--name", "n", "--role", "admin", "--all-prisons"
            )
            assert code == 0
            keys.add(out.strip())
        assert len(keys) == 2

    @pytest.mark.parametrize(
        ("argv", "reason"),
        [
            (["--role", "wizard", "--prison", "MDI"], "unknown role 'wizard'"),
            (["--role", "practitioner"], "a client needs a caseload"),
            (["--role", "practitioner", "--prison", "mdi"], "not a prison id: mdi"),
            (["--role", "rep", "--prison", "MDI"], "a rep client must be bound to a rep record"),
            (["--role", "rep", "--prison", "MDI", "--rep-id", "7"], "--rep-id '7' is not a UUID"),
        ],
    )
    async def test_refuses_with_one_line(
        self,
        settings: Settings,
        db: Database,
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
        reason: str,
    ) -> None:
        code, out, err = await run(capsys, "clients", "create", "--name", "n", *argv)
        assert code == 1
        assert out == ""
        assert err.count("\n") == 1 and reason in err
        async with db.transaction() as session:
            assert (await session.execute(select(ApiClient))).first() is None


class TestUnmigratedDatabase:
    @pytest.fixture
    def empty_database(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("RJ_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
        get_settings.cache_clear()
        yield
        get_settings.cache_clear()

    @pytest.mark.parametrize(
        "argv",
        [
            ["audit", "verify"],
            ["worker", "--once"],
            ["clients", "create", "--name", "n", "--role", "admin", "--all-prisons"],
        ],
    )
    async def test_commands_exit_non_zero_with_one_line(
        self, empty_database: None, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        code, out, err = await run(capsys, *argv)
        assert code == 1
        assert out == ""
        assert err.count("\n") == 1
        assert err.startswith("rj-casework: the database is at revision none (empty)")
        assert "run `rj-casework migrate` first" in err

    async def test_migrate_then_makes_it_usable(
        self, empty_database: None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert (await run(capsys, "migrate"))[0] == 0
        code, out, _err = await run(capsys, "audit", "verify")
        assert code == 0
        assert out == "audit trail verifies: 0 records checked (0 redacted)\n"


class TestTimedWorkOnce:
    async def test_resumes_a_case_whose_cooling_off_has_ended(
        self, api: Api, capsys: pytest.CaptureFixture[str]
    ) -> None:
        clock.freeze(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        case = await api.to_state("conference")
        await api.must_fire(case["id"], "pause", until=until(hours=12), reason="cooling off")
        assert (await run(capsys, "worker", "--once"))[0] == 0
        assert (await api.case(case["id"]))["state"] == "on_hold"
        clock.advance(timedelta(hours=12))
        assert (await run(capsys, "worker", "--once"))[0] == 0
        assert (await api.case(case["id"]))["state"] == "conference"
