"""`rj-casework demo`: the first start prints a key per (made-up) person, and keeps them in
demo-keys.txt, each line saying whose it is: role, person and prisons; two of them are reps at
the same prison. A later start loads nothing and prints no key."""

import asyncio
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app.auth.service import hash_key
from app.cli import main
from app.config import Settings
from app.db import Database
from app.demo import STATE_PATHS
from app.models.audit import AuditRecord
from app.models.auth import ApiClient
from app.models.cases import Case, Party
from app.models.reps import Rep
from app.models.tasks import Task
from app.seed.national import Plan

NATIONAL_SCALE = 0.0004  # 120 cases in two prisons

WHOSE = [
    ("practitioner", "Helen Ashworth", "MDI (Moorland)"),
    ("practitioner", "Daniel Okafor", "LEI (Leeds)"),
    ("rep", "Andre Lewis (G4001RR)", "MDI (Moorland)"),
    ("rep", "Paul Kerr (G4002RR)", "MDI (Moorland)"),
    ("referrer", "Grace Whitfield", "MDI (Moorland), LEI (Leeds)"),
    ("manager", "Martin Bryce", "all prisons"),
    ("auditor", "Ruth Pennington", "all prisons"),
    ("admin", "Sanjay Mistry", "all prisons"),
]


async def demo(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`rj-casework demo --if-empty`, in a thread of its own (it starts its own event loop)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["demo", "--if-empty"])
    out, err = capsys.readouterr()
    return code, out, err


def table(text: str) -> list[list[str]]:
    """The rows under the header `role person prisons key`, cell by cell."""
    lines = text.splitlines()
    header = next(n for n, line in enumerate(lines) if line.split() == ["role", "person", "prisons", "key"])
    return [re.split(r"\s{2,}", line.strip()) for line in lines[header + 1 :]]


async def client_of(db: Database, key: str) -> ApiClient:
    """The API client a key belongs to."""
    async with db.transaction() as session:
        found = await session.execute(select(ApiClient).where(col(ApiClient.key_hash) == hash_key(key)))
        return found.scalar_one()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run where demo-keys.txt may be written."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestFirstStart:
    async def test_each_key_says_its_role_person_and_prisons(
        self, settings: Settings, db: Database, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, err = await demo(capsys)
        assert code == 0, err
        assert [row[:3] for row in table(out)] == [list(whose) for whose in WHOSE]
        assert "The reps Andre Lewis (G4001RR) and Paul Kerr (G4002RR) are both at\nMDI (Moorland)" in out

    async def test_the_file_keeps_what_was_printed(
        self, settings: Settings, db: Database, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _code, out, _err = await demo(capsys)
        assert (in_tmp / "demo-keys.txt").read_text() == out

    async def test_each_key_is_the_named_persons_in_its_role_and_prisons(
        self, settings: Settings, db: Database, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _code, out, _err = await demo(capsys)
        for role, person, prisons, key in table(out):
            client = await client_of(db, key)
            assert (client.role, client.name) == (role, f"{person.split(' (')[0]}, demo {role}")
            if prisons == "all prisons":
                assert client.all_prisons
            else:
                assert sorted(client.prisons) == sorted(re.findall(r"([A-Z]{3}) \(", prisons))

    async def test_the_two_rep_keys_are_two_reps_at_one_prison(
        self, settings: Settings, db: Database, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _code, out, _err = await demo(capsys)
        reps = []
        for _role, person, _prisons, key in (row for row in table(out) if row[0] == "rep"):
            client = await client_of(db, key)
            async with db.transaction() as session:
                rep = await session.get(Rep, client.rep_id)
            assert rep is not None
            assert person == f"{rep.first_name} {rep.last_name} ({rep.prisoner_number})"
            assert client.prisons == [rep.prison_id]
            reps.append(rep)
        assert len({r.id for r in reps}) == 2
        assert {r.prison_id for r in reps} == {"MDI"}


class TestLaterStart:
    async def test_loads_nothing_and_prints_no_key(
        self, settings: Settings, db: Database, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await demo(capsys)
        code, out, err = await demo(capsys)
        assert code == 0
        assert out == ""
        expected = f"demo: {len(STATE_PATHS)} cases already present; keys from the first start are in "
        assert err == expected + "demo-keys.txt\n"


class TestNationalScale:
    async def test_loads_the_national_data_set_from_the_package(
        self,
        settings: Settings,
        db: Database,
        in_tmp: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("RJ_NATIONAL_SCALE", str(NATIONAL_SCALE))
        code = await asyncio.to_thread(main, ["demo", "--scale", "national"])
        _out, err = capsys.readouterr()

        assert code == 0, err
        async with db.transaction() as session:
            cases = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        assert cases == Plan.scaled(NATIONAL_SCALE).cases
        assert set(json.loads((in_tmp / "national-keys.json").read_text())) >= {"practitioners", "reps"}


class TestDemoCases:
    async def test_a_called_off_conference_and_a_decline_with_cancelled_visits(
        self, settings: Settings, db: Database, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await demo(capsys)
        async with db.transaction() as session:
            called_off = (
                (await session.execute(select(AuditRecord).where(col(AuditRecord.action) == "case.call_off")))
                .scalars()
                .all()
            )
            cancelled = (
                (
                    await session.execute(
                        select(Task).where(
                            col(Task.status) == "cancelled", col(Task.kind) == "assessment_visit"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert len(called_off) == 1
        assert "The case was declined." in {t.cancel_reason for t in cancelled}

    async def test_a_party_of_three_withdrew_and_the_case_goes_on(
        self, settings: Settings, db: Database, in_tmp: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        await demo(capsys)
        async with db.transaction() as session:
            out = (
                (await session.execute(select(Party).where(col(Party.participating).is_(False))))
                .scalars()
                .all()
            )
            assert len(out) == 1
            case = await session.get(Case, out[0].case_id)
            assert case is not None
            parties = (
                (await session.execute(select(Party).where(col(Party.case_id) == case.id))).scalars().all()
            )
        assert case.state == "shuttle_mediation"
        assert len(parties) == 3
        assert out[0].role == "both"
