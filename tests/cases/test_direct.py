"""The transition route's direct path (`app.api.direct`): on PostgreSQL a move of the case alone
asked for plainly is made on a driver connection; it answers, stores and refuses exactly as the
route's usual way does; every other request still goes the usual way."""

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import event

from app.api.app import create_app
from app.cases import direct
from app.config import Settings
from app.db import Database
from app.workflows.case_workflow import BY_TRIGGER
from tests.mediation import case_with_rep, rep_key
from tests.records import audit_records, events
from tests.support import Api, Key, Keys, answered, direct_answers, until


@pytest.fixture
def directly(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The triggers fired on the direct path (each call still goes through)."""
    made: list[str] = []
    real = direct.fire_transition

    async def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(args[3].trigger.value)
        return await real(*args, **kwargs)

    monkeypatch.setattr(direct, "fire_transition", counted)
    return made


def usual_way(key: Key) -> dict[str, str]:
    """Headers that send a request the route's usual way: with an idempotency key, whose
    committed mark is written in the route's own transaction."""
    return {**key.headers, "Idempotency-Key": str(uuid.uuid4())}


async def fire(api: Api, case_id: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return await api.client.post(f"/cases/{case_id}/transitions", json=body, headers=headers)


PAUSE = {"trigger": "pause", "until": until(hours=6), "reason": "cooling off"}


@pytest.fixture
def postgres_only(is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("the direct path is PostgreSQL's")


@pytest.mark.usefixtures("postgres_only")
class TestWhatTakesTheDirectPath:
    async def test_moves_of_the_case_alone(self, api: Api, directly: list[str]) -> None:
        case = await api.to_state("assessment")
        assert directly == []  # accepting schedules assessment visits: the usual way
        await api.must_fire(case["id"], "pause", until=until(hours=6), reason="cooling off")
        await api.must_fire(case["id"], "resume")
        await api.must_fire(case["id"], "start_shuttle")
        assert directly == ["pause", "resume", "start_shuttle"]

    async def test_not_moves_with_more_to_do(self, api: Api, directly: list[str]) -> None:
        case = await api.to_state("shuttle_mediation")
        directly.clear()
        # concluding cancels open tasks and schedules wellbeing checks
        await api.must_fire(case["id"], "conclude", outcome="resolved")
        assert directly == []

    async def test_not_a_request_with_an_idempotency_key(self, api: Api, directly: list[str]) -> None:
        case = await api.to_state("assessment")
        r = await fire(api, case["id"], PAUSE, usual_way(api.keys.practitioner))
        assert r.status_code == 200, r.text
        assert directly == []

    async def test_not_a_body_that_does_not_validate(self, api: Api, directly: list[str]) -> None:
        case = await api.to_state("assessment")
        r = await fire(api, case["id"], {"trigger": "pause", "until": "soon"}, api.keys.practitioner.headers)
        assert r.status_code == 422
        assert directly == []

    async def test_a_case_moved_directly_is_read_back_answered(self, api: Api) -> None:
        case = await api.to_state("assessment")
        r = await fire(api, case["id"], PAUSE, api.keys.practitioner.headers)
        assert r.status_code == 200, r.text
        assert r.headers["etag"] == f'"{r.json()["version"]}"'
        assert r.json() == await api.case(case["id"])


def _same_shape(value: Any, case: dict[str, Any]) -> Any:
    """`value` with the case's own id, reference and party ids named instead of given, and
    without what two cases made alike still differ in: the times things were made or recorded,
    and the referral's source."""
    text = json.dumps(value, default=str)
    for n, party in enumerate(case["parties"]):
        text = text.replace(party["id"], f"party-{n}")
    text = text.replace(case["id"], "case-id").replace(case["reference"], "case-reference")
    return _without_times(json.loads(text))


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if not k.endswith("At") and k != "source"}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.mark.usefixtures("postgres_only")
class TestSameAsTheUsualWay:
    async def test_same_answer_audit_record_and_event(self, api: Api, directly: list[str]) -> None:
        """Two cases made alike, moved alike: one directly, one the usual way."""
        one, other = await api.to_state("assessment"), await api.to_state("assessment")
        key = api.keys.practitioner
        for body in (PAUSE, {"trigger": "resume"}, {"trigger": "start_shuttle"}):
            moved_directly = await fire(api, one["id"], body, key.headers)
            moved_usually = await fire(api, other["id"], body, usual_way(key))
            assert moved_directly.status_code == moved_usually.status_code == 200
            answers = [r.json() for r in (moved_directly, moved_usually)]
            assert _same_shape(answers[0], one) == _same_shape(answers[1], other)
        assert directly == ["pause", "resume", "start_shuttle"]

        records = [(await audit_records(api.db, c["id"]))[-3:] for c in (one, other)]
        for mine, theirs in zip(*records, strict=True):
            assert (mine.action, mine.entity_type, mine.actor) == (
                theirs.action,
                theirs.entity_type,
                theirs.actor,
            )
            assert _same_shape([mine.before, mine.after], one) == _same_shape(
                [theirs.before, theirs.after], other
            )
            assert mine.request_id is not None and theirs.request_id is not None
        sent = [(await events(api.db, c["id"]))[-3:] for c in (one, other)]
        for mine_event, their_event in zip(*sent, strict=True):
            assert mine_event.event_type == their_event.event_type
            mine_info = dict(mine_event.payload["additionalInformation"])
            their_info = dict(their_event.payload["additionalInformation"])
            assert _same_shape(mine_info, one) == _same_shape(their_info, other)

    @pytest.mark.parametrize(
        ("name", "state", "body", "headers"),
        [
            ("stale If-Match", "assessment", PAUSE, lambda k: {**k.headers, "If-Match": '"1"'}),
            ("not from this state", "assessment", {"trigger": "resume"}, lambda k: k.headers),
            (
                "a guard unmet",
                "assessment",
                {"trigger": "pause", "until": until(hours=6)},
                lambda k: k.headers,
            ),
            ("a guard unmet", "referred", {"trigger": "start_shuttle"}, lambda k: k.headers),
        ],
    )
    async def test_same_refusals(
        self,
        api: Api,
        directly: list[str],
        name: str,
        state: str,
        body: dict[str, Any],
        headers: Callable[[Key], dict[str, str]],
    ) -> None:
        case = await api.to_state(state)
        key = api.keys.practitioner
        refused_directly = await fire(api, case["id"], body, headers(key))
        refused_usually = await fire(api, case["id"], body, {**headers(key), **usual_way(key)})
        assert refused_directly.status_code == refused_usually.status_code
        assert refused_directly.status_code in (409, 412), refused_directly.text
        assert refused_directly.json() == refused_usually.json(), name
        assert directly == [body["trigger"]]
        assert (await api.case(case["id"]))["version"] == case["version"]

    async def test_same_refusal_of_a_role_and_of_a_case_out_of_scope(
        self, api: Api, directly: list[str]
    ) -> None:
        case = await api.to_state("assessment")
        rep = await api.rep()
        assert (await api.assign(case["id"], [rep["id"]])).status_code == 200
        rep_key = await api.keys.rep(uuid.UUID(rep["id"]))
        # `start_letters` is a practitioner's: a rep is refused it (403) whatever the case
        assert "rep" not in {r.value for r in BY_TRIGGER["start_letters"].who}
        body = {"trigger": "start_letters", "partyId": case["parties"][0]["id"]}
        answers = [await fire(api, case["id"], body, h) for h in (rep_key.headers, usual_way(rep_key))]
        assert [r.status_code for r in answers] == [403, 403]
        assert answers[0].json() == answers[1].json()
        # another prison's practitioner does not see the case at all
        elsewhere = api.keys.practitioner_lei
        answers = [await fire(api, case["id"], PAUSE, h) for h in (elsewhere.headers, usual_way(elsewhere))]
        assert [r.status_code for r in answers] == [404, 404]
        assert answers[0].json() == answers[1].json()
        answers = [
            await fire(api, str(uuid.uuid4()), PAUSE, h) for h in (elsewhere.headers, usual_way(elsewhere))
        ]
        assert [r.status_code for r in answers] == [404, 404]


@pytest.mark.usefixtures("postgres_only")
class TestInFrontOfTheRouting:
    """The direct path answers in front of the application's routing, inside the middleware
    that every answer passes through."""

    async def test_an_answer_carries_every_answer_s_headers_and_is_counted(
        self, api: Api, directly: list[str]
    ) -> None:
        case = await api.to_state("assessment")
        headers = {**api.keys.practitioner.headers, "X-Request-ID": "direct-1"}
        r = await fire(api, case["id"], PAUSE, headers)
        assert r.status_code == 200, r.text
        assert directly == ["pause"]
        assert r.headers["x-request-id"] == "direct-1"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["content-type"] == "application/json"
        assert (await audit_records(api.db, case["id"]))[-1].request_id == "direct-1"
        metrics = (await api.client.get("/metrics")).text
        assert 'method="POST",route="/cases/{case_id}/transitions",status="200"' in metrics

    async def test_a_refusal_carries_the_request_id_and_gives_the_connection_back(
        self, api: Api, directly: list[str]
    ) -> None:
        invalidated: list[object] = []
        event.listen(api.db.engine.sync_engine, "invalidate", lambda *a: invalidated.append(a))
        case = await api.to_state("assessment")
        headers = {**api.keys.practitioner.headers, "X-Request-ID": "direct-2"}
        r = await fire(api, case["id"], {"trigger": "resume"}, headers)
        assert r.status_code == 409
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["x-request-id"] == "direct-2"
        assert directly == ["resume"]
        assert invalidated == []  # rolled back and pooled again, not closed

    async def test_an_answer_to_an_allowed_origin_carries_cors_headers(
        self, db: Database, settings: Settings, keys: Keys, directly: list[str]
    ) -> None:
        origin = "https://casework.example"
        app = create_app(settings.model_copy(update={"cors_origins": [origin]}), database=db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rj.test") as client:
            api = Api(client, keys, db)
            case = await api.to_state("assessment")
            r = await fire(api, case["id"], PAUSE, {**keys.practitioner.headers, "Origin": origin})
        assert r.status_code == 200, r.text
        assert directly == ["pause"]
        assert r.headers["access-control-allow-origin"] == origin

    async def test_a_body_without_a_declared_length_goes_the_usual_way(
        self, api: Api, directly: list[str]
    ) -> None:
        case = await api.to_state("assessment")

        async def chunks() -> AsyncIterator[bytes]:
            yield json.dumps(PAUSE).encode()

        headers = {**api.keys.practitioner.headers, "Content-Type": "application/json"}
        r = await api.client.post(f"/cases/{case['id']}/transitions", content=chunks(), headers=headers)
        assert r.status_code == 200, r.text
        assert directly == []
        assert r.json()["state"] == "on_hold"

    async def test_other_methods_and_paths_go_the_usual_way(self, api: Api, directly: list[str]) -> None:
        case = await api.to_state("assessment")
        key = api.keys.practitioner
        options = await api.client.get(f"/cases/{case['id']}/transitions", headers=key.headers)
        assert options.status_code == 200
        elsewhere = await api.client.post(
            f"/cases/{case['id']}/transitions/x", json=PAUSE, headers=key.headers
        )
        assert elsewhere.status_code == 404
        assert directly == []


@pytest.fixture
def read_directly(monkeypatch: pytest.MonkeyPatch, is_postgres: bool) -> list[bool]:
    """For each case read the direct path took up, whether it answered it."""
    if not is_postgres:
        pytest.skip("the direct path is PostgreSQL's")
    return direct_answers(monkeypatch, "read")


async def plain_and_usual(
    api: Api, key: str, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    """A case read asked for plainly, and the same read with a query (which goes the usual way)."""
    plain = await api.client.get(f"/cases/{key}", headers=headers)
    usual = await api.client.get(f"/cases/{key}?usual=1", headers=headers)
    return plain, usual


class TestCaseReads:
    async def test_same_case_for_every_caller_by_id_and_reference(
        self, api: Api, read_directly: list[bool]
    ) -> None:
        case, [rep] = await case_with_rep(api, state="assessment")
        referrer_case = await api.refer(api.keys.referrer)
        callers = [
            (case, api.keys.practitioner),
            (case, api.keys.manager),
            (case, api.keys.admin),
            (case, await rep_key(api, rep)),
            (referrer_case, api.keys.referrer),
        ]
        read_directly.clear()
        for seen, key in callers:
            for name in (seen["id"], seen["reference"]):
                plain, usual = await plain_and_usual(api, name, key.headers)
                assert plain.status_code == 200, plain.text
                assert answered(plain) == answered(usual)
        views = {
            (await api.client.get(f"/cases/{c['id']}", headers=k.headers)).json()["view"] for c, k in callers
        }
        assert views == {"full", "rep", "referrer"}
        assert read_directly == [True] * (len(callers) * 3)

    async def test_same_refusals(self, api: Api, read_directly: list[bool]) -> None:
        case = await api.refer()
        read_directly.clear()
        refusals = [
            (str(uuid.uuid4()), api.keys.practitioner, 404),
            ("MDI-RJ-999999", api.keys.practitioner, 404),
            ("not-a-case", api.keys.practitioner, 404),
            (case["id"], api.keys.practitioner_lei, 404),  # another prison's practitioner
            (case["id"], api.keys.referrer, 404),  # a referral another client made
            (case["id"], api.keys.auditor, 403),  # a role that reads no cases
        ]
        for name, key, status in refusals:
            plain, usual = await plain_and_usual(api, name, key.headers)
            assert plain.status_code == status, (name, plain.text)
            assert answered(plain) == answered(usual)
        assert read_directly == [True] * len(refusals)

    async def test_a_key_it_does_not_know_and_a_jwt_go_the_usual_way(
        self, api: Api, read_directly: list[bool]
    ) -> None:
        case = await api.refer()
        read_directly.clear()
        for headers in ({"Authorization": "Bearer rjk_not-a-key"}, {"Authorization": "Bearer a.b.c"}, {}):
            r = await api.client.get(f"/cases/{case['id']}", headers=headers)
            assert r.status_code == 401, r.text
        # Only the unknown key was looked up; the route refused it in its own words.
        assert read_directly == [False]


@pytest.fixture
def listed_directly(monkeypatch: pytest.MonkeyPatch, is_postgres: bool) -> list[bool]:
    """For each page of cases the direct path took up, whether it answered it."""
    if not is_postgres:
        pytest.skip("the direct path is PostgreSQL's")
    return direct_answers(monkeypatch, "page")


async def page_plain_and_usual(api: Api, query: str, headers: dict[str, str]) -> tuple[httpx.Response, ...]:
    """A page asked for with `query`, and the same page with a parameter the route does not have
    (which the direct path leaves to the route, and the route ignores)."""
    plain = await api.client.get(f"/cases{query}", headers=headers)
    usual = await api.client.get(f"/cases{query}{'&' if query else '?'}usual=1", headers=headers)
    return plain, usual


class TestCaseLists:
    async def test_same_pages_for_every_caller_and_query(self, api: Api, listed_directly: list[bool]) -> None:
        case, [rep] = await case_with_rep(api, state="assessment")
        await api.refer(api.keys.referrer)
        await api.refer(api.keys.referrer, prison="LEI")
        await api.to_state("shuttle_mediation")
        prisoner = case["parties"][0]["prisonerNumber"]
        since = quote((datetime.now(UTC) - timedelta(hours=1)).isoformat())
        callers = [
            api.keys.practitioner,
            api.keys.practitioner_lei,
            api.keys.manager,
            api.keys.admin,
            api.keys.referrer,
            await rep_key(api, rep),
        ]
        queries = [
            "",
            "?state=assessment",
            "?state=referred&prisonId=MDI",
            "?prisonId=LEI",
            "?size=1&page=1",
            "?page=7",
            f"?prisonerNumber={prisoner}",
            f"?repId={rep['id']}",
            f"?updatedSince={since}&size=100",
            "?state=closed",
        ]
        listed_directly.clear()
        for key in callers:
            for query in queries:
                plain, usual = await page_plain_and_usual(api, query, key.headers)
                assert plain.status_code == 200, (query, plain.text)
                assert answered(plain) == answered(usual), (key, query)
        assert listed_directly == [True] * (len(callers) * len(queries))
        # The pages were not all empty: each kind of caller saw cases.
        for key in callers:
            assert (await api.client.get("/cases", headers=key.headers)).json()["totalElements"] > 0

    async def test_a_role_that_reads_no_cases_is_refused_alike(
        self, api: Api, listed_directly: list[bool]
    ) -> None:
        await api.refer()
        listed_directly.clear()
        plain, usual = await page_plain_and_usual(api, "?state=referred", api.keys.auditor.headers)
        assert plain.status_code == 403, plain.text
        assert answered(plain) == answered(usual)
        assert listed_directly == [True]

    async def test_queries_the_route_reads_itself(self, api: Api, listed_directly: list[bool]) -> None:
        await api.refer()
        listed_directly.clear()
        for query, status in (
            ("?state=nope", 422),
            ("?size=101", 422),
            ("?size=", 422),
            ("?page=-1", 422),
            ("?prisonId=mdi", 422),
            ("?repId=not-an-id", 422),
            ("?updatedSince=yesterday", 422),
            ("?state=referred&state=assessment", 200),  # named twice
            ("?state", 422),  # a name without a value
            ("?usual=1", 200),  # a name the route does not have
        ):
            r = await api.client.get(f"/cases{query}", headers=api.keys.practitioner.headers)
            assert r.status_code == status, (query, r.text)
        # None of them was taken up: each was left to the route to answer in its own words.
        assert listed_directly == []

    async def test_a_key_it_does_not_know_and_a_jwt_go_the_usual_way(
        self, api: Api, listed_directly: list[bool]
    ) -> None:
        listed_directly.clear()
        for headers in ({"Authorization": "Bearer rjk_not-a-key"}, {"Authorization": "Bearer a.b.c"}, {}):
            r = await api.client.get("/cases?state=referred", headers=headers)
            assert r.status_code == 401, r.text
        assert listed_directly == [False]
