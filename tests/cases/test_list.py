"""GET /cases: paging, totals and filters."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app import clock
from tests.support import Api


async def page(api: Api, **params: object) -> dict[str, object]:
    r = await api.client.get("/cases", params=params, headers=api.keys.practitioner.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def ids(body: dict[str, object]) -> list[str]:
    content = body["content"]
    assert isinstance(content, list)
    return [c["id"] for c in content]


class TestPaging:
    async def test_pages_cover_every_case_once_with_right_totals(self, api: Api) -> None:
        made = {(await api.refer())["id"] for _ in range(5)}
        seen: list[str] = []
        for number in range(3):
            body = await page(api, page=number, size=2)
            assert (body["number"], body["size"], body["totalElements"], body["totalPages"]) == (
                number,
                2,
                5,
                3,
            )
            seen += ids(body)
        assert len(seen) == 5 and set(seen) == made
        assert ids(await page(api, page=3, size=2)) == []

    async def test_default_page_size_is_20(self, api: Api) -> None:
        body = await page(api)
        assert (body["number"], body["size"], body["totalElements"], body["totalPages"]) == (0, 20, 0, 0)

    async def test_newest_change_first(self, api: Api) -> None:
        clock.freeze(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        first = await api.refer()
        clock.advance(timedelta(minutes=1))
        second = await api.refer()
        clock.advance(timedelta(minutes=1))
        await api.must_fire(first["id"], "accept")
        assert ids(await page(api)) == [first["id"], second["id"]]

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"size": 101}, "size"), ({"size": 0}, "size"), ({"page": -1}, "page"), ({"size": "ten"}, "size")],
    )
    async def test_out_of_range_paging_is_422(self, api: Api, params: dict[str, object], field: str) -> None:
        r = await api.client.get("/cases", params=params, headers=api.keys.practitioner.headers)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in r.json()["errors"]] == [field]

    async def test_size_100_is_allowed(self, api: Api) -> None:
        assert (await page(api, size=100))["size"] == 100


class TestFilters:
    async def test_by_state(self, api: Api) -> None:
        referred = await api.refer()
        accepted = await api.refer()
        await api.must_fire(accepted["id"], "accept")
        assert ids(await page(api, state="referred")) == [referred["id"]]
        assert ids(await page(api, state="assessment")) == [accepted["id"]]
        assert ids(await page(api, state="closed")) == []

    async def test_unknown_state_is_422(self, api: Api) -> None:
        r = await api.client.get("/cases", params={"state": "open"}, headers=api.keys.practitioner.headers)
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "state"

    async def test_by_prison(self, api: Api) -> None:
        mdi = await api.refer(prison="MDI")
        await api.refer(prison="LEI", key=api.keys.practitioner_lei)
        r = await api.client.get("/cases", params={"prisonId": "MDI"}, headers=api.keys.admin.headers)
        assert [c["id"] for c in r.json()["content"]] == [mdi["id"]]
        assert r.json()["totalElements"] == 1

    async def test_by_rep(self, api: Api) -> None:
        with_rep = await api.refer()
        await api.refer()
        rep = await api.rep()
        assert (await api.assign(with_rep["id"], [rep["id"]])).status_code == 200
        assert ids(await page(api, repId=rep["id"])) == [with_rep["id"]]
        assert ids(await page(api, repId=str(uuid.uuid4()))) == []

    async def test_by_prisoner_number(self, api: Api) -> None:
        first = await api.refer(
            parties=[("A1111AA", "Tom", "Hart", "harmed"), ("B2222BB", "Ian", "Cole", "harmer")]
        )
        second = await api.refer(
            parties=[("B2222BB", "Ian", "Cole", "both"), ("C3333CC", "Raj", "Shah", "both")]
        )
        assert ids(await page(api, prisonerNumber="A1111AA")) == [first["id"]]
        assert set(ids(await page(api, prisonerNumber="B2222BB"))) == {first["id"], second["id"]}
        assert ids(await page(api, prisonerNumber="Z9999ZZ")) == []

    async def test_malformed_prisoner_number_is_422(self, api: Api) -> None:
        r = await api.client.get(
            "/cases", params={"prisonerNumber": "123"}, headers=api.keys.practitioner.headers
        )
        assert r.status_code == 422

    async def test_by_updated_since(self, api: Api) -> None:
        clock.freeze(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        old = await api.refer()
        clock.advance(timedelta(hours=1))
        since = clock.now()
        new = await api.refer()
        assert ids(await page(api, updatedSince=since.isoformat())) == [new["id"]]
        clock.advance(timedelta(hours=1))
        await api.must_fire(old["id"], "accept")
        assert ids(await page(api, updatedSince=since.isoformat())) == [old["id"], new["id"]]
        assert ids(await page(api, updatedSince=clock.now().isoformat())) == [old["id"]]

    async def test_updated_since_without_offset_is_422(self, client: httpx.AsyncClient, api: Api) -> None:
        r = await client.get(
            "/cases", params={"updatedSince": "2026-11-24T09:00:00"}, headers=api.keys.practitioner.headers
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "updatedSince"

    async def test_filters_combine(self, api: Api) -> None:
        a = await api.refer(
            parties=[("A1111AA", "Tom", "Hart", "harmed"), ("B2222BB", "Ian", "Cole", "harmer")]
        )
        await api.refer(parties=[("A1111AA", "Tom", "Hart", "harmed"), ("C3333CC", "Raj", "Shah", "harmer")])
        await api.must_fire(a["id"], "accept")
        assert ids(await page(api, state="assessment", prisonerNumber="A1111AA")) == [a["id"]]
