"""The limit L (`bench/runner.py`): pgbench replays the captured SQL of a real transition on real
cases of the data set, never on those the service's runs move, and leaves the data set exactly
as it found it."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.audit.service import verify
from app.config import Settings
from app.db import Database
from app.seed.national import load_national
from bench import runner


@pytest.fixture
def postgres_and_pgbench(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("pgbench replays on PostgreSQL")
    if shutil.which("pgbench") is None:
        pytest.skip("pgbench is not installed")


async def _rows(url: str, query: str) -> list[Any]:
    async with runner.connection(url) as conn:
        return [tuple(r) for r in await conn.fetch(query)]


@pytest.mark.usefixtures("postgres_and_pgbench")
async def test_pgbench_moves_real_cases_and_puts_them_back(
    db: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = settings.database_url
    await load_national(db, scale=0.002, keys_file=tmp_path / "keys.json", progress=False)
    keys = json.loads((tmp_path / "keys.json").read_text())
    monkeypatch.setenv("RJ_DATABASE_URL", url)  # the capture sets it; put back after the test
    # As served: a key looked up once is remembered for a while, so a move is the read of the
    # keys' revocation counter, then its transaction alone.
    monkeypatch.setenv("RJ_AUTH_CACHE_SECONDS", "5")
    pause, resume, captured = await runner.capture_transition(url, keys)
    assert [q.split()[0].upper() for q, _ in pause] == ["SELECT", "BEGIN", "SELECT", "WITH", "COMMIT"]
    assert "api_client_generation" in pause[0][0]
    script, variables = runner.pgbench_script(pause, resume, captured)
    path = tmp_path / "transition.sql"
    path.write_text(script)

    pausable = await _rows(
        url,
        f"SELECT id::text FROM rj_case WHERE state IN {runner.PAUSABLE} ORDER BY id",  # noqa: S608
    )
    moved = [r[0] for r in pausable[:20]]  # as if the service's runs had moved these
    cases_before = await _rows(url, "SELECT * FROM rj_case ORDER BY id")
    records_before = await _rows(url, "SELECT count(*), max(seq) FROM audit_record")
    events_before = await _rows(url, "SELECT count(*) FROM outbox_event")

    assert len(pausable) > 30
    chosen = await runner.choose_pgbench_cases(url, 10, moved)
    assert chosen == 10
    picked = {r[0] for r in await _rows(url, "SELECT case_id::text FROM pgbench_case")}
    assert picked.isdisjoint(moved)
    assert picked <= {r[0] for r in pausable}
    try:
        tps = runner.run_pgbench(
            url,
            url.rsplit("/", 1)[-1],
            path,
            variables,
            clients=2,
            cases=chosen,
            duration=2,
            base=runner.PGBENCH_FIRST_SEQ,
        )
        assert tps > 0
        written = await _rows(
            url, f"SELECT count(DISTINCT chain) FROM audit_record WHERE seq >= {runner.PGBENCH_FIRST_SEQ}"
        )
        assert written[0][0] > 1  # the replay moved the chosen cases, more than one of them
    finally:
        await runner.restore_pgbench_cases(url)

    assert await _rows(url, "SELECT * FROM rj_case ORDER BY id") == cases_before
    assert await _rows(url, "SELECT count(*), max(seq) FROM audit_record") == records_before
    assert await _rows(url, "SELECT count(*) FROM outbox_event") == events_before
    assert not await _rows(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'pgbench%'")
    assert (await verify(db.engine)).valid
