"""Real concurrency against the real server (`rj-casework serve`, uvicorn on 127.0.0.1):
100 requests at once on one case or one source record. Run on the suite's database, so on
PostgreSQL in the PostgreSQL pass."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app.db import Database
from app.models.audit import AuditRecord
from app.models.cases import Case
from app.models.events import OutboxEvent
from tests.server import Server
from tests.support import Api, Keys, referral_body, until

CONCURRENT = 100


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service, serving the suite's database."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    with Server(database_url, log=log) as s:
        yield s


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client able to hold every request open at once."""
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120) as c:
        yield c


async def count(db: Database, model: type, *where: object) -> int:
    """Rows of `model` matching `where`."""
    async with db.transaction() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )  # type: ignore[arg-type]


async def verify(http: httpx.AsyncClient, keys: Keys) -> dict[str, object]:
    """The service's own check of the audit chains."""
    r = await http.get("/audit/verify", headers=keys.admin.headers)
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result


class TestConcurrentTransitions:
    async def test_same_if_match_lets_exactly_one_through(
        self, http: httpx.AsyncClient, keys: Keys, db: Database, server: Server
    ) -> None:
        headers = keys.practitioner.headers
        r = await http.post("/referrals", json=referral_body(), headers=headers)
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        r = await http.post(f"/cases/{case_id}/transitions", json={"trigger": "accept"}, headers=headers)
        assert r.status_code == 200, r.text
        version = r.json()["version"]
        body = {"trigger": "pause", "until": until(hours=24), "reason": "cooling off after a flare-up"}

        async def pause() -> httpx.Response:
            return await http.post(
                f"/cases/{case_id}/transitions", json=body, headers={**headers, "If-Match": f'"{version}"'}
            )

        responses = await asyncio.gather(*(pause() for _ in range(CONCURRENT)))

        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 412: CONCURRENT - 1}, statuses
        assert all(r.json()["errorCode"] == "VERSION_MISMATCH" for r in responses if r.status_code == 412)
        case = (await http.get(f"/cases/{case_id}", headers=headers)).json()
        assert (case["state"], case["version"]) == ("on_hold", version + 1)
        assert (
            await count(
                db,
                AuditRecord,
                col(AuditRecord.case_id) == uuid.UUID(case_id),
                col(AuditRecord.action) == "case.pause",
            )
            == 1
        )
        events = await count(
            db,
            OutboxEvent,
            col(OutboxEvent.case_id) == uuid.UUID(case_id),
            col(OutboxEvent.event_type) == "restorative-justice.case.state-changed",
        )
        assert events == 2  # accept, then the one pause
        assert (await verify(http, keys))["valid"] is True


class TestConcurrentDuplicateReferrals:
    async def test_make_one_case(self, http: httpx.AsyncClient, keys: Keys, db: Database) -> None:
        body = referral_body(reference="IR-2026-000777")

        responses = await asyncio.gather(
            *(http.post("/referrals", json=body, headers=keys.referrer.headers) for _ in range(CONCURRENT))
        )

        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 200: CONCURRENT - 1}, statuses
        assert len({r.json()["id"] for r in responses}) == 1
        assert await count(db, Case, col(Case.source_reference) == "IR-2026-000777") == 1
        assert await count(db, AuditRecord, col(AuditRecord.action) == "case.referred") == 1
        assert (
            await count(db, OutboxEvent, col(OutboxEvent.event_type) == "restorative-justice.case.created")
            == 1
        )
        assert (await verify(http, keys))["valid"] is True


def test_server_log_has_no_unhandled_errors(server: Server) -> None:
    """Nothing above went wrong inside the server either (runs after the tests above)."""
    log = Path(server.log).read_text()
    assert "Traceback" not in log, log[-3000:]


class TestWithdrawalRacingTheConferenceOutcome:
    ROUNDS = 8

    async def test_exactly_one_wins_and_the_case_agrees(
        self, http: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        api = Api(http, keys, db)
        held_first = called_off_first = 0
        for _ in range(self.ROUNDS):
            case = await api.to_state("conference")
            cid, party = case["id"], case["parties"][0]["id"]
            withdrawal, held = await asyncio.gather(
                http.post(
                    f"/cases/{cid}/parties/{party}/consents",
                    json={"scope": "direct", "given": False, "recordedBy": "Rep Lewis", "method": "via_rep"},
                    headers=keys.practitioner.headers,
                ),
                http.post(
                    f"/cases/{cid}/conference/outcome",
                    json={"held": True, "attendees": ["both parties"]},
                    headers=keys.practitioner.headers,
                ),
            )
            # A withdrawal is never refused.
            assert withdrawal.status_code == 201, withdrawal.text
            after = await api.case(cid)
            conference = (
                await http.get(f"/cases/{cid}/conference", headers=keys.practitioner.headers)
            ).json()
            called_off = await count(
                db,
                AuditRecord,
                col(AuditRecord.case_id) == uuid.UUID(cid),
                col(AuditRecord.action) == "case.call_off",
            )
            if held.status_code == 200:
                # Held before the withdrawal: the conference stands and was not called off.
                held_first += 1
                assert (after["state"], conference["held"], called_off) == ("conference", True, 0)
            else:
                # Called off before the outcome: the outcome was refused, nothing recorded.
                called_off_first += 1
                assert held.status_code == 409, held.text
                assert (after["state"], conference["held"], called_off) == ("shuttle_mediation", None, 1)
        assert held_first + called_off_first == self.ROUNDS
