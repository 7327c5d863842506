"""Real concurrency against the real server (`rj-casework serve`, uvicorn on 127.0.0.1):
100 requests at once on one case or one source record; and two requests on one case in each
order, forced in-process. Run on the suite's database, so on PostgreSQL in the PostgreSQL pass."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app.conferences import service as conferences
from app.db import Database
from app.flows import safety
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


WITHDRAWAL = {"scope": "direct", "given": False, "recordedBy": "Rep Lewis", "method": "via_rep"}
HELD = {"held": True, "attendees": ["both parties"]}


async def race_result(
    api: Api, case_id: str, withdrawal: httpx.Response, held: httpx.Response
) -> Literal["held", "called off"]:
    """Which of a withdrawal of consent to meet and the conference's outcome, sent together,
    took effect first, having checked that the case agrees with the answers: held before the
    withdrawal (the conference stands, nothing called off), or called off before the outcome (the
    outcome refused, nothing of it recorded)."""
    # A withdrawal is never refused.
    assert withdrawal.status_code == 201, withdrawal.text
    after = await api.case(case_id)
    r = await api.client.get(f"/cases/{case_id}/conference", headers=api.keys.practitioner.headers)
    assert r.status_code == 200, r.text
    called_off = await count(
        api.db,
        AuditRecord,
        col(AuditRecord.case_id) == uuid.UUID(case_id),
        col(AuditRecord.action) == "case.call_off",
    )
    if held.status_code == 200:
        assert (after["state"], r.json()["held"], called_off) == ("conference", True, 0)
        return "held"
    assert held.status_code == 409, held.text
    assert (after["state"], r.json()["held"], called_off) == ("shuttle_mediation", None, 1)
    return "called off"


class TestWithdrawalRacingTheConferenceOutcome:
    ROUNDS = 8

    async def test_whichever_wins_the_case_agrees(
        self, http: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        """Sent together to the real server, in turn one first and then the other."""
        api = Api(http, keys, db)
        results: Counter[str] = Counter()
        for n in range(self.ROUNDS):
            case = await api.to_state("conference")
            cid, party = case["id"], case["parties"][0]["id"]
            withdraw = http.post(
                f"/cases/{cid}/parties/{party}/consents", json=WITHDRAWAL, headers=keys.practitioner.headers
            )
            hold = http.post(f"/cases/{cid}/conference/outcome", json=HELD, headers=keys.practitioner.headers)
            if n % 2:
                held, withdrawal = await asyncio.gather(hold, withdraw)
            else:
                withdrawal, held = await asyncio.gather(withdraw, hold)
            results[await race_result(api, cid, withdrawal, held)] += 1
        assert sum(results.values()) == self.ROUNDS


class Held:
    """A request stopped at a known point, inside its transaction and after it took the case's
    lock, until the test lets it go on."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go_on = asyncio.Event()

    def around(self, step: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """`step`, first waiting to be let go on."""

        async def held(*args: Any, **kwargs: Any) -> Any:
            self.reached.set()
            await self.go_on.wait()
            return await step(*args, **kwargs)

        return held


class TestWithdrawalAndOutcomeInEachOrder:
    """The same race with its order forced: the first request is held once it has the case,
    the second is sent and must wait for it, then the first is let go on. Each order happens in
    turn, so both outcomes are seen, and a second request that did not wait (the case's lock
    gone) fails the round."""

    ROUNDS = 4

    async def test_each_order_gives_its_outcome(self, api: Api) -> None:
        results: list[str] = []
        for n in range(self.ROUNDS):
            case = await api.to_state("conference")
            cid, party = case["id"], case["parties"][0]["id"]

            def withdraw(cid: str = cid, party: str = party) -> Awaitable[httpx.Response]:
                return api.client.post(
                    f"/cases/{cid}/parties/{party}/consents",
                    json=WITHDRAWAL,
                    headers=api.keys.practitioner.headers,
                )

            def hold(cid: str = cid) -> Awaitable[httpx.Response]:
                return api.client.post(
                    f"/cases/{cid}/conference/outcome", json=HELD, headers=api.keys.practitioner.headers
                )

            held_first = n % 2 == 0
            stop = Held()
            with pytest.MonkeyPatch.context() as patch:
                if held_first:
                    # After the outcome's gates are judged, before it is written.
                    patch.setattr(conferences, "record_outcome", stop.around(conferences.record_outcome))
                else:
                    # After the withdrawal is recorded, before its effect is judged.
                    patch.setattr(safety, "act_on_change", stop.around(safety.act_on_change))
                first = asyncio.ensure_future(hold() if held_first else withdraw())
                await asyncio.wait_for(stop.reached.wait(), timeout=30)
                second = asyncio.ensure_future(withdraw() if held_first else hold())
                await asyncio.sleep(0.5)
                assert not second.done(), "the second request did not wait for the first"
                stop.go_on.set()
                answers = {"first": await first, "second": await second}
            if held_first:
                withdrawal, held = answers["second"], answers["first"]
            else:
                withdrawal, held = answers["first"], answers["second"]
            results.append(await race_result(api, cid, withdrawal, held))
        assert results == ["held", "called off"] * (self.ROUNDS // 2)
