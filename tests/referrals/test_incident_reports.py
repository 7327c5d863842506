"""POST /referrals/incident-reports: an incident report, as the incident system returns it, becomes a case."""

import copy
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app.common.enums import Category
from app.db import Database
from app.models.audit import AuditRecord
from app.models.cases import Case
from app.referrals.incident_reports import category_for
from tests.conftest import FIXTURES
from tests.servers import load_fixture
from tests.support import Keys

PATH = "/referrals/incident-reports"


@pytest.fixture
def report() -> dict[str, Any]:
    """A report with details, in the shape the incident-reporting API returns it."""
    return load_fixture(FIXTURES, "incident-reporting/report-with-details.json")


async def audit_actions(db: Database, case_id: str) -> list[str]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(col(AuditRecord.action))
            .where(col(AuditRecord.chain) == case_id)
            .order_by(col(AuditRecord.seq))
        )
        return list(rows.scalars())


async def count_cases(db: Database) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(Case))).scalar_one())


def parties(case: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {p["prisonerNumber"]: (p["firstName"], p["lastName"], p["role"]) for p in case["parties"]}


class TestReferIncidentReport:
    async def test_sample_report_becomes_a_case_with_the_reports_parties(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, report: dict[str, Any]
    ) -> None:
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["prisonId"] == "MDI"
        assert case["state"] == "referred"
        assert case["category"] == "fight"  # DISORDER_2: the disorder family
        assert case["source"] == {"system": "INCIDENT_REPORTING", "reference": "MDI-40027316"}
        assert case["description"] == report["description"]
        assert case["referredBy"] == "PNAIR_GEN"
        # The report's local time (London, winter) is UTC.
        assert case["incidentOccurredAt"].startswith("2026-01-14T18:22:40")
        # Owen Tully, only present at the scene, is not a party.
        assert parties(case) == {
            "G7301KT": ("Rhys", "Carver", "both"),  # ACTIVE_INVOLVEMENT
            "H5528LW": ("Callum", "Ferris", "harmer"),  # ASSAILANT
        }
        assert r.headers["Location"] == f"/cases/{case['id']}"
        assert await audit_actions(db, case["id"]) == ["case.referred"]

    async def test_the_same_report_again_returns_the_same_case(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, report: dict[str, Any]
    ) -> None:
        first = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        again = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert first.status_code == 201
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["version"] == first.json()["version"]
        assert await count_cases(db) == 1
        assert await audit_actions(db, first.json()["id"]) == ["case.referred"]

    async def test_a_prisoner_newly_in_a_harm_role_is_added_with_an_audit_record(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, report: dict[str, Any]
    ) -> None:
        first = (await client.post(PATH, json=report, headers=keys.practitioner.headers)).json()
        updated = copy.deepcopy(report)
        updated["prisonersInvolved"].append(
            {
                "sequence": 3,
                "prisonerNumber": "A0003AA",
                "firstName": "First 3",
                "lastName": "Last 3",
                "prisonerRole": "VICTIM",
                "outcome": None,
                "comment": "Found injured",
            }
        )
        r = await client.post(PATH, json=updated, headers=keys.practitioner.headers)
        assert r.status_code == 200, r.text
        case = r.json()
        assert case["id"] == first["id"]
        assert parties(case)["A0003AA"] == ("First 3", "Last 3", "harmed")
        assert len(case["parties"]) == 3
        assert case["version"] == first["version"] + 1
        assert await audit_actions(db, case["id"]) == ["case.referred", "party.added"]
        assert await count_cases(db) == 1

    async def test_prisoners_only_present_are_not_parties(
        self, client: httpx.AsyncClient, keys: Keys, report: dict[str, Any]
    ) -> None:
        report["prisonersInvolved"].append(
            {
                "prisonerNumber": "A0004AA",
                "firstName": "Seen",
                "lastName": "Only",
                "prisonerRole": "PRESENT_AT_SCENE",
            }
        )
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 201
        assert "A0004AA" not in parties(r.json())

    async def test_a_report_with_no_one_in_a_harm_role_is_refused_saying_why(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, report: dict[str, Any]
    ) -> None:
        for prisoner in report["prisonersInvolved"]:
            prisoner["prisonerRole"] = "PRESENT_AT_SCENE"
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 422
        problem = r.json()
        assert problem["errorCode"] == "VALIDATION_FAILED"
        assert "no prisoner in a harm role" in problem["detail"]
        assert "G7301KT as PRESENT_AT_SCENE" in problem["detail"]
        assert problem["harmRoles"]["VICTIM"] == "harmed"
        assert await count_cases(db) == 0

    async def test_a_report_without_its_details_names_no_one_and_is_refused(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        # GET /incident-reports/{id} without /with-details leaves out the people involved.
        basic = load_fixture(FIXTURES, "incident-reporting/report-basic.json")
        r = await client.post(PATH, json=basic, headers=keys.practitioner.headers)
        assert r.status_code == 422, r.text
        assert r.json()["detail"].startswith("incident report 40027316 names no prisoner in a harm role")
        assert r.json()["detail"].endswith("it names no prisoner at all")
        assert await count_cases(db) == 0

    async def test_a_prisoner_number_not_in_the_noms_shape_is_refused(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, report: dict[str, Any]
    ) -> None:
        report["prisonersInvolved"][1]["prisonerNumber"] = "12345"
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["prisonersInvolved.1.prisonerNumber"]
        assert await count_cases(db) == 0

    async def test_fields_of_the_incident_system_not_used_here_are_accepted(
        self, client: httpx.AsyncClient, keys: Keys, report: dict[str, Any]
    ) -> None:
        report["aFieldAddedNextYear"] = {"anything": [1, 2, 3]}
        report["prisonersInvolved"][0]["anotherNewField"] = True
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 201, r.text

    async def test_the_same_prisoner_twice_in_harm_roles_is_one_party(
        self, client: httpx.AsyncClient, keys: Keys, report: dict[str, Any]
    ) -> None:
        report["prisonersInvolved"] = [
            {"prisonerNumber": "A0005AA", "firstName": "A", "lastName": "B", "prisonerRole": "VICTIM"},
            {"prisonerNumber": "A0005AA", "firstName": "A", "lastName": "B", "prisonerRole": "ASSAILANT"},
            {"prisonerNumber": "A0006AA", "firstName": "C", "lastName": "D", "prisonerRole": "ASSAILANT"},
        ]
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 201, r.text
        assert {n: role for n, (_f, _l, role) in parties(r.json()).items()} == {
            "A0005AA": "both",
            "A0006AA": "harmer",
        }

    async def test_a_prison_outside_the_callers_caseload_is_forbidden(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, report: dict[str, Any]
    ) -> None:
        report["location"] = "LEI"
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 403
        assert await count_cases(db) == 0

    async def test_reports_of_the_same_reference_in_two_prisons_are_two_cases(
        self, client: httpx.AsyncClient, keys: Keys, report: dict[str, Any]
    ) -> None:
        mdi = await client.post(PATH, json=report, headers=keys.referrer.headers)
        report["location"] = "LEI"
        lei = await client.post(PATH, json=report, headers=keys.referrer.headers)
        assert (mdi.status_code, lei.status_code) == (201, 201)
        assert mdi.json()["id"] != lei.json()["id"]
        assert lei.json()["reference"].startswith("LEI-RJ-")


class TestCategoryMapping:
    @pytest.mark.parametrize(
        ("incident_type", "category"),
        [
            ("ASSAULT_5", Category.ASSAULT),
            ("ASSAULT_1", Category.ASSAULT),
            ("DISORDER_2", Category.FIGHT),
            ("FIGHT", Category.FIGHT),
            ("BULLYING", Category.BULLYING),
            ("HOSTAGE_1", Category.THREATS),
            ("FIND_6", Category.OTHER),
            ("ATTEMPTED_ESCAPE_FROM_ESCORT_1", Category.OTHER),
            ("SOMETHING_NEW_3", Category.OTHER),
        ],
    )
    def test_incident_type_family_decides_the_category(self, incident_type: str, category: Category) -> None:
        assert category_for(incident_type) == category

    async def test_an_assault_report_is_an_assault_case(
        self, client: httpx.AsyncClient, keys: Keys, report: dict[str, Any]
    ) -> None:
        report["type"] = "ASSAULT_5"
        report["reportReference"] = str(uuid.uuid4().int)[:8]
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.json()["category"] == "assault"
