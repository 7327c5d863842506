"""POST /referrals: one case per source record, references numbered per prison."""

import asyncio

from tests.records import audit_records, count_audit_records, count_cases, events
from tests.support import Api, referral_body


class TestDuplicateReferral:
    async def test_same_source_again_returns_the_same_case_with_200(self, api: Api) -> None:
        body = referral_body(reference="IR-0001")
        first = await api.client.post("/referrals", json=body, headers=api.keys.referrer.headers)
        assert first.status_code == 201
        records = await count_audit_records(api.db)

        again = await api.client.post("/referrals", json=body, headers=api.keys.referrer.headers)

        assert again.status_code == 200
        assert again.json() == first.json()
        assert again.headers["location"] == f"/cases/{first.json()['id']}"
        assert await count_cases(api.db) == 1
        assert await count_audit_records(api.db) == records
        assert len(await audit_records(api.db, first.json()["id"])) == 1
        assert len(await events(api.db, first.json()["id"])) == 1

    async def test_same_source_with_other_details_is_still_the_same_case(self, api: Api) -> None:
        first = await api.refer(reference="IR-0002")
        retry = referral_body(reference="IR-0002", category="threats")
        r = await api.client.post("/referrals", json=retry, headers=api.keys.practitioner.headers)
        assert r.status_code == 200
        assert r.json()["id"] == first["id"]
        assert r.json()["category"] == "assault"
        assert await count_cases(api.db) == 1

    async def test_same_reference_from_another_system_is_a_new_case(self, api: Api) -> None:
        body = referral_body(reference="IR-0003")
        await api.client.post("/referrals", json=body, headers=api.keys.practitioner.headers)
        body["source"]["system"] = "NOMIS"
        r = await api.client.post("/referrals", json=body, headers=api.keys.practitioner.headers)
        assert r.status_code == 201
        assert await count_cases(api.db) == 2

    async def test_concurrent_duplicates_make_one_case(self, api: Api) -> None:
        body = referral_body(reference="IR-0004")
        answers = await asyncio.gather(
            *(api.client.post("/referrals", json=body, headers=api.keys.referrer.headers) for _ in range(5))
        )
        assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 201]
        assert len({r.json()["id"] for r in answers}) == 1
        assert await count_cases(api.db) == 1
        assert len(await audit_records(api.db, answers[0].json()["id"])) == 1

    async def test_duplicate_of_a_case_outside_the_callers_scope_reveals_nothing(self, api: Api) -> None:
        mdi = await api.refer(prison="MDI", reference="IR-0005")
        body = referral_body(prison="LEI", reference="IR-0005")
        records = await count_audit_records(api.db)

        r = await api.client.post("/referrals", json=body, headers=api.keys.practitioner_lei.headers)

        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "REFERRAL_EXISTS"
        assert mdi["id"] not in r.text and mdi["reference"] not in r.text
        assert "Dean" not in r.text
        assert await count_cases(api.db) == 1
        assert await count_audit_records(api.db) == records

    async def test_another_referrers_duplicate_reveals_nothing(self, api: Api) -> None:
        other = await api.refer(reference="IR-0006")
        r = await api.client.post(
            "/referrals", json=referral_body(reference="IR-0006"), headers=api.keys.referrer.headers
        )
        assert r.status_code == 409
        assert other["id"] not in r.text


class TestCaseReferences:
    async def test_numbered_in_sequence_per_prison(self, api: Api) -> None:
        made = []
        for prison in ("MDI", "MDI", "LEI", "MDI", "LEI"):
            key = api.keys.practitioner if prison == "MDI" else api.keys.practitioner_lei
            made.append((await api.refer(prison=prison, key=key))["reference"])
        assert made == ["MDI-RJ-000001", "MDI-RJ-000002", "LEI-RJ-000001", "MDI-RJ-000003", "LEI-RJ-000002"]

    async def test_numbers_are_never_reused(self, api: Api) -> None:
        first = await api.refer()
        await api.must_fire(first["id"], "decline", reason="duplicate")
        await api.refer(reference="DUP")
        # A duplicate takes no number, and a closed case keeps its own.
        await api.client.post(
            "/referrals", json=referral_body(reference="DUP"), headers=api.keys.practitioner.headers
        )
        third = await api.refer()
        assert third["reference"] == "MDI-RJ-000003"

    async def test_the_case_is_reachable_by_id_and_by_reference(self, api: Api) -> None:
        case = await api.refer()
        by_id = await api.case(case["id"])
        by_reference = await api.case(case["reference"])
        assert by_id == by_reference
        moved = await api.must_fire(case["reference"], "accept")
        assert moved["id"] == case["id"]
        r = await api.client.patch(
            f"/cases/{case['reference']}",
            json={"summary": "Fight over a debt"},
            headers={**api.keys.practitioner.headers, "If-Match": f'"{moved["version"]}"'},
        )
        assert r.status_code == 200
        r = await api.client.get(
            f"/cases/{case['reference']}/timeline", headers=api.keys.practitioner.headers
        )
        assert [e["action"] for e in r.json()] == ["case.referred", "case.accept", "case.updated"]

    async def test_unknown_ids_and_references_are_404(self, api: Api) -> None:
        await api.refer()
        for key in ("MDI-RJ-000002", "mdi-rj-000001", "00000000-0000-0000-0000-000000000000", "nonsense"):
            r = await api.client.get(f"/cases/{key}", headers=api.keys.practitioner.headers)
            assert r.status_code == 404, key
            assert r.json()["errorCode"] == "NOT_FOUND"
