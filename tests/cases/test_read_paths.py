"""PostgreSQL reads a case, and a page of cases, in one statement each; the portable statements
(SQLite's) must give exactly the same answers. Both are run here on the same PostgreSQL data and
every view of every case is compared."""

import json
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from app import clock
from app.auth.access import case_scope
from app.cases import repository as repo
from app.cases.repository import CaseFilters
from app.cases.views import list_views, present_case
from app.common.enums import Role
from app.context import Principal
from app.db import Database
from app.models.cases import Case, CaseFlag, CaseRep, Consent, Party, Responsibility
from app.models.safeguarding import SafeguardingConcern
from app.seed.national import Plan, load_national
from tests import stamp_guard

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
        # Consent changed since: a later entry of the ledger for a scope replaces the earlier,
        # which the earlier's recording time would not tell (the ledger's order is its audit seq).
        earlier = list((await session.execute(select(Consent).order_by(col(Consent.id)))).scalars())[::4]
        for n, entry in enumerate(earlier):
            session.add(
                Consent(
                    case_id=entry.case_id,
                    party_id=entry.party_id,
                    scope=entry.scope,
                    given=not entry.given,
                    method=entry.method,
                    recorded_by="changed their mind",
                    recorded_at=entry.recorded_at - timedelta(minutes=1) if n % 2 else now,
                    audit_seq=entry.audit_seq + 1,
                )
            )
        # A retraction after an acknowledgement, and parties who asked how to be checked on.
        acknowledged = list(
            (await session.execute(select(Responsibility).order_by(col(Responsibility.id)))).scalars()
        )[::3]
        for n, entry in enumerate(acknowledged):
            session.add(
                Responsibility(
                    case_id=entry.case_id,
                    party_id=entry.party_id,
                    acknowledged=False,
                    method="in_person",
                    recorded_by="heard on the wing",
                    recorded_at=entry.recorded_at - timedelta(minutes=1) if n % 2 else now,
                    audit_seq=entry.audit_seq + 1,
                )
            )
        asked = list((await session.execute(select(Party).order_by(col(Party.id)))).scalars())[::5]
        for n, party in enumerate(asked):
            party.follow_up = ("practitioner_only", "no_contact", "rep_visit")[n % 3]
        await stamp_guard.touch_cases(
            session,
            [c.id for c in found[::7]]
            + [e.case_id for e in earlier]
            + [e.case_id for e in acknowledged]
            + [p.case_id for p in asked],
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
        seen = {"flags": 0, "consents": 0, "reps": 0, "hold": 0, "responsibility": 0, "follow_up": 0}
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
                    seen["responsibility"] += bool(one.responsibility)
                    seen["follow_up"] += any(p.follow_up for p in one.parties)
                    assert one.responsibility.keys() == portable.responsibility.keys()
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
        """Each role's page as PostgreSQL writes it is, member for member, the page presented in
        Python from the portable statements' bundles; read on a driver connection (as the direct
        path reads it), it is the same text."""
        prisons = sorted({c.prison_id for c in cases})
        filters = [
            CaseFilters(),
            CaseFilters(state="assessment"),
            CaseFilters(state="on_hold"),
            CaseFilters(state="closed", prison_id=prisons[0]),
            CaseFilters(prison_id=prisons[1]),
            CaseFilters(updated_since=clock.now() - timedelta(days=400)),
        ]
        seen: Counter[str] = Counter()
        async with db.reading() as session, db.driver() as driver:
            for prison in prisons:
                in_prison = [c for c in cases if c.prison_id == prison]
                rep_id = await session.scalar(
                    select(col(CaseRep.rep_id)).where(col(CaseRep.case_id).in_([c.id for c in in_prison]))
                )
                who = principals(prison, rep_id)
                # The referrer that referred cases of this prison, so that its page is not empty.
                referrer = next(c.created_by_client_id for c in in_prison if c.created_by_client_id)
                who[3] = replace(who[3], client_id=referrer)
                for principal in who:
                    for wanted in filters:
                        for offset, limit in ((0, 20), (20, 20), (0, 100), (10_000, 20)):
                            written, total = await list_views(
                                session, principal, wanted, offset=offset, limit=limit
                            )
                            bundles, portable_total = await repo.list_cases(
                                session,
                                scope=case_scope(principal),
                                filters=wanted,
                                offset=offset,
                                limit=limit,
                            )
                            assert total == portable_total, wanted
                            on_driver = await list_views(
                                driver, principal, wanted, offset=offset, limit=limit
                            )
                            assert on_driver == (written, total)
                            presented = [
                                json.loads(present_case(principal, b).model_dump_json(by_alias=True))
                                for b in bundles
                            ]
                            assert [json.loads(view) for view in written] == presented, (
                                principal.role,
                                wanted,
                            )
                            seen[principal.role] += len(written)
                            for body in presented:
                                consents = [
                                    c for p in body.get("parties", []) for c in p.get("consents", {}).values()
                                ]
                                seen["consents"] += bool(consents)
                                seen["changed consents"] += any(
                                    c["recordedBy"] == "changed their mind" for c in consents
                                )
                                seen["flags"] += bool(body.get("flags"))
                                seen["hold"] += body.get("hold") is not None
                                seen["risk notes"] += body.get("riskNotes") is not None
        # Every role's pages had cases on them, and every kind of member was compared.
        assert len(seen) == 9 and all(n > 0 for n in seen.values()), seen

    async def test_times_are_written_as_pydantic_writes_them(self, db: Database, cases: list[Case]) -> None:
        """With and without a fraction of a second: the page's times are the models' to the letter."""
        case = cases[0]
        async with db.transaction() as session:
            for at in (
                datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
                datetime(2026, 3, 1, 9, 30, 0, 120, tzinfo=UTC),
            ):
                await session.execute(update(Case).where(col(Case.id) == case.id).values(updated_at=at))
                who = principals(case.prison_id, None)[1]
                written, _ = await list_views(
                    session, who, CaseFilters(prison_id=case.prison_id, updated_since=at), offset=0, limit=100
                )
                mine = next(json.loads(v) for v in written if json.loads(v)["id"] == str(case.id))
                bundle = await repo.get_bundle(session, str(case.id))
                assert bundle is not None
                expected = json.loads(present_case(who, bundle).model_dump_json(by_alias=True))["updatedAt"]
                assert mine["updatedAt"] == expected == at.isoformat().replace("+00:00", "Z")
