"""The summary report against a data set built by hand, whose figures are worked out below."""

import csv
import io
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.db import Database
from app.models.cases import Case, Party
from app.models.contacts import Contact
from app.models.feedback import Feedback
from app.models.reps import Rep
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task
from app.reports import printable, service
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
    declined: str | None = None,
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
        decline_reason=declined,
        concluded_at=concluded,
        closed_at=(
            created + timedelta(days=3)
            if declined
            else concluded + timedelta(days=30)
            if concluded and state == "closed"
            else None
        ),
        created_at=created,
        updated_at=created,
    )


def _parties(case: Case, *numbers: str, role: str = "both") -> list[Party]:
    return [
        Party(
            case_id=case.id,
            prisoner_number=n,
            first_name="First",
            last_name="Last",
            role=role,
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
        completed_by_rep_id=rep if status == "done" else None,
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


def _rep(rep_id: uuid.UUID, first: str, last: str, number: str) -> Rep:
    return Rep(
        id=rep_id,
        prisoner_number=number,
        first_name=first,
        last_name=last,
        prison_id="MDI",
        created_at=at("2025-06-01"),
        updated_at=at("2025-06-01"),
    )


def _contact(
    case: Case,
    party: Party,
    when: datetime,
    minutes: int,
    rep: uuid.UUID | None,
    *,
    kind: str = "assessment",
    task_id: uuid.UUID | None = None,
) -> Contact:
    return Contact(
        case_id=case.id,
        party_id=party.id,
        rep_id=rep,
        task_id=task_id,
        kind=kind,
        occurred_at=when,
        duration_minutes=minutes,
        summary="Talked it through.",
        created_at=when,
    )


def _feedback(
    case: Case, party: Party, when: datetime, scores: tuple[int, int, int], stage: str = "conclusion"
) -> Feedback:
    heard, safe, recommend = scores
    return Feedback(
        case_id=case.id,
        party_id=party.id,
        stage=stage,
        party_role=party.role,
        felt_heard=heard,
        felt_safe=safe,
        would_recommend=recommend,
        comment=SECRET_COMMENT,
        collected_by_role="practitioner",
        recorded_at=when,
    )


SECRET_COMMENT = "Only for subject access: the officer on B wing"


async def build(db: Database) -> None:
    """P = A1111AA and R = C3333CC come back; the rest appear once.

    Referred in Q1 2026 in MDI: C1-C6, and C9 and C10, declined (consent_refused, duplicate).
    Concluded in Q1 2026 in MDI: C1 (2 days), C2 (4), C3 (10), C4 (20), C7 (14): median 10,
    90th percentile 14 + 0.6 * (20 - 14) = 17.6.
    Reoffending (90 days): P@C1 before C7, after C3 and C5; R@C2 after C8 (LEI) and C5;
    P@C3 before C7 and C1, after C5; P@C7 after C1, C3, C5: 10 parties, 3 before, 8 after,
    2 parties with any before, 4 with any after. C11 only holds the people who gave feedback.
    """
    c1 = _case("MDI", at("2026-01-05"), "closed", "IRS", "resolved", at("2026-01-07"))
    c2 = _case("MDI", at("2026-01-10"), "follow_up", "TEST", "partially_resolved", at("2026-01-14"))
    c3 = _case("MDI", at("2026-02-01"), "closed", "TEST", "withdrawn", at("2026-02-11"))
    c4 = _case("MDI", at("2026-02-15"), "closed", "IRS", "not_resolved", at("2026-03-07"))
    c5 = _case("MDI", at("2026-03-01"), "assessment", "IRS")
    c6 = _case("MDI", at("2026-03-20"), "referred", "STAFF")
    c7 = _case("MDI", at("2025-12-20"), "closed", "IRS", "resolved", at("2026-01-03"))
    c8 = _case("LEI", at("2026-01-20"), "follow_up", "IRS", "resolved", at("2026-01-21"))
    # A decline records outcome `withdrawn` or `unsuitable`; the report counts both as declined.
    c9 = _case("MDI", at("2026-02-20"), "closed", "STAFF", "withdrawn", declined="consent_refused")
    c10 = _case("MDI", at("2026-03-02"), "closed", "STAFF", "unsuitable", declined="duplicate")
    c11 = _case("MDI", at("2025-10-01"), "closed", "IRS", "resolved", at("2025-11-01"))
    c12 = _case("LEI", at("2025-10-01"), "closed", "IRS", "resolved", at("2025-11-01"))
    async with db.transaction() as session:
        session.add_all([_rep(REP_A, "Alice", "Archer", "R1111AA"), _rep(REP_B, "Bob", "Brown", "R2222BB")])
        session.add_all([c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12])
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
        harmed = _parties(c11, *(f"K{n}000KK" for n in range(1, 8)), role="harmed")
        harmers = _parties(c11, *(f"L{n}000LL" for n in range(1, 6)), role="harmer")
        elsewhere = _parties(c12, "M1000MM", role="harmed")
        session.add_all([*harmed, *harmers, *elsewhere])
        await session.flush()
        c1_party = (await session.execute(select(Party).where(col(Party.case_id) == c1.id))).scalars().first()
        c8_party = (await session.execute(select(Party).where(col(Party.case_id) == c8.id))).scalars().first()
        assert c1_party is not None and c8_party is not None
        visit = _task("shuttle_visit", at("2026-03-12"), "done", at("2026-03-12"), rep=REP_B, minutes=40)
        session.add_all(
            [
                # Wellbeing checks due in Q1 in MDI: 4 due (W4 cancelled, apart): 3 completed, 2 on
                # time, 1 overdue.
                _task("wellbeing_check", at("2026-01-08"), "done", at("2026-01-08", 9)),
                _task("wellbeing_check", at("2026-01-15"), "done", at("2026-01-15", 12)),
                _task("wellbeing_check", at("2026-02-12"), "open"),
                _task("wellbeing_check", at("2026-03-08"), "cancelled"),
                _task("wellbeing_check", at("2026-03-10"), "done", at("2026-03-10")),
                _task("wellbeing_check", at("2026-04-02"), "done", at("2026-04-01")),
                _task("wellbeing_check", at("2026-04-20"), "open"),
                _task("wellbeing_check", at("2026-01-08"), "open", prison="LEI"),
                # Reps' work in Q1 in MDI: A tasks of 45 and 30 minutes and a contact of 20; B a
                # task of 60, and a visit of 40 that wrote its contact (counted once).
                _task("shuttle_visit", at("2026-01-09"), "done", at("2026-01-09"), rep=REP_A, minutes=45),
                _task("letter_delivery", at("2026-02-03"), "done", at("2026-02-03"), rep=REP_A, minutes=30),
                _task("shuttle_visit", at("2026-03-15"), "done", at("2026-03-15"), rep=REP_B, minutes=60),
                visit,
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
        await session.flush()
        session.add_all(
            [
                _contact(c1, c1_party, at("2026-01-06"), 20, REP_A),
                _contact(c1, c1_party, at("2026-03-12"), 40, REP_B, task_id=visit.id, kind="shuttle"),
                _contact(c1, c1_party, at("2026-02-10"), 90, None),  # a practitioner's: no rep's hours
                _contact(c1, c1_party, at("2026-04-03"), 35, REP_A),  # after the period
                _contact(c8, c8_party, at("2026-01-22"), 10, REP_A),  # in LEI
            ]
        )
        # Feedback at conclusion. January: 5 harmed (heard 5,4,3,5,2; safe 4,4,4,4,1; recommend
        # all 5) and 1 harmer (4, 2, 3). March: 4 harmers. April, December and LEI: outside.
        january = [(5, 4, 5), (4, 4, 5), (3, 4, 5), (5, 4, 5), (2, 1, 5)]
        session.add_all(
            [
                *(
                    _feedback(c11, party, at(f"2026-01-{10 + i}"), scores)
                    for i, (party, scores) in enumerate(zip(harmed[:5], january, strict=True))
                ),
                _feedback(c11, harmers[0], at("2026-01-20"), (4, 2, 3)),
                *(_feedback(c11, party, at("2026-03-05"), (5, 5, 5)) for party in harmers[1:5]),
                _feedback(c11, harmed[5], at("2026-04-02"), (1, 1, 1)),
                _feedback(c11, harmed[6], at("2025-12-20"), (1, 1, 1)),
                _feedback(c12, elsewhere[0], at("2026-01-15"), (1, 1, 1)),
            ]
        )


SUPPRESSED = {
    "answers": None,
    "feltHeard": None,
    "feltSafe": None,
    "wouldRecommend": None,
    "suppressed": True,
}


def _month(month: str, harmed: Any = SUPPRESSED, harmer: Any = SUPPRESSED, total: Any = SUPPRESSED) -> Any:
    return {
        "month": month,
        "byRole": {"harmed": harmed, "harmer": harmer, "both": SUPPRESSED},
        "total": total,
    }


EXPECTED_MDI: dict[str, Any] = {
    "prisonIds": ["MDI"],
    "fromDate": "2026-01-01",
    "toDate": "2026-03-31",
    "period": {"from": "2026-01-01", "to": "2026-03-31", "timeZone": "Europe/London"},
    "casesReferred": 8,
    "byState": {
        "referred": 1,
        "assessment": 1,
        "shuttle_mediation": 0,
        "letter_exchange": 0,
        "conference": 0,
        "follow_up": 1,
        "on_hold": 0,
        "closed": 5,
    },
    "byOutcome": {
        "resolved": 1,
        "partially_resolved": 1,
        "not_resolved": 1,
        "withdrawn": 1,
        "declined": 2,
        "none": 2,
    },
    "byDeclineReason": {
        "unsuitable": 0,
        "duplicate": 1,
        "out_of_scope": 0,
        "parties_unavailable": 0,
        "consent_refused": 1,
    },
    "bySource": {"IRS": 3, "STAFF": 3, "TEST": 2},
    "referralToConclusion": {"concluded": 5, "medianDays": 10.0, "p90Days": 17.6},
    "wellbeingChecks": {
        "due": 4,
        "completed": 3,
        "onTime": 2,
        "overdue": 1,
        "notYetDue": 0,
        "cancelled": 1,
        "shareOnTime": 0.5,
    },
    "concerns": {
        "raised": 3,
        "acknowledged": 2,
        "stillOpen": 1,
        "openNow": 2,
        "medianMinutesToAcknowledge": 60.0,
    },
    "repHours": {
        "totalMinutes": 195,
        "totalHours": 3.25,
        "activities": 5,
        "byRep": [
            {"repId": str(REP_A), "name": "Alice Archer", "minutes": 95, "hours": 1.58, "activities": 3},
            {"repId": str(REP_B), "name": "Bob Brown", "minutes": 100, "hours": 1.67, "activities": 2},
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
    "feedback": {
        "period": {"from": "2026-01-01", "to": "2026-03-31", "timeZone": "Europe/London"},
        "threshold": 5,
        "measure": service.FEEDBACK_MEASURE,
        "stages": [
            {
                "stage": "conclusion",
                "months": [
                    # Harmed: heard 3 of 5 at 4 or 5, safe 4 of 5, recommend 5 of 5. The month's 6:
                    # heard 4, safe 4, recommend 5. The harmer's one answer is suppressed, and the
                    # empty `both` with it, so neither can be worked out from the total.
                    _month(
                        "2026-01",
                        harmed={
                            "answers": 5,
                            "feltHeard": 0.6,
                            "feltSafe": 0.8,
                            "wouldRecommend": 1.0,
                            "suppressed": False,
                        },
                        total={
                            "answers": 6,
                            "feltHeard": 0.67,
                            "feltSafe": 0.67,
                            "wouldRecommend": 0.83,
                            "suppressed": False,
                        },
                    ),
                    _month("2026-02"),
                    _month("2026-03"),
                ],
            },
            {"stage": "follow_up", "months": [_month("2026-01"), _month("2026-02"), _month("2026-03")]},
        ],
    },
    "definitions": service.DEFINITIONS,
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
        assert body["casesReferred"] == 9
        assert body["referralToConclusion"] == {"concluded": 6, "medianDays": 7.0, "p90Days": 17.0}
        assert body["wellbeingChecks"] == {
            "due": 5,
            "completed": 3,
            "onTime": 2,
            "overdue": 2,
            "notYetDue": 0,
            "cancelled": 1,
            "shareOnTime": 0.4,
        }
        assert body["concerns"]["raised"] == 4
        # MDI's 195 minutes, and in LEI B's task of 15 and A's contact of 10.
        assert (body["repHours"]["totalMinutes"], body["repHours"]["totalHours"]) == (220, 3.67)
        assert [(r["name"], r["minutes"]) for r in body["repHours"]["byRep"]] == [
            ("Alice Archer", 105),
            ("Bob Brown", 115),
        ]
        # R@C8 (LEI): C2 within 90 days before, C5 within 90 days after.
        assert body["reoffending"]["parties"] == 11
        assert (body["reoffending"]["incidentsBefore"], body["reoffending"]["incidentsAfter"]) == (4, 9)
        # LEI's one answer in January joins the total: 7 answers, one more at 1 on every question.
        january = body["feedback"]["stages"][0]["months"][0]
        assert january["total"] == {
            "answers": 7,
            "feltHeard": 0.57,
            "feltSafe": 0.57,
            "wouldRecommend": 0.71,
            "suppressed": False,
        }
        assert january["byRole"]["harmed"]["answers"] == 6

    async def test_checks_not_yet_due_are_counted_and_said_to_be(self, api: Api, dataset: None) -> None:
        r = await api.client.get(
            "/reports/summary?prisonId=MDI&from=2026-04-01&to=2026-04-30", headers=api.keys.manager.headers
        )
        assert r.json()["wellbeingChecks"] == {
            "due": 2,
            "completed": 1,
            "onTime": 1,
            "overdue": 0,
            "notYetDue": 1,
            "cancelled": 0,
            "shareOnTime": 1.0,
        }

    async def test_feedback_covers_only_whole_months(self, api: Api, dataset: None) -> None:
        r = await api.client.get(
            "/reports/summary?prisonId=MDI&from=2026-01-02&to=2026-03-30", headers=api.keys.manager.headers
        )
        feedback = r.json()["feedback"]
        assert feedback["period"] == {"from": "2026-02-01", "to": "2026-02-28", "timeZone": "Europe/London"}
        assert [m["month"] for m in feedback["stages"][0]["months"]] == ["2026-02"]
        r = await api.client.get(
            "/reports/summary?prisonId=MDI&from=2026-01-02&to=2026-01-30", headers=api.keys.manager.headers
        )
        assert r.json()["feedback"] == {
            "period": None,
            "threshold": 5,
            "measure": service.FEEDBACK_MEASURE,
            "stages": [],
        }

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
        assert rows[("casesReferred", "")] == "8"
        assert rows[("byState", "closed")] == "5"
        assert rows[("byOutcome", "declined")] == "2"
        assert rows[("byDeclineReason", "consent_refused")] == "1"
        assert rows[("bySource", "IRS")] == "3"
        assert rows[("referralToConclusion", "p90Days")] == "17.6"
        assert rows[("wellbeingChecks", "overdue")] == "1"
        assert rows[("concerns", "medianMinutesToAcknowledge")] == "60.0"
        assert rows[("repHours", f"byRep.{REP_A}.hours")] == "1.58"
        assert rows[("repHours", f"byRep.{REP_A}.name")] == "Alice Archer"
        assert rows[("reoffending", "incidentsAfter")] == "8"
        assert rows[("feedback", "stages.conclusion.months.2026-01.total.answers")] == "6"
        assert rows[("feedback", "stages.conclusion.months.2026-01.byRole.harmer.answers")] == ""
        assert rows[("feedback", "stages.conclusion.months.2026-01.byRole.harmer.suppressed")] == "True"
        assert rows[("definitions", "repHours")] == service.DEFINITIONS["repHours"]
        assert SECRET_COMMENT not in r.text

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

    async def test_a_period_longer_than_three_years_is_refused(self, api: Api) -> None:
        r = await api.client.get(
            "/reports/summary?from=2023-01-01&to=2026-01-01", headers=api.keys.manager.headers
        )
        assert r.status_code == 422, r.text
        assert "1096 days" in r.json()["detail"]
        r = await api.client.get(
            "/reports/summary?from=2023-01-02&to=2026-01-01", headers=api.keys.manager.headers
        )
        assert r.status_code == 200, r.text

    async def test_empty_period_has_zeros_and_no_percentiles(self, api: Api, dataset: None) -> None:
        r = await api.client.get(
            "/reports/summary?prisonId=MDI&from=2020-01-01&to=2020-12-31", headers=api.keys.manager.headers
        )
        body = r.json()
        assert body["casesReferred"] == 0
        assert body["referralToConclusion"] == {"concluded": 0, "medianDays": None, "p90Days": None}
        assert body["wellbeingChecks"]["shareOnTime"] is None
        assert body["repHours"] == {"totalMinutes": 0, "totalHours": 0.0, "activities": 0, "byRep": []}


class TestPrintable:
    async def test_the_page_carries_every_section_and_a_chart_by_month(self, api: Api, dataset: None) -> None:
        r = await api.client.get(
            f"/reports/summary?prisonId=MDI&{PERIOD}",
            headers={**api.keys.manager.headers, "Accept": "text/html"},
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "style-src 'sha256-" in r.headers["content-security-policy"]
        page = r.text
        assert "<script" not in page
        for words in ("Cases referred", "Reps&#x27; hours", "Alice Archer", "Wellbeing checks", "Feedback"):
            assert words in page, words
        assert SECRET_COMMENT not in page
        charts = re.findall(r"<svg.*?</svg>", page, re.DOTALL)
        assert len(charts) == 3
        for chart in charts:
            ET.fromstring(chart)  # noqa: S314 - the service's own SVG, checked for being well formed
        referred, ended, rep_hours = charts
        # Referred: January C1, C2; February C3, C4, C9; March C5, C6, C10.
        assert [t for t in re.findall(r"<title>([^<]*)</title>", referred)][1:] == [
            "Jan 26: 2",
            "Feb 26: 3",
            "Mar 26: 3",
        ]
        # Ended: January C1, C2, C7; February C3; March C4.
        assert re.findall(r"<title>([^<]*)</title>", ended)[1:] == ["Jan 26: 3", "Feb 26: 1", "Mar 26: 1"]
        # Reps' hours: January 45 + 20 minutes, February 30, March 60 + 40.
        assert re.findall(r"<title>([^<]*)</title>", rep_hours)[1:] == [
            "Jan 26: 1.08",
            "Feb 26: 0.5",
            "Mar 26: 1.67",
        ]

    async def test_json_unless_html_is_preferred(self, api: Api, dataset: None) -> None:
        r = await api.client.get(
            f"/reports/summary?prisonId=MDI&{PERIOD}",
            headers={**api.keys.manager.headers, "Accept": "application/json, text/html;q=0.5"},
        )
        assert r.json()["casesReferred"] == 8


class TestChart:
    def test_two_years_of_bars_name_every_second_month_and_title_every_bar(self) -> None:
        labels = [f"M{i}" for i in range(24)]
        chart = printable.bar_chart("Cases referred", labels, [float(i) for i in range(24)])
        ET.fromstring(chart)  # noqa: S314 - the service's own SVG, checked for being well formed
        assert re.findall(r'text-anchor="middle">(M[0-9]+)<', chart) == labels[::2]
        assert len(re.findall(r"<rect ", chart)) == 24
        assert "<title>M23: 23</title>" in chart


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
