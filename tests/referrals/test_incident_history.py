"""Every incident report received is kept against each prisoner it names, referred or not; prison
movements are kept for custody; settings decide which reports become referrals."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.common.enums import IncidentFamily, IncidentPart
from app.config import get_settings
from app.db import Database
from app.models.cases import Case
from app.models.incidents import IncidentRecord, PrisonerMovement
from app.referrals.incident_history import family_for, part_for
from tests.conftest import FIXTURES
from tests.events.test_inbound import incident_system, post_event, received, released, report_created
from tests.servers import load_fixture
from tests.support import Keys

PATH = "/referrals/incident-reports"
__all__ = ["incident_system"]  # the stand-in's fixture, used below


@pytest.fixture
def report() -> dict[str, Any]:
    return load_fixture(FIXTURES, "incident-reporting/report-with-details.json")


async def records(db: Database) -> dict[str, tuple[Any, ...]]:
    async with db.transaction() as session:
        rows = (await session.execute(select(IncidentRecord))).scalars()
        return {
            r.prisoner_number: (
                r.report_key,
                r.family,
                r.part,
                r.incident_type,
                r.case_id is not None,
                r.prison_id,
            )
            for r in rows
        }


async def case_count(db: Database) -> int:
    async with db.transaction() as session:
        return len(list((await session.execute(select(Case))).scalars()))


class TestMappings:
    def test_type_families(self) -> None:
        assert family_for("ASSAULT_5") == IncidentFamily.VIOLENCE
        assert family_for("fight_1") == IncidentFamily.VIOLENCE
        assert family_for("DISORDER_2") == IncidentFamily.THREATS_AND_ANTISOCIAL
        assert family_for("BULLYING_1") == IncidentFamily.THREATS_AND_ANTISOCIAL
        assert family_for("FIND_6") == IncidentFamily.OTHER

    def test_prisoner_roles(self) -> None:
        assert part_for("ASSAILANT") == IncidentPart.PERPETRATOR
        assert part_for("ACTIVE_INVOLVEMENT") == IncidentPart.PERPETRATOR
        assert part_for("victim") == IncidentPart.VICTIM
        assert part_for("HOSTAGE") == IncidentPart.VICTIM
        assert part_for("PRESENT_AT_SCENE") == IncidentPart.OTHER


class TestKeptPerPrisoner:
    async def test_a_referred_report_is_kept_once_per_prisoner_however_often_sent(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, report: dict[str, Any]
    ) -> None:
        for expected in (201, 200):
            r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
            assert r.status_code == expected, r.text
        kept = await records(db)
        # The parties keep the type and their case; the prisoner present at the scene only
        # when, where, the family and their part.
        assert kept == {
            "G7301KT": ("MDI-40027316", "threats_and_antisocial", "perpetrator", "DISORDER_2", True, "MDI"),
            "H5528LW": ("MDI-40027316", "threats_and_antisocial", "perpetrator", "DISORDER_2", True, "MDI"),
            "K2210MB": ("MDI-40027316", "threats_and_antisocial", "other", None, False, "MDI"),
        }

    async def test_types_not_referred_are_only_kept(
        self,
        client: httpx.AsyncClient,
        keys: Keys,
        db: Database,
        report: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("RJ_REFERRAL_INCIDENT_TYPES", "ASSAULT,FIGHT_1")
        get_settings.cache_clear()
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 202, r.text
        assert r.json() == {
            "reportReference": "40027316",
            "location": "MDI",
            "referred": False,
            "prisonersRecorded": 3,
            "reason": "reports of type DISORDER_2 are not referred in MDI; "
            "it is kept for the outcomes report",
        }
        assert await case_count(db) == 0
        kept = await records(db)
        assert set(kept) == {"G7301KT", "H5528LW", "K2210MB"}
        assert all(row[3] is None and not row[4] for row in kept.values())
        # The same again: still one row each.
        assert (await client.post(PATH, json=report, headers=keys.practitioner.headers)).status_code == 202
        assert len(await records(db)) == 3

    async def test_a_prisons_own_list_replaces_the_national_one(
        self,
        client: httpx.AsyncClient,
        keys: Keys,
        db: Database,
        report: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("RJ_REFERRAL_INCIDENT_TYPES", "ASSAULT")
        monkeypatch.setenv("RJ_REFERRAL_INCIDENT_TYPES_BY_PRISON", '{"MDI": ["DISORDER"]}')
        get_settings.cache_clear()
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 201, r.text
        monkeypatch.setenv("RJ_REFERRAL_INCIDENT_TYPES_BY_PRISON", '{"MDI": []}')
        get_settings.cache_clear()
        report["reportReference"] = "40027317"
        r = await client.post(PATH, json=report, headers=keys.practitioner.headers)
        assert r.status_code == 202, r.text
        assert await case_count(db) == 1


class TestFromEvents:
    async def test_a_fetched_report_is_kept(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        r = await post_event(client, keys.referrer, report_created(server, system, eventId="evt-kept"))
        assert r.json()["status"] == "processed"
        assert set(await records(db)) == {"G7301KT", "H5528LW", "K2210MB"}

    async def test_a_report_refused_as_a_referral_is_still_kept(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        report = load_fixture(FIXTURES, "incident-reporting/report-with-details.json")
        report["prisonersInvolved"] = [
            p for p in report["prisonersInvolved"] if p["prisonerRole"] == "PRESENT_AT_SCENE"
        ]
        path = system.add(str(uuid.uuid4()), report)
        event = report_created(server, system, eventId="evt-none")
        event["detailUrl"] = server.url + path
        r = await post_event(client, keys.referrer, event)
        assert r.json()["status"] == "rejected"
        assert set(await records(db)) == {"K2210MB"}

    async def test_releases_transfers_and_receptions_are_kept_temporary_absences_not(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        def reason(event: dict[str, Any], value: str) -> dict[str, Any]:
            event["additionalInformation"]["reason"] = value
            return event

        for event in (
            released("A1111AA", eventId="m1"),
            reason(released("A1111AA", eventId="m2"), "TRANSFERRED"),
            reason(released("A1111AA", eventId="m3"), "TEMPORARY_ABSENCE_RELEASE"),
            received("A1111AA", eventId="m4"),
        ):
            assert (await post_event(client, keys.referrer, event)).status_code == 202
        async with db.transaction() as session:
            moves = (await session.execute(select(PrisonerMovement))).scalars()
            kept = sorted((m.direction, m.reason or "") for m in moves)
        assert kept[0][0] == "in"
        assert [k for k in kept if k[0] == "out"] == [("out", "RELEASED"), ("out", "TRANSFERRED")]
        assert len(kept) == 3
