"""The referral route's direct path (`app.api.direct.make_referral`): on PostgreSQL a referral of
a source record not referred before, asked for plainly, is made on a driver connection by the
service's own `refer`; it answers, stores and refuses as the route does, and leaves to the route
every referral of a record referred before."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from app.models.audit import AuditRecord
from app.models.events import OutboxEvent
from tests.records import audit_records, count_audit_records, count_cases, events
from tests.support import Api, Key, answered, direct_answers, referral_body


@pytest.fixture
def referred_directly(monkeypatch: pytest.MonkeyPatch, is_postgres: bool) -> list[bool]:
    """For each referral the direct path took up, whether it answered it."""
    if not is_postgres:
        pytest.skip("the direct path is PostgreSQL's")
    return direct_answers(monkeypatch, "refer")


async def refer_both_ways(api: Api, key: Key, **body: Any) -> tuple[httpx.Response, httpx.Response]:
    """The same referral (each of its own source record) asked for plainly, and the usual way:
    with an idempotency key, which the direct path leaves to the route."""
    plain = await api.client.post("/referrals", json=referral_body(**body), headers=key.headers)
    usual = await api.client.post(
        "/referrals",
        json=referral_body(**body),
        headers={**key.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    return plain, usual


# What differs between two cases made alike: their own ids, numbers, times and source records.
_OWN = {"id", "reference", "createdAt", "updatedAt"}


def _alike(view: Any) -> Any:
    if isinstance(view, dict):
        return {k: "*" if k in _OWN or k == "source" else _alike(v) for k, v in view.items()}
    if isinstance(view, list):
        return [_alike(v) for v in view]
    return view


def _record(record: AuditRecord) -> tuple[str, Any, Any]:
    return record.action, record.actor, _alike(record.after)


def _event(event: OutboxEvent) -> tuple[str, Any]:
    return event.event_type, sorted(event.payload)


class TestReferralsMadeDirectly:
    async def test_answered_and_stored_as_the_route_does(
        self, api: Api, referred_directly: list[bool]
    ) -> None:
        for key in (api.keys.referrer, api.keys.practitioner):
            plain, usual = await refer_both_ways(api, key)
            assert plain.status_code == usual.status_code == 201, plain.text
            assert plain.headers["content-type"] == usual.headers["content-type"]
            made = plain.json()
            assert plain.headers["location"] == f"/cases/{made['id']}"
            assert plain.headers["etag"] == usual.headers["etag"] == '"1"'
            assert _alike(made) == _alike(usual.json())
            # Read back, the case is the one answered.
            read = await api.client.get(f"/cases/{made['id']}?usual=1", headers=key.headers)
            assert read.json() == made
            # Its audit record and its event, as the route writes them.
            ours = await audit_records(api.db, made["id"])
            theirs = await audit_records(api.db, usual.json()["id"])
            assert [_record(r) for r in ours] == [_record(r) for r in theirs]
            assert len(ours) == 1
            ours_events = [_event(e) for e in await events(api.db, made["id"])]
            assert ours_events == [_event(e) for e in await events(api.db, usual.json()["id"])]
            assert len(ours_events) == 1
        assert referred_directly == [True, True]

    async def test_numbered_in_turn_with_the_routes_cases(
        self, api: Api, referred_directly: list[bool]
    ) -> None:
        plain, usual = await refer_both_ways(api, api.keys.practitioner)
        again, _ = await refer_both_ways(api, api.keys.practitioner)
        numbers = [int(r.json()["reference"].rsplit("-", 1)[1]) for r in (plain, usual, again)]
        assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]

    async def test_a_record_referred_before_is_left_to_the_route(
        self, api: Api, referred_directly: list[bool]
    ) -> None:
        body = referral_body(reference="IR-DIRECT-1")
        first = await api.client.post("/referrals", json=body, headers=api.keys.referrer.headers)
        assert first.status_code == 201, first.text
        records = await count_audit_records(api.db)
        again = await api.client.post("/referrals", json=body, headers=api.keys.referrer.headers)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        # Another prison's practitioner learns only that it exists.
        elsewhere = referral_body(prison="LEI", reference="IR-DIRECT-1")
        r = await api.client.post("/referrals", json=elsewhere, headers=api.keys.practitioner_lei.headers)
        assert r.status_code == 409, r.text
        assert await count_cases(api.db) == 1
        assert await count_audit_records(api.db) == records
        assert referred_directly == [True, False, False]

    async def test_concurrent_duplicates_make_one_case(self, api: Api, referred_directly: list[bool]) -> None:
        body = referral_body(reference="IR-DIRECT-2")
        answers = await asyncio.gather(
            *(api.client.post("/referrals", json=body, headers=api.keys.referrer.headers) for _ in range(6))
        )
        assert sorted(r.status_code for r in answers) == [200] * 5 + [201]
        assert len({r.json()["id"] for r in answers}) == 1
        assert await count_cases(api.db) == 1
        assert len(await audit_records(api.db, answers[0].json()["id"])) == 1
        assert referred_directly.count(True) == 1


class TestRefusals:
    async def test_same_refusals_as_the_route(self, api: Api, referred_directly: list[bool]) -> None:
        twice = [("A1234BC", "Dean", "Walsh", "harmed"), ("A1234BC", "Dean", "Walsh", "harmer")]
        refusals: list[tuple[Key, dict[str, Any], int]] = [
            (api.keys.auditor, {}, 403),  # roles that refer nothing
            (api.keys.manager, {}, 403),
            (api.keys.admin, {}, 403),
            (api.keys.practitioner_lei, {"prison": "MDI"}, 403),  # outside the caller's prisons
            (api.keys.practitioner, {"parties": twice}, 422),  # the same prisoner named twice
        ]
        records = await count_audit_records(api.db)
        for key, body, status in refusals:
            plain, usual = await refer_both_ways(api, key, **body)
            assert plain.status_code == status, plain.text
            assert answered(plain) == answered(usual)
        assert referred_directly == [True] * len(refusals)
        assert await count_cases(api.db) == 0
        assert await count_audit_records(api.db) == records

    async def test_what_the_route_reads_itself(self, api: Api, referred_directly: list[bool]) -> None:
        bad = referral_body()
        bad["prisonId"] = "mdi"
        r = await api.client.post("/referrals", json=bad, headers=api.keys.practitioner.headers)
        assert r.status_code == 422, r.text  # a body that does not validate
        r = await api.client.post(
            "/referrals",
            content=b'{"prisonId": ',
            headers={**api.keys.practitioner.headers, "Content-Type": "application/json"},
        )
        assert r.status_code in (400, 422), r.text  # not JSON
        for headers in ({"Authorization": "Bearer a.b.c"}, {}):  # a JWT, no key
            r = await api.client.post("/referrals", json=referral_body(), headers=headers)
            assert r.status_code == 401, r.text
        assert referred_directly == []
        unknown = {"Authorization": "Bearer rjk_not-a-key"}
        r = await api.client.post("/referrals", json=referral_body(), headers=unknown)
        assert r.status_code == 401, r.text
        # Only the unknown key was looked up; the route refused it in its own words.
        assert referred_directly == [False]
        assert await count_cases(api.db) == 0
