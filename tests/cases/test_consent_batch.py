"""POST /cases/{id}/consents: several consents in one call, all or none, in the order sent, with
what they change judged once, after all of them."""

import uuid
from typing import Any

from sqlmodel import col, select

from app.models.cases import Consent
from tests.mediation import audit_of, case_with_rep, rep_key, tasks_of
from tests.support import Api, Key
from tests.workflows.test_safety_at_every_step import reviews


def entry(party_id: str, scope: str, given: bool = True, method: str = "in_person") -> dict[str, Any]:
    return {
        "partyId": party_id,
        "scope": scope,
        "given": given,
        "method": method,
        "recordedBy": "Helen Ashworth",
    }


async def post(api: Api, case_id: str, entries: list[dict[str, Any]], key: Key | None = None) -> Any:
    return await api.client.post(
        f"/cases/{case_id}/consents",
        json={"entries": entries},
        headers=(key or api.keys.practitioner).headers,
    )


async def ledger(api: Api, case_id: str) -> list[Consent]:
    async with api.db.transaction() as session:
        rows = await session.execute(select(Consent).where(col(Consent.case_id) == uuid.UUID(case_id)))
        return list(rows.scalars())


class TestRecorded:
    async def test_every_entry_in_the_order_sent_with_the_case_after_them(self, api: Api) -> None:
        case = await api.refer()
        first, second = (p["id"] for p in case["parties"])
        sent = [entry(first, "indirect"), entry(second, "indirect"), entry(first, "direct", method="written")]
        r = await post(api, case["id"], sent)
        assert r.status_code == 201, r.text
        body = r.json()
        assert [(e["partyId"], e["scope"], e["method"]) for e in body["entries"]] == [
            (first, "indirect", "in_person"),
            (second, "indirect", "in_person"),
            (first, "direct", "written"),
        ]
        after = await api.case(case["id"])
        assert body["case"] == {"state": after["state"], "version": after["version"]}
        assert r.headers["ETag"] == f'"{after["version"]}"'
        assert len(await audit_of(api, case["id"], "consent.recorded")) == 3

    async def test_an_if_match_that_is_stale_refuses_the_call(self, api: Api) -> None:
        case = await api.refer()
        party = case["parties"][0]["id"]
        r = await api.client.post(
            f"/cases/{case['id']}/consents",
            json={"entries": [entry(party, "indirect")]},
            headers={**api.keys.practitioner.headers, "If-Match": f'"{case["version"] - 1}"'},
        )
        assert r.status_code == 412
        assert await ledger(api, case["id"]) == []


class TestAllOrNone:
    async def test_an_unknown_party_records_nothing(self, api: Api) -> None:
        case = await api.refer()
        party = case["parties"][0]["id"]
        r = await post(api, case["id"], [entry(party, "indirect"), entry(str(uuid.uuid4()), "indirect")])
        assert r.status_code == 404
        assert await ledger(api, case["id"]) == []

    async def test_one_grant_from_a_rep_refuses_the_whole_call(self, api: Api) -> None:
        case, (rep,) = await case_with_rep(api, state="assessment")
        first, second = (p["id"] for p in case["parties"])
        before = await ledger(api, case["id"])
        r = await post(
            api,
            case["id"],
            [
                entry(first, "letters_send", given=False, method="via_rep"),
                entry(second, "indirect", method="via_rep"),
            ],
            key=await rep_key(api, rep),
        )
        assert r.status_code == 403
        assert len(await ledger(api, case["id"])) == len(before)


class TestRefusedAsInput:
    async def test_the_same_party_and_scope_twice(self, api: Api) -> None:
        case = await api.refer()
        party = case["parties"][0]["id"]
        r = await post(api, case["id"], [entry(party, "indirect"), entry(party, "indirect", given=False)])
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["entries"]

    async def test_none_or_more_than_fifty(self, api: Api) -> None:
        case = await api.refer()
        party = case["parties"][0]["id"]
        assert (await post(api, case["id"], [])).status_code == 422
        many = [entry(party, "indirect")] * 51
        assert (await post(api, case["id"], many)).status_code == 422


class TestJudgedOnceAfterAll:
    async def test_two_withdrawals_call_a_conference_off_once(self, api: Api) -> None:
        case = await api.to_state("conference")
        first, second = (p["id"] for p in case["parties"])
        r = await post(
            api, case["id"], [entry(first, "direct", given=False), entry(second, "indirect", given=False)]
        )
        assert r.status_code == 201, r.text
        # Judged after both: without indirect consent the shuttle cannot take over, so assessment.
        assert r.json()["case"]["state"] == "assessment"
        assert len(await audit_of(api, case["id"], "case.call_off")) == 1
        (review,) = await reviews(api, case["id"])
        assert review.instructions.count("withdrew consent") == 2
        assert {t.status for t in await tasks_of(api, case["id"], "conference_preparation")} == {"cancelled"}

    async def test_withdrawals_a_rep_heard_ask_for_one_review(self, api: Api) -> None:
        case, (rep,) = await case_with_rep(api, state="assessment")
        first, second = (p["id"] for p in case["parties"])
        r = await post(
            api,
            case["id"],
            [
                entry(first, "letters_send", given=False, method="via_rep"),
                entry(second, "letters_receive", given=False, method="via_rep"),
            ],
            key=await rep_key(api, rep),
        )
        assert r.status_code == 201, r.text
        assert [e["method"] for e in r.json()["entries"]] == ["via_rep", "via_rep"]
        (review,) = await reviews(api, case["id"])
        names = [f"{p['firstName']} {p['lastName']}" for p in case["parties"]]
        assert all(name in review.instructions for name in names)
