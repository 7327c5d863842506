"""GET /events: the outbound events in order, each a valid prison domain event."""

import json
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlmodel import col

from app.cases import repository as repo
from app.db import Database
from app.events.service import (
    CASE_CLOSED,
    CASE_CREATED,
    CASE_STATE_CHANGED,
    OUTBOUND_TYPES,
    emit,
    emit_case_event,
)
from app.flows import publishing
from app.models.events import OutboxEvent
from tests.conftest import FIXTURES
from tests.support import Api, Keys

SCHEMA = json.loads((FIXTURES / "events/domain-event.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)


def envelope_errors(event: dict[str, Any]) -> list[str]:
    """Why an event does not validate against the prison domain-event schema (none when it does)."""
    return [e.message for e in VALIDATOR.iter_errors(event)]


async def read_feed(client: httpx.AsyncClient, key: Any, **params: Any) -> dict[str, Any]:
    r = await client.get("/events", params=params, headers=key.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


class TestSchema:
    def test_the_schema_checks_formats(self) -> None:
        # Guards the test itself: a time without an offset must fail, or nothing is being checked.
        bad = {"eventType": "x.y.z", "version": 1, "occurredAt": "2026-11-20T10:00:00"}
        assert envelope_errors(bad)

    @pytest.mark.parametrize("name", ["incident-report-created", "prisoner-released", "prisoner-received"])
    def test_the_inbound_fixture_events_are_envelopes(self, name: str) -> None:
        assert envelope_errors(json.loads((FIXTURES / "events" / f"{name}.json").read_text())) == []


class TestFeed:
    async def test_a_case_lifecycle_produces_events_in_order(self, api: Api, keys: Keys) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "accept")
        await api.must_fire(case["id"], "decline", reason="unsuitable")
        page = await read_feed(api.client, keys.manager)
        types = [e["eventType"] for e in page["content"]]
        assert types == [CASE_CREATED, CASE_STATE_CHANGED, CASE_CLOSED]
        cursors = [e["cursor"] for e in page["content"]]
        assert cursors == sorted(cursors) and len(set(cursors)) == 3
        assert page["nextCursor"] == cursors[-1]
        created = page["content"][0]
        assert created["additionalInformation"]["reference"] == case["reference"]
        assert created["detailUrl"] == f"http://rj.test/cases/{case['id']}"
        assert created["personReference"] == {
            "identifiers": [{"type": "NOMS", "value": "A1234BC"}, {"type": "NOMS", "value": "B2345CD"}]
        }

    async def test_every_event_the_service_emits_is_a_valid_prison_domain_event(
        self, api: Api, keys: Keys
    ) -> None:
        case = await api.to_state("follow_up")
        await api.must_fire(case["id"], "pause", until="2030-01-01T00:00:00+00:00", reason="cooling off")
        await api.to_state("closed")
        page = await read_feed(api.client, keys.admin, limit=500)
        assert {e["eventType"] for e in page["content"]} == {CASE_CREATED, CASE_STATE_CHANGED, CASE_CLOSED}
        for event in page["content"]:
            assert envelope_errors(event) == [], event

    @pytest.mark.parametrize("event_type", OUTBOUND_TYPES)
    async def test_each_outbound_type_is_a_valid_envelope(self, api: Api, event_type: str) -> None:
        case = await api.refer()
        async with api.db.transaction() as session:
            row = await repo.get_case(session, case["id"])
            assert row is not None
            with_case = emit_case_event(
                session, row, event_type=event_type, description="d", prisoner_numbers=["A1234BC"]
            )
            without_case = emit(
                session,
                event_type=event_type,
                description="d",
                prisoner_numbers=["A1234BC"],
                detail_url=None,
                additional={"prisonId": "MDI"},
                prison_id="MDI",
            )
        assert envelope_errors(with_case.payload) == []
        assert envelope_errors(without_case.payload) == []

    async def test_after_a_cursor_only_later_events_come(self, api: Api, keys: Keys) -> None:
        for _ in range(3):
            await api.refer()
        first = await read_feed(api.client, keys.referrer, limit=2)
        assert len(first["content"]) == 2
        rest = await read_feed(api.client, keys.referrer, after=first["nextCursor"])
        assert len(rest["content"]) == 1
        assert rest["content"][0]["cursor"] > first["nextCursor"]
        empty = await read_feed(api.client, keys.referrer, after=rest["nextCursor"])
        assert empty == {"content": [], "nextCursor": rest["nextCursor"]}

    async def test_callers_see_only_the_prisons_in_their_caseload(self, api: Api, keys: Keys) -> None:
        await api.refer(prison="MDI")
        await api.refer(key=keys.practitioner_lei, prison="LEI")
        mdi = await read_feed(api.client, keys.manager)
        every = await read_feed(api.client, keys.admin)
        assert [e["additionalInformation"]["prisonId"] for e in mdi["content"]] == ["MDI"]
        assert sorted(e["additionalInformation"]["prisonId"] for e in every["content"]) == ["LEI", "MDI"]

    async def test_roles_without_the_feed_are_refused(self, client: httpx.AsyncClient, keys: Keys) -> None:
        assert (await client.get("/events", headers=keys.auditor.headers)).status_code == 403
        assert (await client.get("/events", headers=keys.practitioner.headers)).status_code == 403

    async def test_a_limit_above_the_maximum_is_refused(self, client: httpx.AsyncClient, keys: Keys) -> None:
        r = await client.get("/events", params={"limit": 501}, headers=keys.admin.headers)
        assert r.status_code == 422

    async def test_a_refused_change_leaves_no_event(self, api: Api, keys: Keys) -> None:
        case = await api.refer()
        refused = await api.fire(case["id"], "close")
        assert refused.status_code == 409
        page = await read_feed(api.client, keys.admin)
        assert [e["eventType"] for e in page["content"]] == [CASE_CREATED]


class TestPublishing:
    async def test_an_event_committed_late_is_not_skipped_by_a_reader(
        self, api: Api, keys: Keys, db: Database, is_postgres: bool
    ) -> None:
        if not is_postgres:
            pytest.skip("SQLite has one writer: transactions cannot commit out of order")
        case = await api.refer()
        await read_feed(api.client, keys.admin)  # publish the creation
        slow = db.sessionmaker()
        try:
            row = await repo.get_case(slow, case["id"])
            assert row is not None
            late = emit_case_event(
                slow, row, event_type=CASE_STATE_CHANGED, description="late", prisoner_numbers=[]
            )
            await slow.flush()  # its position is taken now, before the next event's
            early = await api.refer()
            seen = await read_feed(api.client, keys.admin)
            assert [e["additionalInformation"]["caseId"] for e in seen["content"]] == [
                case["id"],
                early["id"],
            ]
            await slow.commit()
        finally:
            await slow.close()
        after = await read_feed(api.client, keys.admin, after=seen["nextCursor"])
        assert [e["eventId"] for e in after["content"]] == [str(late.event_id)]
        async with db.transaction() as session:
            positions = dict(
                (await session.execute(select(col(OutboxEvent.event_id), col(OutboxEvent.position)))).all()
            )
        # Written before the other event, published after it: the feed order is the publishing order.
        assert positions[late.event_id] < max(positions.values())

    async def test_publishing_twice_publishes_nothing_new(self, api: Api, db: Database) -> None:
        await api.refer()
        async with db.transaction() as session:
            assert await publishing.publish(session) == 1
        async with db.transaction() as session:
            assert await publishing.publish(session) == 0
