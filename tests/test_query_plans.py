"""The hot requests' queries use indexes: every statement they send is explained on a data
set with thousands of cases, and no plan reads a whole large table (PostgreSQL only)."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from app.db import Database
from app.models.cases import Case
from app.models.reps import Rep
from app.seed.national import Plan, load_national
from tests.statements import captured

# Thousands of cases in forty prisons: enough rows that reading a whole table costs more than
# an index would, as it does far more at national size.
PLAN = Plan(prisons=40, cases=6000, consents=20_000, audit_records=60_000, tasks=10_000)
LARGE_ROWS = 4000


def _scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield plan["Node Type"], plan.get("Relation Name", "")
    for child in plan.get("Plans", []):
        yield from _scans(child)


async def _plans(db: Database, statements: list[tuple[str, Any]]) -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    async with db.engine.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
                continue
            raw = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, tuple(parameters or ()))
            plan = raw.scalar_one()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            out.append((statement, list(_scans(plan[0]["Plan"]))))
        await conn.rollback()
    return out


@pytest.fixture
async def national(db: Database, is_postgres: bool, tmp_path: Path) -> dict[str, Any]:
    if not is_postgres:
        pytest.skip("query plans are PostgreSQL's")
    await load_national(db, plan=PLAN, keys_file=tmp_path / "keys.json", progress=False)
    async with db.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return dict(json.loads((tmp_path / "keys.json").read_text()))


class TestHotQueryPlans:
    async def test_no_hot_request_reads_a_whole_large_table(
        self, db: Database, client: httpx.AsyncClient, national: dict[str, Any]
    ) -> None:
        async with db.transaction() as session:
            case = (
                await session.execute(select(Case).where(Case.state == "assessment").limit(1))
            ).scalar_one()
            rep = (await session.execute(select(Rep).where(Rep.status == "active").limit(1))).scalar_one()
        practitioner = {"Authorization": f"Bearer {national['practitioners'][case.prison_id]}"}
        rep_key = {"Authorization": f"Bearer {national['reps'][str(rep.id)]}"}
        async with captured(db) as statements:
            responses = [
                await client.get(f"/cases/{case.id}", headers=practitioner),
                await client.get(f"/cases?state=assessment&prisonId={case.prison_id}", headers=practitioner),
                await client.get(f"/cases?prisonId={case.prison_id}", headers=practitioner),
                # A search by a whole name: its matches found by the trigram indexes.
                await client.get("/cases?q=Dean+Walsh", headers=practitioner),
                await client.get(f"/tasks?assigneeId={rep.id}&status=open", headers=rep_key),
                await client.get(f"/reps/{rep.id}/tasks", headers=rep_key),
                await client.post(
                    f"/cases/{case.id}/transitions",
                    json={"trigger": "pause", "until": "2099-01-01T00:00:00+00:00", "reason": "cooling off"},
                    headers=practitioner,
                ),
                await client.get(f"/cases/{case.id}/timeline", headers=practitioner),
            ]
        assert [r.status_code for r in responses] == [200] * len(responses)
        # The direct paths' statements (the day list's, the move's) are among them.
        sent = [statement for statement, _ in statements]
        assert any("FROM task" in s and "ORDER BY" in s for s in sent)
        assert any(s.lstrip().startswith("WITH moved AS") for s in sent), sent
        assert any("ILIKE" in s for s in sent)

        plans = await _plans(db, statements)
        async with db.engine.connect() as conn:
            sizes = dict(
                (
                    await conn.execute(text("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'"))
                ).all()
            )
        large = {name for name, rows in sizes.items() if rows >= LARGE_ROWS}

        full_scans = [
            (s[:120], node)
            for s, nodes in plans
            for node in nodes
            if node[0] == "Seq Scan" and node[1] in large
        ]
        assert {"rj_case", "party", "consent", "task", "audit_record"} <= large
        assert len(plans) >= 10
        assert full_scans == [], "\n".join(map(str, full_scans))

    async def test_a_day_list_reads_its_tasks_cases_and_parties_from_indexes_alone(
        self, db: Database, client: httpx.AsyncClient, national: dict[str, Any]
    ) -> None:
        """The busiest rep's list names each task's case and party from `ix_case_id_reference`
        and `ix_party_id_names`: no row of either table is read for it."""
        async with db.engine.connect() as conn:
            busiest = (
                await conn.execute(
                    text(
                        "SELECT assignee_id FROM task WHERE assignee_type = 'rep' AND status = 'open' "
                        "AND due_at < now() AND case_id IS NOT NULL AND party_id IS NOT NULL "
                        "GROUP BY assignee_id ORDER BY count(*) DESC LIMIT 1"
                    )
                )
            ).scalar_one()
        rep_key = {"Authorization": f"Bearer {national['reps'][str(busiest)]}"}
        async with captured(db) as statements:
            r = await client.get(f"/reps/{busiest}/tasks", headers=rep_key)
        assert r.status_code == 200, r.text
        assert any(t["caseReference"] and t["whom"] for t in r.json()["tasks"])
        listed = [(s, p) for s, p in statements if "FROM task" in s]
        assert len(listed) == 1, [s[:80] for s, _ in statements]
        [(_, nodes)] = await _plans(db, listed)
        named = {node for node in nodes if node[1] in ("rj_case", "party")}
        assert named == {("Index Only Scan", "rj_case"), ("Index Only Scan", "party")}, nodes
