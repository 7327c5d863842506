"""The benchmark's JWT callers (`bench/runner.py`): the run's own identity provider signs each
practitioner a token that the service, set up as the run sets up its server, accepts for that
practitioner's role and prison, for the lifetime given."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.api.app import create_app
from app.auth.jwt import client_id_of
from app.config import get_settings
from app.db import Database
from app.models.audit import AuditRecord
from bench import runner
from tests.support import Api, until

PRISONS = ["MDI", "LEI"]


@pytest.fixture
def provider(tmp_path: Path) -> runner.IdentityProvider:
    """The run's identity provider, its public key in the run's folder."""
    return runner.IdentityProvider.create(tmp_path)


@pytest.fixture
async def served(
    db: Database, provider: runner.IdentityProvider, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app given the settings the run gives its server, as environment variables."""
    for name, value in provider.server_settings().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings(), database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rj.test") as c:
        yield c
    get_settings.cache_clear()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestPractitionerTokens:
    async def test_a_token_reads_a_case_of_its_prison(
        self, api: Api, provider: runner.IdentityProvider, served: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        tokens = provider.practitioner_tokens(PRISONS, timedelta(hours=1))
        r = await served.get(f"/cases/{case['id']}", headers=bearer(tokens["MDI"]))
        assert r.status_code == 200, r.text
        assert r.json()["reference"] == case["reference"]
        # a practitioner's view of the case, with what only practitioners read
        assert "riskNotes" in r.json()

    async def test_a_token_does_not_reach_a_case_of_another_prison(
        self, api: Api, provider: runner.IdentityProvider, served: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        tokens = provider.practitioner_tokens(PRISONS, timedelta(hours=1))
        r = await served.get(f"/cases/{case['id']}", headers=bearer(tokens["LEI"]))
        assert r.status_code == 404, r.text

    async def test_a_token_moves_a_case_as_its_practitioner(
        self, api: Api, provider: runner.IdentityProvider, served: httpx.AsyncClient, db: Database
    ) -> None:
        case = await api.to_state("assessment")
        tokens = provider.practitioner_tokens(PRISONS, timedelta(hours=1))
        body = {"trigger": "pause", "until": until(hours=24), "reason": "Cooling off after a wing incident"}
        r = await served.post(f"/cases/{case['id']}/transitions", json=body, headers=bearer(tokens["MDI"]))
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "on_hold"
        async with db.transaction() as session:
            record = (
                await session.execute(
                    select(AuditRecord)
                    .where(col(AuditRecord.chain) == case["id"])
                    .order_by(col(AuditRecord.seq).desc())
                    .limit(1)
                )
            ).scalar_one()
        assert record.actor == {
            "clientId": str(client_id_of(runner.JWT_ISSUER, "BENCH_PRACTITIONER_MDI")),
            "name": "Practitioner (MDI)",
            "role": "practitioner",
            "repId": None,
        }

    async def test_a_token_is_good_for_its_lifetime_and_no_longer(
        self, api: Api, provider: runner.IdentityProvider, served: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        tokens = provider.practitioner_tokens(PRISONS, timedelta(hours=2))
        start = clock.now()
        clock.freeze(start + timedelta(hours=2) - timedelta(minutes=1))
        r = await served.get(f"/cases/{case['id']}", headers=bearer(tokens["MDI"]))
        assert r.status_code == 200, r.text
        clock.freeze(start + timedelta(hours=2, minutes=2))
        r = await served.get(f"/cases/{case['id']}", headers=bearer(tokens["MDI"]))
        assert r.status_code == 401, r.text


class TestTokenLifetime:
    def test_a_run_of_many_points_gets_twice_their_time(self) -> None:
        # 60 points of 10 s, each with up to 30 s around it: 40 minutes; the tokens last 80
        assert runner.token_lifetime(60, 10) == timedelta(minutes=80)

    def test_a_short_run_gets_an_hour(self) -> None:
        assert runner.token_lifetime(6, 5) == timedelta(hours=1)
