"""Feedback in the summary: cells of fewer than 5 answers suppressed (null, never 0), with
complementary suppression, in whole months only."""

from datetime import UTC, datetime
from typing import Any

import pytest

from app import clock
from app.db import Database
from app.models.cases import Case, Party
from app.models.feedback import Feedback
from app.reports.suppression import suppressed_cells
from tests.support import Api

MARCH = "from=2026-03-01&to=2026-03-31"
HIDDEN = {"answers": None, "feltHeard": None, "feltSafe": None, "wouldRecommend": None, "suppressed": True}


async def answers_in_march(db: Database, **by_role: int) -> None:
    """`n` answers of each role given, in March 2026, on one MDI case; every answer 4, 5, 2."""
    clock.freeze(datetime(2026, 4, 10, tzinfo=UTC))
    when = datetime(2026, 3, 10, 12, tzinfo=UTC)
    case = Case(
        reference="MDI-RJ-900001",
        prison_id="MDI",
        state="closed",
        category="fight",
        source_system="TEST",
        source_reference="F1",
        referred_by="Officer Smith",
        created_at=when,
        updated_at=when,
    )
    async with db.transaction() as session:
        session.add(case)
        await session.flush()
        n = 0
        for role, count in by_role.items():
            for _ in range(count):
                n += 1
                party = Party(
                    case_id=case.id,
                    prisoner_number=f"A{n:04d}ZZ",
                    first_name="First",
                    last_name="Last",
                    role=role,
                    created_at=when,
                )
                session.add(party)
                await session.flush()
                session.add(
                    Feedback(
                        case_id=case.id,
                        party_id=party.id,
                        stage="conclusion",
                        party_role=role,
                        felt_heard=4,
                        felt_safe=5,
                        would_recommend=2,
                        comment="never in a report",
                        collected_by_role="practitioner",
                        recorded_at=when,
                    )
                )


async def march(api: Api) -> dict[str, Any]:
    r = await api.client.get(f"/reports/summary?prisonId=MDI&{MARCH}", headers=api.keys.manager.headers)
    assert r.status_code == 200, r.text
    assert "never in a report" not in r.text
    month: dict[str, Any] = r.json()["feedback"]["stages"][0]["months"][0]
    assert month["month"] == "2026-03"
    return month


def shown(n: int) -> dict[str, Any]:
    return {"answers": n, "feltHeard": 1.0, "feltSafe": 1.0, "wouldRecommend": 0.0, "suppressed": False}


class TestThreshold:
    async def test_four_answers_are_suppressed(self, api: Api, db: Database) -> None:
        await answers_in_march(db, harmed=4)
        month = await march(api)
        assert month["byRole"]["harmed"] == HIDDEN
        assert month["total"] == HIDDEN

    async def test_five_answers_are_shown(self, api: Api, db: Database) -> None:
        await answers_in_march(db, harmed=5)
        month = await march(api)
        assert month["byRole"]["harmed"] == shown(5)
        assert month["total"] == shown(5)
        assert month["byRole"]["harmer"] == HIDDEN and month["byRole"]["both"] == HIDDEN

    async def test_one_small_cell_takes_another_with_it(self, api: Api, db: Database) -> None:
        # harmer 1 alone would be total - harmed - both: the smallest other cell goes too.
        await answers_in_march(db, harmed=6, harmer=1, both=5)
        month = await march(api)
        assert month["total"] == shown(12)
        assert month["byRole"] == {"harmed": shown(6), "harmer": HIDDEN, "both": HIDDEN}


class TestComplementarySuppression:
    def test_cells_under_the_threshold_are_suppressed_zero_included(self) -> None:
        assert suppressed_cells({"a": 4, "b": 0, "c": 5}, total=None) == {"a", "b"}

    def test_a_lone_suppressed_cell_takes_the_smallest_other_with_it(self) -> None:
        assert suppressed_cells({"a": 7, "b": 2, "c": 5}, total=14) == {"b", "c"}

    def test_two_suppressed_cells_need_no_more(self) -> None:
        assert suppressed_cells({"a": 9, "b": 2, "c": 1}, total=12) == {"b", "c"}

    def test_a_hidden_total_protects_the_row(self) -> None:
        assert suppressed_cells({"a": 1, "b": 0}, total=1) == {"a", "b"}
        assert suppressed_cells({"a": 9, "b": 2}, total=None) == {"b"}

    @pytest.mark.parametrize("threshold", [3, 10])
    def test_the_threshold_can_be_given(self, threshold: int) -> None:
        assert suppressed_cells({"a": 5}, total=None, threshold=threshold) == (
            set() if threshold == 3 else {"a"}
        )
