"""The outcomes report against a data set built by hand, whose figures are worked out below."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from app import clock
from app.db import Database
from app.models.cases import Case, Party
from app.models.incidents import IncidentRecord, PrisonerMovement
from app.reports.suppression import suppress, suppress_by
from tests.support import Api

PERIOD = "from=2026-01-01&to=2026-03-31"


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)


_n = 0


def _case(
    prison: str,
    created: str,
    *,
    concluded: str | None = None,
    outcome: str | None = None,
    declined: str | None = None,
) -> Case:
    global _n
    _n += 1
    return Case(
        reference=f"{prison}-RJ-{_n:06d}",
        prison_id=prison,
        state="closed" if declined else "follow_up",
        category="assault",
        source_system="INCIDENT_REPORTING",
        source_reference=f"{prison}-{_n}",
        referred_by="Officer Smith",
        outcome=outcome or ("unsuitable" if declined else None),
        decline_reason="unsuitable" if declined else None,
        concluded_at=at(concluded) if concluded else None,
        closed_at=at(declined) if declined else None,
        created_at=at(created),
        updated_at=at(created),
    )


def _party(case: Case, number: str, *, participating: bool = True) -> Party:
    return Party(
        case_id=case.id,
        prisoner_number=number,
        first_name="First",
        last_name="Last",
        role="both",
        created_at=case.created_at,
        participating=participating,
    )


def _incident(
    number: str, day: str, family: str, part: str, *, key: str | None = None, case: Case | None = None
) -> IncidentRecord:
    return IncidentRecord(
        report_key=key or f"MDI-{uuid.uuid4().hex[:8]}",
        prisoner_number=number,
        occurred_at=at(day),
        prison_id="MDI",
        family=family,
        part=part,
        case_id=case.id if case else None,
        received_at=at(day),
    )


def _move(number: str, day: str, direction: str) -> PrisonerMovement:
    return PrisonerMovement(
        prisoner_number=number, occurred_at=at(day), direction=direction, received_at=at(day)
    )


P = [f"A{n:04d}AA" for n in range(1, 10)]  # P[1]..P[8] are the parties of C1
Q = [f"B{n:04d}BB" for n in range(1, 6)]  # Q[1]..Q[4] the comparison's other people


async def build(db: Database) -> None:
    """C1 (MDI): referred 2026-01-10, concluded 2026-02-10; parties P1-P8.

    - P1-P6 took part and were held throughout: withData at 3 and 6 months; at 12 months the
      after-window (to 2027-02-10) has not elapsed on 2026-12-15, so nobody has data.
    - P7 took part but was released on 2026-03-01 (no reception after): never withData, and
      their incident before does not count.
    - P8 withdrew (not participating at conclusion): in the comparison group.
    - P1-P6 share the index incident (2026-01-05, the report C1 was made from): excluded.
    - P1-P6: a fight 2025-12-01 as perpetrator (before 3 and 6).
    - P1: a threat 2025-08-01 as victim (before 6 only).
    - P1-P5: an assault 2026-04-01 as victim (after 3 and 6).
    - P2: a find 2026-07-15, other part (after 6 only).
    - P3: an incident during the case (2026-01-20): in neither window.
    - P4: released 2025-03-01 and received 2025-06-01, before any window it has: held throughout.

    Comparison: D1 (MDI) referred 2026-01-20, declined 2026-02-01: Q1-Q3; with P8, 4 people in
    MDI. W1 (LEI) referred 2026-01-15, withdrawn 2026-03-01: Q4, the fifth across the estate.
    Each has a bullying incident 2025-12-15 as perpetrator (before 3 and 6).
    C3 (MDI), concluded 2026-04-05, outside the period: R1 not counted.
    """
    c1 = _case("MDI", "2026-01-10", concluded="2026-02-10", outcome="resolved")
    d1 = _case("MDI", "2026-01-20", declined="2026-02-01")
    w1 = _case("LEI", "2026-01-15", concluded="2026-03-01", outcome="withdrawn")
    c3 = _case("MDI", "2026-02-20", concluded="2026-04-05", outcome="resolved")
    async with db.transaction() as session:
        session.add_all([c1, d1, w1, c3])
        await session.flush()
        session.add_all([_party(c1, n) for n in P[1:8]] + [_party(c1, P[8], participating=False)])
        session.add_all([_party(d1, n) for n in Q[1:4]] + [_party(w1, Q[4]), _party(c3, "R0001RR")])
        rows = []
        for n in P[1:7]:
            rows.append(_incident(n, "2026-01-05", "violence", "perpetrator", key="MDI-IDX", case=c1))
            rows.append(_incident(n, "2025-12-01", "violence", "perpetrator"))
        rows.append(_incident(P[7], "2025-12-01", "violence", "perpetrator"))
        rows.append(_incident(P[1], "2025-08-01", "threats_and_antisocial", "victim"))
        rows += [_incident(n, "2026-04-01", "violence", "victim") for n in P[1:6]]
        rows.append(_incident(P[2], "2026-07-15", "other", "other"))
        rows.append(_incident(P[3], "2026-01-20", "violence", "perpetrator"))
        rows += [_incident(n, "2025-12-15", "threats_and_antisocial", "perpetrator") for n in (*Q[1:5], P[8])]
        rows.append(_incident("R0001RR", "2026-01-01", "violence", "perpetrator"))
        session.add_all(rows)
        session.add_all(
            [
                _move(P[7], "2026-03-01", "out"),
                _move(P[4], "2025-03-01", "out"),
                _move(P[4], "2025-06-01", "in"),
            ]
        )


def counts(before: int | None, after: int | None) -> dict[str, Any]:
    return {"incidentsBefore": before, "incidentsAfter": after, "suppressed": before is None or after is None}


def hidden() -> dict[str, Any]:
    return counts(None, None)


UNELAPSED_7 = {
    "months": 12,
    "participants": 7,
    "withData": 0,
    "incidentsBefore": None,
    "incidentsAfter": None,
    "byCategory": {"violence": hidden(), "threats_and_antisocial": hidden(), "other": hidden()},
    "byRole": {"perpetrator": hidden(), "victim": hidden(), "other": hidden()},
    "suppressed": True,
}
PARTICIPANTS_MDI = [
    {
        "months": 3,
        "participants": 7,
        "withData": 6,
        "incidentsBefore": 6,
        "incidentsAfter": 5,
        "byCategory": {
            "violence": counts(6, 5),
            "threats_and_antisocial": counts(0, 0),
            "other": counts(0, 0),
        },
        "byRole": {"perpetrator": counts(6, 0), "victim": counts(0, 5), "other": counts(0, 0)},
        "suppressed": False,
    },
    {
        # One person's threat before and one person's find after are hidden, and with each the
        # other figure of its set that would give it away.
        "months": 6,
        "participants": 7,
        "withData": 6,
        "incidentsBefore": 7,
        "incidentsAfter": 6,
        "byCategory": {
            "violence": counts(None, None),
            "threats_and_antisocial": counts(None, 0),
            "other": counts(0, None),
        },
        "byRole": {"perpetrator": counts(None, 0), "victim": counts(None, None), "other": counts(0, None)},
        "suppressed": True,
    },
    UNELAPSED_7,
]


def four_people(months: int) -> dict[str, Any]:
    return {
        "months": months,
        "participants": None,
        "withData": None if months < 12 else 0,
        "incidentsBefore": None,
        "incidentsAfter": None,
        "byCategory": {"violence": hidden(), "threats_and_antisocial": hidden(), "other": hidden()},
        "byRole": {"perpetrator": hidden(), "victim": hidden(), "other": hidden()},
        "suppressed": True,
    }


def five_people(months: int) -> dict[str, Any]:
    if months == 12:
        return {**UNELAPSED_7, "participants": 5}
    return {
        "months": months,
        "participants": 5,
        "withData": 5,
        "incidentsBefore": 5,
        "incidentsAfter": 0,
        "byCategory": {
            "violence": counts(0, 0),
            "threats_and_antisocial": counts(5, 0),
            "other": counts(0, 0),
        },
        "byRole": {"perpetrator": counts(5, 0), "victim": counts(0, 0), "other": counts(0, 0)},
        "suppressed": False,
    }


@pytest.fixture
async def dataset(db: Database) -> None:
    await build(db)
    clock.freeze(at("2026-12-15"))


class TestOutcomes:
    async def test_figures_for_one_prison_match_the_hand_built_set(self, api: Api, dataset: None) -> None:
        r = await api.client.get(f"/reports/outcomes?prisonId=MDI&{PERIOD}", headers=api.keys.manager.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["prisonIds"], body["fromDate"], body["toDate"]) == (["MDI"], "2026-01-01", "2026-03-31")
        assert body["periods"] == PARTICIPANTS_MDI
        assert body["comparison"] == {"periods": [four_people(m) for m in (3, 6, 12)]}
        assert {"participants", "before", "after", "withData", "byCategory", "byRole"} <= set(
            body["definitions"]
        )

    async def test_the_fifth_person_lifts_the_suppression(self, api: Api, dataset: None) -> None:
        r = await api.client.get(f"/reports/outcomes?{PERIOD}", headers=api.keys.admin.headers)
        body = r.json()
        assert body["prisonIds"] is None
        assert body["periods"] == PARTICIPANTS_MDI
        assert body["comparison"] == {"periods": [five_people(m) for m in (3, 6, 12)]}

    async def test_managers_default_to_their_caseload(self, api: Api, dataset: None) -> None:
        r = await api.client.get(f"/reports/outcomes?{PERIOD}", headers=api.keys.manager.headers)
        assert r.json()["periods"] == PARTICIPANTS_MDI
        assert r.json()["prisonIds"] == ["MDI"]

    async def test_the_index_incident_would_count_without_its_case(
        self, api: Api, dataset: None, db: Database
    ) -> None:
        async with db.transaction() as session:
            await session.execute(
                update(IncidentRecord).values(case_id=None).where(col(IncidentRecord.report_key) == "MDI-IDX")
            )
        r = await api.client.get(f"/reports/outcomes?prisonId=MDI&{PERIOD}", headers=api.keys.manager.headers)
        assert r.json()["periods"][0]["incidentsBefore"] == 12

    async def test_a_reception_after_the_release_brings_the_person_back(
        self, api: Api, dataset: None, db: Database
    ) -> None:
        async with db.transaction() as session:
            session.add(_move(P[7], "2026-03-02", "in"))
        r = await api.client.get(f"/reports/outcomes?prisonId=MDI&{PERIOD}", headers=api.keys.manager.headers)
        # Away for a day inside the window: still not held throughout.
        assert r.json()["periods"][0]["withData"] == 6

    async def test_an_empty_period(self, api: Api, dataset: None) -> None:
        r = await api.client.get(
            "/reports/outcomes?prisonId=MDI&from=2020-01-01&to=2020-12-31", headers=api.keys.manager.headers
        )
        period = r.json()["periods"][0]
        assert (period["participants"], period["withData"], period["incidentsBefore"]) == (0, 0, None)

    async def test_prison_outside_the_caseload_is_refused(self, api: Api) -> None:
        r = await api.client.get(f"/reports/outcomes?prisonId=LEI&{PERIOD}", headers=api.keys.manager.headers)
        assert r.status_code == 403

    async def test_roles_without_reports_are_refused(self, api: Api) -> None:
        for key in (api.keys.practitioner, api.keys.auditor, api.keys.referrer):
            r = await api.client.get("/reports/outcomes", headers=key.headers)
            assert r.status_code == 403

    async def test_from_after_to_is_refused(self, api: Api) -> None:
        r = await api.client.get(
            "/reports/outcomes?from=2026-03-01&to=2026-01-01", headers=api.keys.manager.headers
        )
        assert r.status_code == 422


class TestSuppression:
    def test_four_people_are_hidden_and_five_shown(self) -> None:
        assert suppress({"a": 4}) == {"a": None}
        assert suppress({"b": 5}) == {"b": 5}
        assert suppress({"c": 0}) == {"c": 0}
        # In one set, the 4 alone would follow from a total: the 5 goes too, the 0 stays.
        assert suppress({"a": 4, "b": 5, "c": 0}) == {"a": None, "b": None, "c": 0}

    def test_a_lone_hidden_figure_takes_the_smallest_shown_with_it(self) -> None:
        assert suppress_by({"x": 9, "y": 2, "z": 30}, {"x": 6, "y": 1, "z": 20}) == {
            "x": None,
            "y": None,
            "z": 30,
        }

    def test_nothing_else_to_hide(self) -> None:
        assert suppress({"only": 3}) == {"only": None}
        assert suppress({"a": 3, "b": 0}) == {"a": None, "b": 0}
