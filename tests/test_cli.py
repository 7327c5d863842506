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
from app.cli import main
from app.config import Settings, get_settings
from app.db import Database
from app.models.audit import GLOBAL_CHAIN, AuditRecord
from app.models.auth import ApiClient
from tests.support import Api, Keys, until


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


class TestClientsList:
    async def test_prints_each_client_and_its_status_but_never_a_key(
        self, keys: Keys, db: Database, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        clock.freeze(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
        r = await client.post(
            f"/clients/{keys.manager.client_id}/rotate", json={"overlapHours": 6}, headers=keys.admin.headers
        )
        new_key = r.json()["key"]
        await client.post(f"/clients/{keys.auditor.client_id}/revoke", headers=keys.admin.headers)

        code, out, err = await run(capsys, "clients", "list")

        assert code == 0, err
        header, *lines = out.splitlines()
        assert header.split() == ["ID", "NAME", "ROLE", "PRISONS", "REP", "ID", "CREATED", "STATUS"]
        by_id = {line.split()[0]: line for line in lines}
        assert len(lines) == 6
        async with db.transaction() as session:
            stored = list((await session.execute(select(ApiClient))).scalars())
        created = next(c.created_at for c in stored if c.id == keys.manager.client_id)
        assert by_id[str(keys.manager.client_id)].split()[1:] == [
            "test",
            "manager",
            "manager",
            "MDI",
            "-",
            *f"{created:%Y-%m-%d %H:%M}".split(),
            "rotating",
            "until",
            "2027-01-04",
            "15:00Z",
        ]
        assert by_id[str(keys.auditor.client_id)].endswith("revoked")
        assert by_id[str(keys.admin.client_id)].endswith("active")
        assert " all " in by_id[str(keys.admin.client_id)]
        assert " LEI,MDI " in by_id[str(keys.referrer.client_id)]
        for secret in [keys.manager.token, new_key, *(c.key_hash for c in stored)]:
            assert secret not in out


class TestClientsRevoke:
    async def test_the_key_stops_working_at_once_and_the_revocation_is_audited(
        self, keys: Keys, db: Database, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert (await client.get("/cases", headers=keys.manager.headers)).status_code == 200

        code, out, err = await run(capsys, "clients", "revoke", str(keys.manager.client_id))

        assert code == 0, err
        assert out == ""
        assert (await client.get("/cases", headers=keys.manager.headers)).status_code == 401
        async with db.transaction() as session:
            record = (
                await session.execute(select(AuditRecord).where(col(AuditRecord.action) == "client.revoked"))
            ).scalar_one()
        assert (record.chain, record.entity_id) == (GLOBAL_CHAIN, str(keys.manager.client_id))
        assert record.actor["name"] == "rj-casework"

    @pytest.mark.parametrize(
        ("argv", "reason"),
        [
            (["not-a-uuid"], "'not-a-uuid' is not a client id"),
            (["00000000-0000-4000-8000-000000000000"], "no client 00000000-0000-4000-8000-000000000000"),
        ],
    )
    async def test_refuses_with_one_line(
        self, keys: Keys, db: Database, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str
    ) -> None:
        code, out, err = await run(capsys, "clients", "revoke", *argv)

        assert code == 1
        assert out == ""
        assert err.count("\n") == 1 and reason in err

    async def test_a_revoked_client_is_refused_with_one_line(
        self, keys: Keys, db: Database, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await run(capsys, "clients", "revoke", str(keys.manager.client_id))

        code, out, err = await run(capsys, "clients", "revoke", str(keys.manager.client_id))

        assert code == 1
        assert out == "" and err.count("\n") == 1 and "already revoked" in err


class TestClientsRotate:
    async def test_prints_only_the_new_key_and_the_old_one_works_for_the_overlap(
        self, keys: Keys, db: Database, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        clock.freeze(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))

        code, out, err = await run(
            capsys, "clients", "rotate", str(keys.manager.client_id), "--overlap-hours", "3"
        )

        assert code == 0, err
        new_key = out.strip()
        assert out == new_key + "\n" and new_key.startswith("rjk_")
        assert err == "the previous key works until 2026-11-20 12:00:00Z\n"
        new = {"Authorization": f"Bearer {new_key}"}
        assert (await client.get("/cases", headers=new)).status_code == 200
        assert (await client.get("/cases", headers=keys.manager.headers)).status_code == 200
        clock.advance(timedelta(hours=3))
        assert (await client.get("/cases", headers=keys.manager.headers)).status_code == 401
        assert (await client.get("/cases", headers=new)).status_code == 200
        async with db.transaction() as session:
            stored = await session.get(ApiClient, keys.manager.client_id)
            record = (
                await session.execute(select(AuditRecord).where(col(AuditRecord.action) == "client.rotated"))
            ).scalar_one()
        assert stored is not None and stored.key_hash == hashlib.sha256(new_key.encode()).hexdigest()
        assert record.after is not None and record.after["overlapHours"] == 3
        assert new_key not in json.dumps(record.after)

    async def test_the_overlap_is_a_day_unless_stated(
        self, keys: Keys, db: Database, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
    ) -> None:
        clock.freeze(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))

        code, _out, err = await run(capsys, "clients", "rotate", str(keys.manager.client_id))

        assert code == 0, err
        assert err == "the previous key works until 2026-11-21 09:00:00Z\n"

    @pytest.mark.parametrize(
        ("extra", "reason"),
        [
            (["--overlap-hours", "721"], "the overlap is 0 to 720 hours"),
            (["--overlap-hours", "-1"], "0 to 720"),
        ],
    )
    async def test_refuses_an_overlap_out_of_range_with_one_line(
        self, keys: Keys, db: Database, capsys: pytest.CaptureFixture[str], extra: list[str], reason: str
    ) -> None:
        code, out, err = await run(capsys, "clients", "rotate", str(keys.manager.client_id), *extra)

        assert code == 1
        assert out == "" and err.count("\n") == 1 and reason in err
        async with db.transaction() as session:
            stored = await session.get(ApiClient, keys.manager.client_id)
        assert stored is not None and stored.previous_key_hash is None


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
