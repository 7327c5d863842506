"""The summary report against a data set built by hand, whose figures are worked out below."""

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app import clock
from app.db import Database
from app.models.cases import Case, Party
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task
from app.reports import service
from app.reports.repository import percentile_cont
from tests.support import Api

REP_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
REP_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")
PERIOD = "from=2026-01-01&to=2026-03-31"


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


_n = 0


def _case(
    prison: str,
    created: datetime,
    state: str,
    source: str,
    outcome: str | None = None,
    concluded: datetime | None = None,
) -> Case:
    global _n
    _n += 1
    return Case(
        reference=f"{prison}-RJ-{_n:06d}",
        prison_id=prison,
        state=state,
        category="assault",
        source_system=source,
        source_reference=f"R{_n}",
        referred_by="Officer Smith",
        outcome=outcome,
        concluded_at=concluded,
        closed_at=concluded + timedelta(days=30) if concluded and state == "closed" else None,
        created_at=created,
        updated_at=created,
    )


def _parties(case: Case, *numbers: str) -> list[Party]:
    return [
        Party(
            case_id=case.id,
            prisoner_number=n,
            first_name="First",
            last_name="Last",
            role="both",
            created_at=case.created_at,
        )
        for n in numbers
    ]


def _task(
    kind: str,
    due: datetime,
    status: str,
    completed: datetime | None = None,
    *,
    prison: str = "MDI",
    rep: uuid.UUID | None = None,
    minutes: int | None = None,
) -> Task:
    return Task(
        prison_id=prison,
        kind=kind,
        due_at=due,
        status=status,
        assignee_type="rep" if rep else "practitioner",
        assignee_id=rep,
        instructions="do it",
        completed_at=completed,
        duration_minutes=minutes,
        created_at=due - timedelta(days=1),
    )


def _concern(prison: str, raised: datetime, acknowledged: datetime | None) -> SafeguardingConcern:
    return SafeguardingConcern(
        prisoner_number="A1111AA",
        prison_id=prison,
        category="self_harm",
        detail="x",
        status="acknowledged" if acknowledged else "open",
        raised_at=raised,
        acknowledged_at=acknowledged,
    )


async def build(db: Database) -> None:
    """P = A1111AA and R = C3333CC come back; the rest appear once.

    Concluded in Q1 2026 in MDI: C1 (2 days), C2 (4), C3 (10), C4 (20), C7 (14): median 10,
    90th percentile 14 + 0.6 * (20 - 14) = 17.6. Referred in Q1 in MDI: C1-C6.
    Reoffending (90 days): P@C1 before C7, after C3 and C5; R@C2 after C8 (LEI) and C5;
    P@C3 before C7 and C1, after C5; P@C7 after C1, C3, C5: 10 parties, 3 before, 8 after,
    2 parties with any before, 4 with any after.
    """
    c1 = _case("MDI", at("2026-01-05"), "closed", "IRS", "resolved", at("2026-01-07"))
    c2 = _case("MDI", at("2026-01-10"), "follow_up", "TEST", "partially_resolved", at("2026-01-14"))
    c3 = _case("MDI", at("2026-02-01"), "closed", "TEST", "withdrawn", at("2026-02-11"))
    c4 = _case("MDI", at("2026-02-15"), "closed", "IRS", "not_resolved", at("2026-03-07"))
    c5 = _case("MDI", at("2026-03-01"), "assessment", "IRS")
    c6 = _case("MDI", at("2026-03-20"), "referred", "STAFF")
    c7 = _case("MDI", at("2025-12-20"), "closed", "IRS", "resolved", at("2026-01-03"))
    c8 = _case("LEI", at("2026-01-20"), "follow_up", "IRS", "resolved", at("2026-01-21"))
    async with db.transaction() as session:
        session.add_all([c1, c2, c3, c4, c5, c6, c7, c8])
        await session.flush()
        for case, numbers in [
            (c1, ("A1111AA", "B2222BB")),
            (c2, ("C3333CC", "D4444DD")),
            (c3, ("A1111AA", "E5555EE")),
            (c4, ("F6666FF", "G7777GG")),
            (c5, ("A1111AA", "C3333CC")),
            (c6, ("H8888HH",)),
            (c7, ("A1111AA", "J9999JJ")),
            (c8, ("C3333CC",)),
        ]:
            session.add_all(_parties(case, *numbers))
        session.add_all(
            [
                # Wellbeing checks due in Q1 in MDI: 4 counted (W4 cancelled), 2 on time.
                _task("wellbeing_check", at("2026-01-08"), "done", at("2026-01-08", 9)),
                _task("wellbeing_check", at("2026-01-15"), "done", at("2026-01-15", 12)),
                _task("wellbeing_check", at("2026-02-12"), "open"),
                _task("wellbeing_check", at("2026-03-08"), "cancelled"),
                _task("wellbeing_check", at("2026-03-10"), "done", at("2026-03-10")),
                _task("wellbeing_check", at("2026-04-02"), "done", at("2026-04-01")),
                _task("wellbeing_check", at("2026-01-08"), "open", prison="LEI"),
                # Rep hours in Q1 in MDI: A 45 + 30 minutes, B 60 minutes.
                _task("shuttle_visit", at("2026-01-09"), "done", at("2026-01-09"), rep=REP_A, minutes=45),
                _task("letter_delivery", at("2026-02-03"), "done", at("2026-02-03"), rep=REP_A, minutes=30),
                _task("shuttle_visit", at("2026-03-15"), "done", at("2026-03-15"), rep=REP_B, minutes=60),
                _task("practitioner_review", at("2026-03-15"), "done", at("2026-03-15"), minutes=120),
                _task("shuttle_visit", at("2026-04-02"), "done", at("2026-04-02"), rep=REP_B, minutes=50),
                _task(
                    "shuttle_visit",
                    at("2026-02-02"),
                    "done",
                    at("2026-02-02"),
                    prison="LEI",
                    rep=REP_B,
                    minutes=15,
                ),
                # Concerns: raised in Q1 in MDI 3 (30 and 90 minutes to acknowledge, one open);
                # one older still open; one in LEI.
                _concern("MDI", at("2026-01-06"), at("2026-01-06", 10, 30)),
                _concern("MDI", at("2026-02-02"), at("2026-02-02", 11, 30)),
                _concern("MDI", at("2026-03-05"), None),
                _concern("MDI", at("2025-12-30"), None),
                _concern("LEI", at("2026-01-10"), at("2026-01-10", 12)),
            ]
        )


EXPECTED_MDI: dict[str, Any] = {
    "prisonIds": ["MDI"],
    "fromDate": "2026-01-01",
    "toDate": "2026-03-31",
    "casesReferred": 6,
    "byState": {
        "referred": 1,
        "assessment": 1,
        "shuttle_mediation": 0,
        "letter_exchange": 0,
        "conference": 0,
        "follow_up": 1,
        "on_hold": 0,
        "closed": 3,
    },
    "byOutcome": {
        "resolved": 1,
        "partially_resolved": 1,
        "not_resolved": 1,
        "withdrawn": 1,
        "unsuitable": 0,
        "none": 2,
    },
    "bySource": {"IRS": 3, "STAFF": 1, "TEST": 2},
    "referralToConclusion": {"concluded": 5, "medianDays": 10.0, "p90Days": 17.6},
    "wellbeingChecks": {"due": 4, "onTime": 2, "shareOnTime": 0.5},
    "concerns": {
        "raised": 3,
        "acknowledged": 2,
        "stillOpen": 1,
        "openNow": 2,
        "medianMinutesToAcknowledge": 60.0,
    },
    "repHours": {
        "totalHours": 2.25,
        "tasks": 3,
        "byRep": [
            {"repId": str(REP_A), "hours": 1.25, "tasks": 2},
            {"repId": str(REP_B), "hours": 1.0, "tasks": 1},
        ],
    },
    "reoffending": {
        "windowDays": 90,
        "parties": 10,
        "incidentsBefore": 3,
        "incidentsAfter": 8,
        "partiesWithIncidentsBefore": 2,
        "partiesWithIncidentsAfter": 4,
    },
}


@pytest.fixture
async def dataset(db: Database) -> None:
    clock.freeze(at("2026-04-15"))
    await build(db)


class TestSummary:
    async def test_figures_match_the_hand_built_set(self, api: Api, dataset: None) -> None:
        r = await api.client.get(f"/reports/summary?prisonId=MDI&{PERIOD}", headers=api.keys.manager.headers)
        assert r.status_code == 200, r.text
        assert r.json() == EXPECTED_MDI

    async def test_managers_default_to_their_caseload(self, api: Api, dataset: None) -> None:
        r = await api.client.get(f"/reports/summary?{PERIOD}", headers=api.keys.manager.headers)
        assert r.json() == EXPECTED_MDI

    async def test_admin_sees_every_prison(self, api: Api, dataset: None) -> None:
        r = await api.client.get(f"/reports/summary?{PERIOD}", headers=api.keys.admin.headers)
        body = r.json()
        assert body["prisonIds"] is None
        assert body["casesReferred"] == 7
        assert body["referralToConclusion"] == {"concluded": 6, "medianDays": 7.0, "p90Days": 17.0}
        assert body["wellbeingChecks"] == {"due": 5, "onTime": 2, "shareOnTime": 0.4}
        assert body["concerns"]["raised"] == 4
        assert body["repHours"]["totalHours"] == 2.5
        # R@C8 (LEI): C2 within 90 days before, C5 within 90 days after.
        assert body["reoffending"]["parties"] == 11
        assert (body["reoffending"]["incidentsBefore"], body["reoffending"]["incidentsAfter"]) == (4, 9)

    async def test_csv_carries_the_same_figures(self, api: Api, dataset: None) -> None:
        r = await api.client.get(
            f"/reports/summary?prisonId=MDI&{PERIOD}",
            headers={**api.keys.manager.headers, "Accept": "text/csv"},
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(r.text)))
        assert table[0] == ["section", "item", "value"]
        rows = {(s, i): v for s, i, v in table[1:]}
        assert rows[("casesReferred", "")] == "6"
        assert rows[("byState", "closed")] == "3"
        assert rows[("byOutcome", "none")] == "2"
        assert rows[("bySource", "IRS")] == "3"
        assert rows[("referralToConclusion", "p90Days")] == "17.6"
        assert rows[("wellbeingChecks", "shareOnTime")] == "0.5"
        assert rows[("concerns", "medianMinutesToAcknowledge")] == "60.0"
        assert rows[("repHours.byRep", str(REP_A))] == "1.25"
        assert rows[("reoffending", "incidentsAfter")] == "8"

    async def test_prison_outside_the_caseload_is_refused(self, api: Api, dataset: None) -> None:
        r = await api.client.get(f"/reports/summary?prisonId=LEI&{PERIOD}", headers=api.keys.manager.headers)
        assert r.status_code == 403

    async def test_roles_without_reports_are_refused(self, api: Api) -> None:
        for key in (api.keys.practitioner, api.keys.auditor, api.keys.referrer):
            r = await api.client.get("/reports/summary", headers=key.headers)
            assert r.status_code == 403

    async def test_from_after_to_is_refused(self, api: Api) -> None:
        r = await api.client.get(
            "/reports/summary?from=2026-03-01&to=2026-01-01", headers=api.keys.manager.headers
        )
        assert r.status_code == 422

    async def test_empty_period_has_zeros_and_no_percentiles(self, api: Api, dataset: None) -> None:
        r = await api.client.get(
            "/reports/summary?prisonId=MDI&from=2020-01-01&to=2020-12-31", headers=api.keys.manager.headers
        )
        body = r.json()
        assert body["casesReferred"] == 0
        assert body["referralToConclusion"] == {"concluded": 0, "medianDays": None, "p90Days": None}
        assert body["wellbeingChecks"]["shareOnTime"] is None


class TestPercentiles:
    async def test_sql_and_python_paths_agree(self, db: Database, dataset: None, is_postgres: bool) -> None:
        methods = ["sql", "python"] if is_postgres else ["python"]
        results = []
        for method in methods:
            async with db.transaction() as session:
                report = await service.summary(
                    session,
                    prisons=None,
                    from_date=date(2026, 1, 1),
                    to_date=date(2026, 3, 31),
                    percentile_method=method,  # type: ignore[arg-type]
                )
            results.append(report)
        assert all(r == results[0] for r in results)
        assert results[0].referral_to_conclusion.p90_days == 17.0

    def test_interpolates_like_percentile_cont(self) -> None:
        assert percentile_cont([], 0.5) is None
        assert percentile_cont([3.0], 0.9) == 3.0
        assert percentile_cont([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
        assert percentile_cont([2.0, 4.0, 10.0, 14.0, 20.0], 0.9) == pytest.approx(17.6)
