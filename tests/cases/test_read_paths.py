"""PostgreSQL reads a case, and a page of cases, in one statement each; the portable statements
(SQLite's) must give exactly the same answers. Both are run here on the same PostgreSQL data and
every view of every case is compared."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.auth.access import case_scope
from app.cases import repository as repo
from app.cases.models import Case, CaseFlag
from app.cases.views import present_case
from app.common.enums import Role
from app.context import Principal
from app.db import Database
from app.safeguarding.models import SafeguardingConcern
from bench.national import Plan, load_national

PLAN = Plan(prisons=2, cases=240, consents=700, audit_records=2400, tasks=300)


def principals(prison: str, rep_id: uuid.UUID | None) -> list[Principal]:
    """One caller of each kind that sees case content differently."""
    return [
        Principal(client_id=uuid.uuid4(), name="p", role=Role.PRACTITIONER, prisons=frozenset({prison})),
        Principal(client_id=uuid.uuid4(), name="m", role=Role.MANAGER, prisons=None),
        Principal(
            client_id=uuid.uuid4(), name="r", role=Role.REP, prisons=frozenset({prison}), rep_id=rep_id
        ),
        Principal(client_id=uuid.uuid4(), name="f", role=Role.REFERRER, prisons=frozenset({prison})),
    ]


@pytest.fixture
async def cases(db: Database, is_postgres: bool, tmp_path: Path) -> list[Case]:
    """The national data set at a small size, with flags and open concerns on some cases."""
    if not is_postgres:
        pytest.skip("the one-statement reads are PostgreSQL's")
    await load_national(db, plan=PLAN, keys_file=tmp_path / "keys.json", progress=False)
    now = clock.now()
    async with db.transaction() as session:
        found = list((await session.execute(select(Case).order_by(col(Case.id)))).scalars())
        for n, case in enumerate(found[::7]):
            for k in range(n % 3 + 1):
                session.add(
                    CaseFlag(
                        case_id=case.id,
                        kind="prisoner.released" if k % 2 else "prisoner.received",
                        at=now - timedelta(hours=k),
                        detail=f"flag {k} of case {n}",
                        prisoner_number="A1234BC",
                        created_at=now,
                    )
                )
        for case in found[::11]:
            session.add(
                SafeguardingConcern(
                    prisoner_number="A1234BC",
                    prison_id=case.prison_id,
                    case_id=case.id,
                    category="self_harm",
                    detail="seen upset on the landing",
                    raised_at=now,
                )
            )
    return found


class TestOneStatementReads:
    async def test_every_case_reads_as_the_portable_queries_read_it(
        self, db: Database, cases: list[Case]
    ) -> None:
        seen = {"flags": 0, "consents": 0, "reps": 0, "hold": 0}
        async with db.reading() as session:
            for case in cases:
                for key in (str(case.id), case.reference):
                    one = await repo.get_bundle(session, key)
                    assert one is not None
                    portable_case = await repo.get_case(session, key)
                    assert portable_case is not None
                    portable = await repo.load_bundle(session, portable_case)
                    rep_id = portable.rep_ids[0] if portable.rep_ids else None
                    assert one.rep_ids == portable.rep_ids
                    assert one.consents.keys() == portable.consents.keys()
                    seen["flags"] += bool(one.flags)
                    seen["consents"] += bool(one.consents)
                    seen["reps"] += bool(one.rep_ids)
                    seen["hold"] += one.case.state == "on_hold"
                    for principal in principals(case.prison_id, rep_id):
                        assert (
                            present_case(principal, one).model_dump_json()
                            == present_case(principal, portable).model_dump_json()
                        ), case.reference
        # The comparison covered every kind of child, not empty bundles only.
        assert all(n > 0 for n in seen.values()), seen

    async def test_a_locked_read_is_the_same_case(self, db: Database, cases: list[Case]) -> None:
        async with db.transaction() as session:
            for case in cases[:40]:
                locked = await repo.get_bundle(session, str(case.id), lock=True)
                assert locked is not None
                plain = await repo.get_bundle(session, str(case.id))
                assert plain is not None
                who = principals(case.prison_id, None)[0]
                assert (
                    present_case(who, locked).model_dump_json() == present_case(who, plain).model_dump_json()
                )

    async def test_an_unknown_case_or_key_is_none(self, db: Database, cases: list[Case]) -> None:
        async with db.reading() as session:
            assert await repo.get_bundle(session, str(uuid.uuid4())) is None
            assert await repo.get_bundle(session, "ZZZ-RJ-999999") is None
            assert await repo.get_bundle(session, "not-a-key") is None

    async def test_every_page_lists_as_the_portable_queries_list_it(
        self, db: Database, cases: list[Case]
    ) -> None:
        prisons = sorted({c.prison_id for c in cases})
        filters = [
            {},
            {"state": "assessment"},
            {"state": "closed", "prison_id": prisons[0]},
            {"prison_id": prisons[1]},
            {"updated_since": clock.now() - timedelta(days=400)},
        ]
        pages = 0
        async with db.reading() as session:
            for prison in prisons:
                who = principals(prison, None)[0]
                for wanted in filters:
                    for offset, limit in ((0, 20), (20, 20), (0, 100), (10_000, 20)):
                        one, total = await repo.list_cases(
                            session,
                            scope=case_scope(who),
                            state=wanted.get("state"),  # type: ignore[arg-type]
                            prison_id=wanted.get("prison_id"),  # type: ignore[arg-type]
                            rep_id=None,
                            prisoner_number=None,
                            updated_since=wanted.get("updated_since"),  # type: ignore[arg-type]
                            offset=offset,
                            limit=limit,
                        )
                        conditions = [case_scope(who)]
                        if "state" in wanted:
                            conditions.append(col(Case.state) == wanted["state"])
                        if "prison_id" in wanted:
                            conditions.append(col(Case.prison_id) == wanted["prison_id"])
                        if "updated_since" in wanted:
                            conditions.append(col(Case.updated_at) >= wanted["updated_since"])
                        portable, portable_total = await repo.list_portably(
                            session, conditions, offset=offset, limit=limit
                        )
                        assert total == portable_total, wanted
                        pages += bool(one)
                        assert [present_case(who, b).model_dump_json() for b in one] == [
                            present_case(who, b).model_dump_json() for b in portable
                        ], (wanted, offset)
        assert pages > 10
