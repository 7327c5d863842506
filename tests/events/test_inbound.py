"""POST /events/inbound: prison domain events in, with a real stand-in for the incident system."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app import clock
from app.config import get_settings
from app.db import Database
from app.flows import inbound_events
from app.models.audit import AuditRecord
from app.models.cases import Case
from app.models.tasks import Task
from app.timed_work.runner import run_once
from tests.conftest import FIXTURES
from tests.servers import IncidentSystem, LocalServer, load_fixture
from tests.support import Api, Keys

TOKEN = "stand-in-token"


@pytest.fixture
def incident_system(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Iterator[tuple[IncidentSystem, LocalServer]]:
    """The incident-reporting stand-in, served on 127.0.0.1 and configured as the service's source."""
    system = IncidentSystem(TOKEN)
    server = LocalServer(system).start()
    monkeypatch.setenv("RJ_INCIDENT_REPORTING_URL", server.url)
    monkeypatch.setenv("RJ_INCIDENT_REPORTING_TOKEN", TOKEN)
    monkeypatch.setenv("RJ_INCIDENT_REPORTING_TRIES", "2")
    monkeypatch.setenv("RJ_INCIDENT_REPORTING_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("RJ_INCIDENT_REPORTING_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    yield system, server
    server.stop()


def report_created(server: LocalServer, system: IncidentSystem, **changes: Any) -> dict[str, Any]:
    """The fixture event, pointing at the fixture report served by the stand-in."""
    report = load_fixture(FIXTURES, "incident-reporting/report-with-details.json")
    report_id = str(uuid.uuid4())
    path = system.add(report_id, report)
    event = load_fixture(FIXTURES, "events/incident-report-created.json")
    event["detailUrl"] = server.url + path
    event["additionalInformation"]["id"] = report_id
    return {**event, **changes}


async def post_event(client: httpx.AsyncClient, key: Any, event: dict[str, Any]) -> httpx.Response:
    return await client.post("/events/inbound", json=event, headers=key.headers)


async def cases(db: Database) -> list[Case]:
    async with db.transaction() as session:
        return list((await session.execute(select(Case))).scalars())


class TestIncidentReportCreated:
    async def test_the_event_becomes_a_case_from_the_fetched_report(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        r = await post_event(client, keys.referrer, report_created(server, system, eventId="evt-1"))
        assert r.status_code == 202, r.text
        record = r.json()
        assert record["status"] == "processed"
        assert record["attempts"] == 1
        made = await cases(db)
        assert [str(c.id) for c in made] == record["caseIds"]
        assert made[0].source_reference == "MDI-40027316"
        assert made[0].created_by_client_id == keys.referrer.client_id
        case = (await client.get(f"/cases/{made[0].id}", headers=keys.practitioner.headers)).json()
        assert {p["prisonerNumber"]: p["role"] for p in case["parties"]} == {
            "G7301KT": "both",
            "H5528LW": "harmer",
        }
        # The referrer that sent the event sees its referral.
        assert (await client.get(f"/cases/{made[0].id}", headers=keys.referrer.headers)).status_code == 200

    async def test_the_same_event_again_is_answered_without_acting_twice(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        event = report_created(server, system, eventId="evt-2")
        first = await post_event(client, keys.referrer, event)
        again = await post_event(client, keys.referrer, event)
        assert (first.status_code, again.status_code) == (202, 200)
        assert again.json()["id"] == first.json()["id"]
        assert len(system.requests) == 1
        assert len(await cases(db)) == 1

    async def test_without_an_event_id_the_same_body_is_the_same_event(
        self, client: httpx.AsyncClient, keys: Keys, incident_system: Any
    ) -> None:
        system, server = incident_system
        event = report_created(server, system)
        first = await post_event(client, keys.referrer, event)
        again = await post_event(client, keys.referrer, event)
        assert (first.status_code, again.status_code) == (202, 200)
        assert again.json()["id"] == first.json()["id"]

    async def test_two_events_for_one_report_make_one_case(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        event = report_created(server, system, eventId="evt-3")
        first = await post_event(client, keys.referrer, event)
        second = await post_event(client, keys.referrer, {**event, "eventId": "evt-4"})
        assert first.json()["caseIds"] == second.json()["caseIds"]
        assert len(await cases(db)) == 1

    async def test_the_incident_system_down_leaves_a_recorded_failure_that_replays_once_it_is_back(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        event = report_created(server, system, eventId="evt-5")
        server.stop()
        r = await post_event(client, keys.referrer, event)
        assert r.status_code == 202, r.text
        failed = r.json()
        assert failed["status"] == "failed"
        assert "could not be reached" in failed["error"]
        assert "after 2 tries" in failed["error"]
        assert failed["nextAttemptAt"] is not None
        assert failed["caseIds"] == []
        assert await cases(db) == []
        listed = await client.get("/events/inbound", params={"status": "failed"}, headers=keys.admin.headers)
        assert [e["id"] for e in listed.json()["content"]] == [failed["id"]]

        server.start()
        replayed = await client.post(f"/events/inbound/{failed['id']}/replay", headers=keys.admin.headers)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["status"] == "processed"
        assert replayed.json()["attempts"] == 2
        assert replayed.json()["error"] is None
        assert [str(c.id) for c in await cases(db)] == replayed.json()["caseIds"]
        async with db.transaction() as session:
            audited = (
                await session.execute(
                    select(func.count())
                    .select_from(AuditRecord)
                    .where(col(AuditRecord.action) == "inbound-event.replayed")
                )
            ).scalar_one()
        assert audited == 1

    async def test_the_timed_work_retries_a_failure_once_its_back_off_has_passed(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        clock.freeze(clock.now())
        server.stop()
        failed = (
            await post_event(client, keys.referrer, report_created(server, system, eventId="evt-6"))
        ).json()
        server.start()
        assert (await run_once(db))["inboundRetried"] == 0  # not due yet
        clock.advance(timedelta(seconds=get_settings().inbound_retry_max_seconds + 1))
        assert (await run_once(db))["inboundRetried"] == 1
        record = (await client.get(f"/events/inbound/{failed['id']}", headers=keys.admin.headers)).json()
        assert record["status"] == "processed"
        assert len(await cases(db)) == 1

    async def test_the_same_event_sent_again_after_a_failure_is_tried_again(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        event = report_created(server, system, eventId="evt-7")
        server.stop()
        assert (await post_event(client, keys.referrer, event)).json()["status"] == "failed"
        server.start()
        again = await post_event(client, keys.referrer, event)
        assert again.status_code == 202
        assert again.json()["status"] == "processed"

    async def test_a_detail_url_outside_the_incident_system_is_not_fetched(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        for url in (
            "http://169.254.169.254/latest/meta-data/",
            f"{server.url}.evil.example/incident-reports/1/with-details",
            f"http://user@127.0.0.1:{server.port}/incident-reports/1/with-details",
        ):
            event = report_created(server, system, detailUrl=url)
            record = (await post_event(client, keys.referrer, event)).json()
            assert record["status"] == "rejected", url
            assert "not under" in record["error"]
        assert system.requests == []

    async def test_a_report_the_incident_system_does_not_have_is_rejected(
        self, client: httpx.AsyncClient, keys: Keys, incident_system: Any
    ) -> None:
        system, server = incident_system
        event = report_created(server, system, detailUrl=f"{server.url}/incident-reports/nope/with-details")
        record = (await post_event(client, keys.referrer, event)).json()
        assert record["status"] == "rejected"
        assert "404" in record["error"]

    async def test_a_report_of_a_prison_outside_the_senders_caseload_is_rejected(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        event = report_created(server, system)
        system.reports[event["additionalInformation"]["id"]]["location"] = "BXI"
        record = (await post_event(client, keys.referrer, event)).json()
        assert record["status"] == "rejected"
        assert "BXI" in record["error"]
        assert await cases(db) == []

    async def test_the_event_is_about_the_prison_of_the_report_fetched(
        self, client: httpx.AsyncClient, keys: Keys, db: Database, incident_system: Any
    ) -> None:
        system, server = incident_system
        event = report_created(server, system)
        event["additionalInformation"]["location"] = "MDI"
        system.reports[event["additionalInformation"]["id"]]["location"] = "LEI"
        record = (await post_event(client, keys.referrer, event)).json()
        assert (record["status"], record["prisonId"]) == ("processed", "LEI")

    async def test_an_event_whose_report_is_not_fetched_is_about_the_prison_it_names(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        event = load_fixture(FIXTURES, "events/incident-report-created.json")
        record = (await post_event(client, keys.referrer, event)).json()
        assert (record["status"], record["prisonId"]) == ("failed", "MDI")

    async def test_without_the_incident_system_configured_the_event_fails_to_be_retried(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        event = load_fixture(FIXTURES, "events/incident-report-created.json")
        record = (await post_event(client, keys.referrer, event)).json()
        assert record["status"] == "failed"
        assert "RJ_INCIDENT_REPORTING_URL" in record["error"]


class TestEnvelope:
    async def test_an_unknown_event_type_is_accepted_and_ignored(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        event = {
            "eventType": "prison.something.else",
            "version": 1,
            "occurredAt": "2026-11-21T09:05:00+00:00",
        }
        r = await post_event(client, keys.referrer, event)
        assert r.status_code == 202
        assert r.json()["status"] == "ignored"
        assert r.json()["attempts"] == 0

    @pytest.mark.parametrize("missing", ["eventType", "version", "occurredAt"])
    async def test_an_envelope_without_a_required_member_is_refused(
        self, client: httpx.AsyncClient, keys: Keys, missing: str
    ) -> None:
        event = {"eventType": "x.y.z", "version": 1, "occurredAt": "2026-11-21T09:05:00+00:00"}
        del event[missing]
        r = await post_event(client, keys.referrer, event)
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == [missing]

    async def test_roles_that_do_not_send_events_are_refused(
        self, client: httpx.AsyncClient, keys: Keys
    ) -> None:
        event = {"eventType": "x.y.z", "version": 1, "occurredAt": "2026-11-21T09:05:00+00:00"}
        assert (await post_event(client, keys.practitioner, event)).status_code == 403
        assert (await client.post("/events/inbound", json=event)).status_code == 401

    async def test_only_an_admin_replays(self, client: httpx.AsyncClient, keys: Keys) -> None:
        event = {"eventType": "x.y.z", "version": 1, "occurredAt": "2026-11-21T09:05:00+00:00"}
        record = (await post_event(client, keys.referrer, event)).json()
        path = f"/events/inbound/{record['id']}/replay"
        assert (await client.post(path, headers=keys.referrer.headers)).status_code == 403
        refused = await client.post(path, headers=keys.admin.headers)
        assert refused.status_code == 409  # ignored, not failed
        assert (
            await client.post(f"/events/inbound/{uuid.uuid4()}/replay", headers=keys.admin.headers)
        ).status_code == 404


def movement(name: str, number: str, **changes: Any) -> dict[str, Any]:
    """A movement event from the fixtures, about the prisoner `number`."""
    event = load_fixture(FIXTURES, f"events/{name}.json")
    event["additionalInformation"]["nomsNumber"] = number
    event["personReference"]["identifiers"][0]["value"] = number
    return {**event, **changes}


def released(number: str = "A1234BC", **changes: Any) -> dict[str, Any]:
    return movement("prisoner-released", number, **changes)


def received(number: str = "A1234BC", **changes: Any) -> dict[str, Any]:
    return movement("prisoner-received", number, **changes)


class TestPrisonerMovements:
    async def test_a_release_flags_the_prisoners_open_cases_and_asks_for_a_review(
        self, api: Api, keys: Keys, db: Database
    ) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "accept")
        other = await api.refer(
            parties=[("C3456DE", "Ola", "Ade", "harmed"), ("D4567EF", "Sam", "Bee", "harmer")]
        )
        r = await post_event(api.client, keys.referrer, released(eventId="rel-1"))
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "processed"
        assert r.json()["caseIds"] == [case["id"]]

        seen = await api.case(case["id"])
        assert seen["version"] == case["version"] + 2  # accepted, then flagged
        assert seen["flags"] == [
            {
                "kind": "prisoner_released",
                "at": "2026-03-02T10:15:00Z",
                "detail": "Dean Walsh (A1234BC) was released from MDI on 2026-03-02 "
                "(RELEASED, Movement reason code CR)",
                "prisonerNumber": "A1234BC",
            }
        ]
        assert (await api.case(other["id"]))["flags"] == []
        async with db.transaction() as session:
            tasks = list(
                (await session.execute(select(Task).where(col(Task.kind) == "practitioner_review"))).scalars()
            )
        assert len(tasks) == 1
        assert str(tasks[0].case_id) == case["id"]
        assert tasks[0].assignee_type == "practitioner"
        assert tasks[0].assignee_id == keys.practitioner.client_id
        timeline = (
            await api.client.get(f"/cases/{case['id']}/timeline", headers=keys.practitioner.headers)
        ).json()
        assert timeline[-1]["action"] == "case.flagged"
        assert timeline[-1]["text"].startswith(
            "Flagged for the practitioner's review: Dean Walsh (A1234BC) was released"
        )

    async def test_a_reception_flags_with_its_own_kind(self, api: Api, keys: Keys) -> None:
        case = await api.refer()
        record = (await post_event(api.client, keys.referrer, received(eventId="rec-1"))).json()
        assert record["caseIds"] == [case["id"]]
        flags = (await api.case(case["id"]))["flags"]
        assert [f["kind"] for f in flags] == ["prisoner_received"]
        assert flags[0]["at"] == "2026-02-09T14:40:00Z"
        assert flags[0]["detail"] == (
            "Dean Walsh (A1234BC) was received into MDI on 2026-02-09 (TRANSFERRED, Movement reason code INT)"
        )

    async def test_closed_cases_are_left_alone(self, api: Api, keys: Keys) -> None:
        closed = await api.to_state("closed")
        record = (await post_event(api.client, keys.referrer, released(eventId="rel-2"))).json()
        assert record["status"] == "processed"
        assert record["caseIds"] == []
        assert (await api.case(closed["id"]))["flags"] == []

    async def test_the_same_release_twice_flags_once(self, api: Api, keys: Keys) -> None:
        case = await api.refer()
        event = released(eventId="rel-3")
        await post_event(api.client, keys.referrer, event)
        await post_event(api.client, keys.referrer, event)
        assert len((await api.case(case["id"]))["flags"]) == 1

    async def test_only_cases_in_the_senders_caseload_are_flagged(
        self, api: Api, keys: Keys, db: Database
    ) -> None:
        lei = await api.refer(key=keys.practitioner_lei, prison="LEI")
        from tests.support import make_key

        mdi_only = await make_key(db, role="referrer", prisons=["MDI"])
        record = (await post_event(api.client, mdi_only, released(eventId="rel-4"))).json()
        assert record["caseIds"] == []
        assert (await api.case(lei["id"], key=keys.practitioner_lei))["flags"] == []

    async def test_an_event_without_a_prisoner_number_is_rejected(self, api: Api, keys: Keys) -> None:
        event = released(number="not-a-number", eventId="rel-5")
        record = (await post_event(api.client, keys.referrer, event)).json()
        assert record["status"] == "rejected"
        assert "names no prisoner" in record["error"]


class TestService:
    async def test_a_processed_event_is_not_taken_again(self, api: Api, keys: Keys, db: Database) -> None:
        case = await api.refer()
        first = (
            await post_event(api.client, keys.referrer, released(number="Z9999ZZ", eventId="rel-6"))
        ).json()
        # A processed event is not taken again by a retry, whoever asks.
        again = await inbound_events.process(db, uuid.UUID(first["id"]), request_id=None, retry=True)
        assert again.status == "processed"
        assert (await api.case(case["id"]))["flags"] == []
