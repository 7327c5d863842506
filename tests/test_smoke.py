"""The service answers and a referral becomes a case."""

import httpx

from tests.support import Api


class TestHealth:
    async def test_health_reports_database_up(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/health")
        assert r.status_code == 200
        assert r.json()["components"]["db"]["status"] == "UP"


class TestReferral:
    async def test_referral_creates_case_with_reference(self, api: Api) -> None:
        case = await api.refer()
        assert case["state"] == "referred"
        assert case["reference"] == "MDI-RJ-000001"
        assert [p["role"] for p in case["parties"]] == ["harmed", "harmer"]
