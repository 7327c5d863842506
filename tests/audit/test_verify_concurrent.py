"""Verification while the service keeps writing: no false alarm."""

import asyncio

from tests.support import Api


class TestVerifyUnderWrites:
    async def test_concurrent_changes_are_never_reported_as_tampering(self, api: Api) -> None:
        cases = [await api.refer() for _ in range(3)]

        async def write() -> None:
            for i in range(15):
                for case in cases:
                    await api.consent(case["id"], case["parties"][i % 2]["id"], "indirect", given=i % 3 != 0)

        async def check() -> list[dict[str, object]]:
            answers = []
            for _ in range(40):
                r = await api.client.get("/audit/verify", headers=api.keys.auditor.headers)
                assert r.status_code == 200
                answers.append(r.json())
            return answers

        _, answers = await asyncio.gather(write(), check())
        assert [a for a in answers if not a["valid"]] == []
