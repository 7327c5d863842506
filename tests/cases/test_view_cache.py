"""Views of cases kept between requests (`app.cases.view_cache`): what is kept and for how long,
that a page of kept views is answered from them, and that no change to a case is ever answered
with its view from before the change."""

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text

from app.cases.view_cache import CaseViewCache
from app.db import Database
from tests import stamp_guard
from tests.events.test_inbound import post_event, released
from tests.support import Api

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


class TestTheCache:
    def test_a_page_is_found_only_when_every_view_is_kept_at_its_version(self) -> None:
        cache = CaseViewCache(10)
        cache.keep("full", [(A, "7", '{"a":1}'), (B, "8", '{"b":1}')])
        assert cache.find("full", [(B, "8"), (A, "7")]) == ['{"b":1}', '{"a":1}']
        assert cache.find("full", [(A, "7"), (C, "9")]) is None
        # Kept for one view is not kept for another.
        assert cache.find("rep", [(A, "7")]) is None
        assert cache.find("full", []) == []

    def test_a_view_of_an_older_version_is_dropped_when_looked_for(self) -> None:
        cache = CaseViewCache(10)
        cache.keep("full", [(A, "7", "old")])
        assert cache.find("full", [(A, "8")]) is None
        assert len(cache) == 0
        assert cache.find("full", [(A, "7")]) is None
        cache.keep("full", [(A, "8", "new")])
        assert cache.find("full", [(A, "8")]) == ["new"]

    def test_the_least_recently_used_go_first(self) -> None:
        cache = CaseViewCache(2)
        cache.keep("full", [(A, "1", "a"), (B, "1", "b")])
        assert cache.find("full", [(A, "1")]) == ["a"]  # A is now the more recently used
        cache.keep("full", [(C, "1", "c")])
        assert len(cache) == 2
        assert cache.find("full", [(B, "1")]) is None
        assert cache.find("full", [(A, "1"), (C, "1")]) == ["a", "c"]

    def test_none_are_kept_without_capacity(self) -> None:
        cache = CaseViewCache(0)
        cache.keep("full", [(A, "1", "a")])
        assert len(cache) == 0
        assert cache.find("full", [(A, "1")]) is None


@pytest.fixture
def kept(app: Any, is_postgres: bool) -> CaseViewCache:
    """The application's kept views (PostgreSQL's pages only)."""
    if not is_postgres:
        pytest.skip("views are kept for PostgreSQL's pages")
    cache: CaseViewCache = app.state.case_views
    return cache


def mark_kept(cache: CaseViewCache) -> None:
    """Write a mark into every kept view, at the version it was kept at: a page answered from the
    cache shows it, a page written by the database does not."""
    views = cache._views  # noqa: SLF001 - the test reaches into what is kept
    for key, (stamp, view) in list(views.items()):
        views[key] = (stamp, json.dumps({**json.loads(view), "summary": "KEPT"}))


def marked(page: dict[str, Any]) -> list[bool]:
    return [case.get("summary") == "KEPT" for case in page["content"]]


async def page(api: Api, query: str = "") -> dict[str, Any]:
    r = await api.client.get(f"/cases{query}", headers=api.keys.practitioner.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


class TestPages:
    async def test_a_page_of_kept_views_is_answered_from_them(self, api: Api, kept: CaseViewCache) -> None:
        for _ in range(3):
            await api.refer(api.keys.referrer)
        first = await page(api)
        assert len(kept) == 3
        mark_kept(kept)
        again = await page(api)
        assert marked(again) == [True] * 3
        assert again["totalElements"] == first["totalElements"] == 3
        # Another caller's view of the same cases is kept apart.
        r = await api.client.get("/cases", headers=api.keys.referrer.headers)
        assert r.json()["totalElements"] == 3
        assert "KEPT" not in r.text
        assert {case["view"] for case in r.json()["content"]} == {"referrer"}
        # A page with a case not kept is written whole by the database.
        await api.refer()
        assert marked(await page(api)) == [False] * 4

    async def test_one_view_kept_at_an_older_version_rewrites_the_page(
        self, api: Api, kept: CaseViewCache
    ) -> None:
        cases = [await api.refer() for _ in range(3)]
        await page(api)
        mark_kept(kept)
        await api.patch(cases[0]["id"], summary="changed")
        fresh = await page(api)
        assert marked(fresh) == [False] * 3
        assert [c["summary"] for c in fresh["content"] if c["id"] == cases[0]["id"]] == ["changed"]

    async def test_pages_without_kept_views_are_the_same(
        self, api: Api, kept: CaseViewCache, app: Any
    ) -> None:
        for _ in range(3):
            await api.refer()
        app.state.case_views = CaseViewCache(0)
        unkept = [await page(api, q) for q in ("", "?size=2", "?size=2&page=1", "?page=5")]
        assert len(kept) == 0
        app.state.case_views = kept
        written = [await page(api, q) for q in ("", "?size=2", "?size=2&page=1", "?page=5")]
        answered = [await page(api, q) for q in ("", "?size=2", "?size=2&page=1", "?page=5")]
        assert unkept == written == answered
        assert len(kept) == 3


async def _transition(api: Api, case: dict[str, Any]) -> None:
    await api.must_fire(case["id"], "accept")


async def _patch(api: Api, case: dict[str, Any]) -> None:
    await api.patch(case["id"], riskLevel="high")


async def _party(api: Api, case: dict[str, Any]) -> None:
    body = {"prisonerNumber": "C3456DE", "firstName": "Ola", "lastName": "Ade", "role": "both"}
    r = await api.client.post(
        f"/cases/{case['id']}/parties", json=body, headers=api.keys.practitioner.headers
    )
    assert r.status_code == 201, r.text


async def _consent(api: Api, case: dict[str, Any]) -> None:
    await api.consent(case["id"], case["parties"][0]["id"], "indirect", given=False)


async def _assignment(api: Api, case: dict[str, Any]) -> None:
    rep = await api.rep()
    assert (await api.assign(case["id"], [rep["id"]])).status_code == 200


async def _flag(api: Api, case: dict[str, Any]) -> None:
    r = await post_event(api.client, api.keys.referrer, released(case["parties"][0]["prisonerNumber"]))
    assert r.status_code == 202, r.text


async def _legal_hold(api: Api, case: dict[str, Any]) -> None:
    r = await api.client.put(
        f"/cases/{case['id']}/legal-hold",
        json={"hold": True, "reason": "a claim"},
        headers=api.keys.admin.headers,
    )
    assert r.status_code == 200, r.text


WRITES: dict[str, Callable[[Api, dict[str, Any]], Awaitable[None]]] = {
    "transition": _transition,
    "patch": _patch,
    "party": _party,
    "consent": _consent,
    "assignment": _assignment,
    "flag": _flag,
    "legal hold": _legal_hold,
}


@pytest.mark.parametrize("write", WRITES)
async def test_every_change_to_a_case_is_seen_at_once(
    api: Api, kept: CaseViewCache, app: Any, write: str
) -> None:
    case = await api.refer()
    before = await page(api)
    mark_kept(kept)
    assert marked(await page(api)) == [True]
    await WRITES[write](api, case)
    after = await page(api)
    assert marked(after) == [False]
    assert after != before
    app.state.case_views = CaseViewCache(0)
    assert await page(api) == after


async def test_a_write_to_a_case_part_alone_is_refused_in_tests(
    db: Database, is_postgres: bool, api: Api
) -> None:
    """The guard the tests run under (tests/stamp_guard.py) refuses a write path that would let a
    kept view go stale, and lets one that writes the case's row through."""
    if not is_postgres:
        pytest.skip("the guard is installed in PostgreSQL's test database")
    case = await api.refer()
    party = case["parties"][0]["id"]
    rename = text("UPDATE party SET first_name = 'Deane' WHERE id = :id")
    with pytest.raises(Exception, match="changed without a change to the case's own row"):
        async with db.transaction() as session:
            await session.execute(rename, {"id": party})
    async with db.transaction() as session:
        await session.execute(rename, {"id": party})
        await stamp_guard.touch_cases(session, [uuid.UUID(case["id"])])
    assert (await api.case(case["id"]))["parties"][0]["firstName"] == "Deane"
