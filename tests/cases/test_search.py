"""GET /cases?q= and the list's other filters: what each view searches, the order of matches."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import clock
from tests.support import Api, Key

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def found(api: Api, key: Key | None = None, **params: object) -> list[str]:
    """The ids of the cases a list with `params` answers, in its order."""
    r = await api.client.get("/cases", params=params, headers=(key or api.keys.practitioner).headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["totalElements"] == len(body["content"])
    return [c["id"] for c in body["content"]]


async def refused(api: Api, key: Key | None = None, **params: object) -> list[str]:
    """The fields a 422 names."""
    r = await api.client.get("/cases", params=params, headers=(key or api.keys.practitioner).headers)
    assert r.status_code == 422, r.text
    return [e["field"] for e in r.json()["errors"]]


@pytest.fixture
async def cases(api: Api) -> dict[str, dict[str, Any]]:
    """Three cases, each changed after the one before."""
    clock.freeze(T0)
    made = {}
    for name, parties, source in [
        (
            "okafor",
            [("A1111AA", "Chidi", "Okafor", "harmed"), ("B2222BB", "Ian", "Cole", "harmer")],
            "NOMIS-7731",
        ),
        ("shah", [("C3333CC", "Raj", "Shah", "both"), ("D4444DD", "Tom", "Hart", "both")], "DPS-1200"),
        (
            "walsh",
            [("E5555EE", "Dean", "Walsh", "harmed"), ("F6666FF", "Amir", "Okafo", "harmer")],
            "DPS-4480",
        ),
    ]:
        made[name] = await api.refer(parties=parties, reference=source)
        clock.advance(timedelta(minutes=1))
    return made


class TestWhatIsSearched:
    async def test_each_field_of_the_full_view(self, api: Api, cases: dict[str, dict[str, Any]]) -> None:
        await api.patch(cases["shah"]["id"], summary="Dispute over a debt for phone credit")
        okafor, shah, walsh = (cases[n]["id"] for n in ("okafor", "shah", "walsh"))
        assert await found(api, q="Chidi") == [okafor]
        assert await found(api, q="Hart") == [shah]
        assert await found(api, q="Raj Shah") == [shah]
        assert await found(api, q="B2222BB") == [okafor]
        assert await found(api, q=cases["walsh"]["reference"]) == [walsh]
        assert await found(api, q="NOMIS-7731") == [okafor]
        assert await found(api, q="phone credit") == [shah]
        assert await found(api, q="nothing like it") == []

    async def test_partial_and_in_any_case(self, api: Api, cases: dict[str, dict[str, Any]]) -> None:
        okafor, walsh = cases["okafor"]["id"], cases["walsh"]["id"]
        assert set(await found(api, q="Okaf")) == {okafor, walsh}
        assert await found(api, q="oKaFoR") == [okafor]
        assert await found(api, q="b2222") == [okafor]
        assert await found(api, q="nomis") == [okafor]

    async def test_wildcards_are_plain_text(self, api: Api, cases: dict[str, dict[str, Any]]) -> None:
        assert await found(api, q="%%") == []
        assert await found(api, q="O_afor") == []


class TestViews:
    async def test_a_rep_finds_own_cases_by_name_and_reference_only(
        self, api: Api, cases: dict[str, dict[str, Any]]
    ) -> None:
        rep = await api.rep()
        other = await api.rep()
        okafor, walsh = cases["okafor"]["id"], cases["walsh"]["id"]
        assert (await api.assign(okafor, [rep["id"]])).status_code == 200
        assert (await api.assign(walsh, [other["id"]])).status_code == 200
        await api.patch(okafor, summary="Dispute over a debt for phone credit")
        key = await api.keys.rep(uuid.UUID(rep["id"]))
        assert await found(api, key, q="Okafor") == [okafor]
        assert await found(api, key, q="Okaf") == [okafor]
        assert await found(api, key, q=cases["okafor"]["reference"]) == [okafor]
        # What a rep's view leaves out is not searched: prisoner numbers, source references,
        # the summary.
        assert await found(api, key, q="A1111AA") == []
        assert await found(api, key, q="NOMIS-7731") == []
        assert await found(api, key, q="phone credit") == []
        # Another rep's case, by a name on it, is never found.
        assert await found(api, key, q="Walsh") == []

    async def test_a_referrer_finds_own_referrals_by_reference_and_source_only(
        self, api: Api, cases: dict[str, dict[str, Any]]
    ) -> None:
        mine = await api.refer(
            api.keys.referrer,
            parties=[("G7777GG", "Chidi", "Okafor", "both"), ("H8888HH", "Lee", "Marr", "both")],
            reference="NOMIS-9001",
        )
        key = api.keys.referrer
        assert await found(api, key, q="NOMIS") == [mine["id"]]
        assert await found(api, key, q=mine["reference"]) == [mine["id"]]
        # Names and prisoner numbers are not in a referrer's view; others' referrals not in scope.
        assert await found(api, key, q="Okafor") == []
        assert await found(api, key, q="G7777GG") == []
        assert await found(api, key, q="DPS") == []

    async def test_filters_a_view_does_not_show_are_refused(self, api: Api) -> None:
        rep = await api.rep()
        rep_key = await api.keys.rep(uuid.UUID(rep["id"]))
        assert await refused(api, api.keys.referrer, category="assault") == ["category"]
        assert await refused(api, api.keys.referrer, riskLevel="low") == ["riskLevel"]
        assert await refused(api, api.keys.referrer, hasOpenConcern="true") == ["hasOpenConcern"]
        assert await refused(api, rep_key, hasOpenConcern="false") == ["hasOpenConcern"]
        assert await found(api, rep_key, category="assault", riskLevel="low") == []


class TestFilters:
    async def test_category_and_risk_level(self, api: Api, cases: dict[str, dict[str, Any]]) -> None:
        okafor, shah = cases["okafor"]["id"], cases["shah"]["id"]
        await api.patch(okafor, category="debt", riskLevel="high")
        await api.patch(shah, riskLevel="low")
        assert await found(api, category="debt") == [okafor]
        assert await found(api, riskLevel="low") == [shah]
        assert await found(api, riskLevel="high", category="assault") == []
        assert await refused(api, category="arson") == ["category"]

    async def test_created_dates_are_inclusive_local_days(self, api: Api) -> None:
        # 23:30 UTC on 24 November is 24 November in London (GMT), and 00:30 UTC on 25 November
        # the 25th.
        clock.freeze(datetime(2026, 11, 24, 23, 30, tzinfo=UTC))
        late = await api.refer()
        clock.freeze(datetime(2026, 11, 25, 0, 30, tzinfo=UTC))
        next_day = await api.refer()
        assert await found(api, createdFrom="2026-11-24", createdTo="2026-11-24") == [late["id"]]
        assert await found(api, createdFrom="2026-11-25") == [next_day["id"]]
        assert await found(api, createdTo="2026-11-24") == [late["id"]]
        assert set(await found(api, createdFrom="2026-11-24", createdTo="2026-11-25")) == {
            late["id"],
            next_day["id"],
        }
        assert await refused(api, createdFrom="2026-11-25", createdTo="2026-11-24") == ["createdTo"]
        assert await refused(api, createdFrom="24/11/2026") == ["createdFrom"]

    async def test_has_open_concern(self, api: Api, cases: dict[str, dict[str, Any]]) -> None:
        shah = cases["shah"]
        await raise_concern(api, shah)
        assert await found(api, hasOpenConcern="true") == [shah["id"]]
        assert set(await found(api, hasOpenConcern="false")) == {cases["okafor"]["id"], cases["walsh"]["id"]}

    async def test_q_is_and_with_the_filters(self, api: Api, cases: dict[str, dict[str, Any]]) -> None:
        okafor, walsh = cases["okafor"]["id"], cases["walsh"]["id"]
        await api.must_fire(walsh, "accept")
        assert await found(api, q="Okaf", state="assessment") == [walsh]
        assert await found(api, q="Okaf", prisonerNumber="A1111AA") == [okafor]
        assert await found(api, q="Okaf", category="theft") == []

    @pytest.mark.parametrize("q", ["", "a", " a "])
    async def test_q_of_fewer_than_2_characters_is_422(self, api: Api, q: str) -> None:
        assert await refused(api, q=q) == ["q"]


class TestOrder:
    async def test_open_concern_then_relevance_then_latest_change(
        self, api: Api, cases: dict[str, dict[str, Any]]
    ) -> None:
        okafor, shah, walsh = (cases[n]["id"] for n in ("okafor", "shah", "walsh"))
        # "Okafo": Walsh's case has a party named exactly that, Okafor's a name starting with it;
        # both are name prefixes (rank 1), so the latest change comes first.
        assert await found(api, q="Okafo") == [walsh, okafor]
        # A name starting with the text (rank 1) before a match elsewhere (rank 2), though changed
        # earlier.
        await api.patch(shah, summary="Okafor's cousin was there")
        assert await found(api, q="Okafor") == [okafor, shah]
        # Within a rank, the latest change first.
        clock.advance(timedelta(minutes=5))
        await api.must_fire(okafor, "accept")
        assert await found(api, q="Okaf") == [okafor, walsh, shah]
        # An open concern first, whatever the rank.
        await raise_concern(api, cases["shah"])
        assert await found(api, q="Okafor") == [shah, okafor]

    async def test_a_whole_identifier_comes_first(self, api: Api, cases: dict[str, dict[str, Any]]) -> None:
        okafor, shah = cases["okafor"]["id"], cases["shah"]["id"]
        # "C3333CC" is Shah's party's prisoner number, and appears inside Okafor's summary.
        await api.patch(okafor, summary="Seen by C3333CC's cellmate")
        clock.advance(timedelta(minutes=5))
        await api.patch(okafor, riskLevel="low")
        assert await found(api, q="C3333CC") == [shah, okafor]


async def raise_concern(api: Api, case: dict[str, Any]) -> None:
    r = await api.client.post(
        "/safeguarding-concerns",
        json={
            "prisonerNumber": case["parties"][0]["prisonerNumber"],
            "caseId": case["id"],
            "category": "self_harm",
            "detail": "Said he has been cutting himself since the fight.",
        },
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
