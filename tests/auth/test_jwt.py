"""JWT bearer tokens from the prisons' identity provider."""

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.api.app import create_app
from app.auth import jwt as jwt_auth
from app.auth.jwt import JwtConfigError, client_id_of
from app.config import Settings
from app.db import Database
from app.models.audit import AuditRecord
from tests.support import Api, referral_body

ISSUER = "https://sign-in.prisons.test/auth/issuer"
AUDIENCE = "rj-casework"
PRACTITIONER = "ROLE_RESTORATIVE_JUSTICE__PRACTITIONER"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


PROVIDER_KEY = _rsa()
OTHER_KEY = _rsa()


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


def claims(**overrides: Any) -> dict[str, Any]:
    """A practitioner of MDI, valid for five minutes."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "JSMITH_GEN",
        "name": "Jo Smith",
        "iat": now,
        "exp": now + 300,
        "authorities": [PRACTITIONER, "ROLE_PRISON"],
        "caseloads": ["MDI"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(key: Any = PROVIDER_KEY, *, alg: str = "RS256", kid: str | None = None, **overrides: Any) -> str:
    """A signed token (the provider's key unless told)."""
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers={"kid": kid} if kid else None)


def bearer(value: str, **headers: str) -> dict[str, str]:
    """Headers carrying a bearer token."""
    return {"Authorization": f"Bearer {value}", **headers}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def pem_file(tmp_path: Path) -> Path:
    """The provider's public key as a PEM file."""
    path = tmp_path / "provider.pem"
    path.write_bytes(_pem(PROVIDER_KEY))
    return path


def jwt_settings(settings: Settings, **values: Any) -> Settings:
    """The test settings with JWT verification configured."""
    return settings.model_copy(update={"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **values})


@asynccontextmanager
async def client_with(db: Database, settings: Settings, **values: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with JWT verification configured by `values`."""
    app = create_app(jwt_settings(settings, **values), database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rj.test") as c:
        yield c


@pytest.fixture
async def jwt_client(db: Database, settings: Settings, pem_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app verifying tokens with the provider's PEM key."""
    async with client_with(db, settings, jwt_public_key_file=str(pem_file)) as c:
        yield c


class TestValidToken:
    async def test_practitioner_reads_a_case_of_its_caseload(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        r = await jwt_client.get(f"/cases/{case['id']}", headers=bearer(token()))
        assert r.status_code == 200, r.text
        assert r.json()["reference"] == case["reference"]
        assert "riskNotes" in r.json()

    async def test_case_outside_the_claimed_caseload_is_not_found(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        r = await jwt_client.get(f"/cases/{case['id']}", headers=bearer(token(caseloads=["LEI"])))
        assert r.status_code == 404

    async def test_caseload_as_a_space_separated_string_is_read(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        r = await jwt_client.get(f"/cases/{case['id']}", headers=bearer(token(caseloads="LEI MDI")))
        assert r.status_code == 200

    async def test_change_is_audited_under_the_token_subject(
        self, jwt_client: httpx.AsyncClient, db: Database
    ) -> None:
        r = await jwt_client.post("/referrals", json=referral_body(), headers=bearer(token()))
        assert r.status_code == 201, r.text
        async with db.transaction() as session:
            record = (
                await session.execute(select(AuditRecord).where(col(AuditRecord.action) == "case.referred"))
            ).scalar_one()
        assert record.actor == {
            "clientId": str(client_id_of(ISSUER, "JSMITH_GEN")),
            "name": "Jo Smith",
            "role": "practitioner",
            "repId": None,
        }

    async def test_referrer_sees_its_referrals_under_later_tokens_only(
        self, jwt_client: httpx.AsyncClient
    ) -> None:
        referrer = {"authorities": ["ROLE_RESTORATIVE_JUSTICE__REFERRER"], "sub": "incident-system"}
        r = await jwt_client.post("/referrals", json=referral_body(), headers=bearer(token(**referrer)))
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        again = await jwt_client.get(f"/cases/{case_id}", headers=bearer(token(**referrer)))
        assert again.status_code == 200
        assert again.json()["view"] == "referrer"
        other = await jwt_client.get(
            f"/cases/{case_id}", headers=bearer(token(**{**referrer, "sub": "another-system"}))
        )
        assert other.status_code == 404

    async def test_rep_sees_only_the_cases_assigned_to_the_rep_in_its_claim(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        rep = await api.rep()
        mine, other = await api.refer(), await api.refer()
        assert (await api.assign(mine["id"], [rep["id"]])).status_code == 200
        rep_token = token(authorities=["ROLE_RESTORATIVE_JUSTICE__REP"], rep_id=rep["id"])
        assert (await jwt_client.get(f"/cases/{mine['id']}", headers=bearer(rep_token))).status_code == 200
        assert (await jwt_client.get(f"/cases/{other['id']}", headers=bearer(rep_token))).status_code == 404

    async def test_all_prisons_caseload_sees_every_prison(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        case = await api.refer(prison="LEI", key=api.keys.referrer)
        r = await jwt_client.get(f"/cases/{case['id']}", headers=bearer(token(caseloads=["*"])))
        assert r.status_code == 200

    async def test_expiry_within_the_leeway_is_accepted(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        r = await jwt_client.get(f"/cases/{case['id']}", headers=bearer(token(exp=int(time.time()) - 5)))
        assert r.status_code == 200


class TestVerifiedTokensRemembered:
    """A token whose signature verified is not verified again until it expires; its times are
    still checked on every use."""

    async def test_a_token_is_verified_once_for_all_its_requests(
        self, api: Api, jwt_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        case = await api.refer()
        decoded: list[str] = []
        real = jwt.decode

        def counted(value: str, *args: Any, **kw: Any) -> Any:
            decoded.append(value)
            return real(value, *args, **kw)

        monkeypatch.setattr(jwt_auth.jwt, "decode", counted)
        mine, theirs = token(), token(sub="OTHER_GEN")
        for value in (mine, mine, theirs, mine):
            r = await jwt_client.get(f"/cases/{case['id']}", headers=bearer(value))
            assert r.status_code == 200, r.text
        assert decoded == [mine, theirs]

    async def test_a_remembered_token_still_expires(self, api: Api, jwt_client: httpx.AsyncClient) -> None:
        case = await api.refer()
        value = token(exp=int(time.time()) + 60)
        assert (await jwt_client.get(f"/cases/{case['id']}", headers=bearer(value))).status_code == 200
        clock.freeze(clock.now() + timedelta(minutes=5))
        r = await jwt_client.get(f"/cases/{case['id']}", headers=bearer(value))
        assert r.status_code == 401
        assert "expired" in r.json()["detail"]

    async def test_a_token_that_failed_is_not_remembered(
        self, api: Api, jwt_client: httpx.AsyncClient
    ) -> None:
        case = await api.refer()
        forged = token(OTHER_KEY)
        for _ in range(2):
            assert (await jwt_client.get(f"/cases/{case['id']}", headers=bearer(forged))).status_code == 401

    def test_at_most_so_many_are_remembered_the_expired_forgotten_first(
        self, settings: Settings, pem_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(jwt_auth, "VERIFIED_TOKENS_KEPT", 3)
        verifier = jwt_auth.JwtVerifier(jwt_settings(settings, jwt_public_key_file=str(pem_file)))
        now = int(time.time())

        async def verify_all(values: list[str]) -> None:
            for value in values:
                await verifier.verify(value)

        expiring = [token(sub=f"OLD{n}", exp=now + 1) for n in range(3)]
        asyncio.run(verify_all(expiring))
        assert len(verifier._verified) == 3
        clock.freeze(clock.now() + timedelta(seconds=2 + settings.jwt_leeway_seconds))
        fresh = [token(sub=f"NEW{n}") for n in range(4)]
        asyncio.run(verify_all(fresh))
        # The expired went to make room; the fourth fresh one found none and was not kept.
        assert set(verifier._verified) == set(fresh[:3])


def _hs256_with_public_key() -> str:
    """The classic confusion attack: HS256 keyed with the provider's public key."""
    header = _b64({"alg": "HS256", "typ": "JWT"})
    body = _b64(claims())
    signature = hmac.new(_pem(PROVIDER_KEY), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


class TestRefusedToken:
    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(lambda: token(exp=int(time.time()) - 120), id="expired"),
            pytest.param(lambda: token(nbf=int(time.time()) + 600), id="not-yet-valid"),
            pytest.param(lambda: token(OTHER_KEY), id="wrongly-signed"),
            pytest.param(lambda: token(aud="another-service"), id="wrong-audience"),
            pytest.param(lambda: token(iss="https://evil.test/issuer"), id="wrong-issuer"),
            pytest.param(lambda: token(exp=None), id="no-expiry"),
            pytest.param(lambda: token(aud=None), id="no-audience"),
            pytest.param(lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}.", id="alg-none"),
            pytest.param(lambda: _hs256_with_public_key(), id="hs256-signed-with-the-public-key"),
            pytest.param(lambda: token()[:-6] + "AAAAAA", id="tampered-signature"),
            pytest.param(lambda: "abc.def.ghi", id="garbage"),
        ],
    )
    async def test_is_401(self, jwt_client: httpx.AsyncClient, make: Any) -> None:
        r = await jwt_client.get("/cases", headers=bearer(make()))
        assert r.status_code == 401, r.text
        assert r.json()["errorCode"] == "UNAUTHENTICATED"
        assert r.headers["www-authenticate"] == "Bearer"

    async def test_any_jwt_is_401_when_no_provider_is_configured(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/cases", headers=bearer(token()))
        assert r.status_code == 401
        assert "no identity provider" in r.json()["detail"]

    async def test_token_without_a_role_of_the_service_is_403(self, jwt_client: httpx.AsyncClient) -> None:
        r = await jwt_client.get("/cases", headers=bearer(token(authorities=["ROLE_PRISON"])))
        assert r.status_code == 403
        assert "no role" in r.json()["detail"]

    async def test_token_without_a_caseload_is_403(self, jwt_client: httpx.AsyncClient) -> None:
        r = await jwt_client.get("/cases", headers=bearer(token(caseloads=None)))
        assert r.status_code == 403

    async def test_rep_token_without_its_rep_id_is_403(self, jwt_client: httpx.AsyncClient) -> None:
        r = await jwt_client.get(
            "/cases", headers=bearer(token(authorities=["ROLE_RESTORATIVE_JUSTICE__REP"]))
        )
        assert r.status_code == 403

    async def test_rep_token_naming_an_unknown_rep_is_403(self, jwt_client: httpx.AsyncClient) -> None:
        rep_token = token(authorities=["ROLE_RESTORATIVE_JUSTICE__REP"], rep_id=str(uuid.uuid4()))
        assert (await jwt_client.get("/cases", headers=bearer(rep_token))).status_code == 403


class TestCaseloadHeader:
    async def test_header_is_ignored_unless_configured(self, api: Api, jwt_client: httpx.AsyncClient) -> None:
        case = await api.refer()
        r = await jwt_client.get(
            f"/cases/{case['id']}", headers=bearer(token(caseloads=None), **{"Caseload-Id": "MDI"})
        )
        assert r.status_code == 403

    async def test_configured_header_gives_the_caseload(
        self, api: Api, db: Database, settings: Settings, pem_file: Path
    ) -> None:
        case = await api.refer()
        async with client_with(
            db, settings, jwt_public_key_file=str(pem_file), jwt_caseload_header="Caseload-Id"
        ) as c:
            ok = await c.get(
                f"/cases/{case['id']}", headers=bearer(token(caseloads=None), **{"Caseload-Id": "MDI"})
            )
            elsewhere = await c.get(
                f"/cases/{case['id']}", headers=bearer(token(caseloads=None), **{"Caseload-Id": "LEI"})
            )
            beyond_claim = await c.get(
                f"/cases/{case['id']}", headers=bearer(token(caseloads=["LEI"]), **{"Caseload-Id": "MDI"})
            )
        assert ok.status_code == 200
        assert elsewhere.status_code == 404
        assert beyond_claim.status_code == 403


class _JwksProvider:
    """A stand-in identity provider serving its JWKS on 127.0.0.1, counting fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
                provider.fetches += 1
                body = json.dumps({"keys": provider.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "_JwksProvider":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class TestJwks:
    async def test_key_is_chosen_by_kid_from_a_jwks_file(
        self, api: Api, db: Database, settings: Settings, tmp_path: Path
    ) -> None:
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps({"keys": [_jwk(OTHER_KEY, "old"), _jwk(PROVIDER_KEY, "current")]}))
        case = await api.refer()
        async with client_with(db, settings, jwt_jwks_file=str(jwks)) as c:
            good = await c.get(f"/cases/{case['id']}", headers=bearer(token(kid="current")))
            wrong_kid = await c.get(f"/cases/{case['id']}", headers=bearer(token(kid="old")))
            unknown = await c.get(f"/cases/{case['id']}", headers=bearer(token(kid="nope")))
        assert good.status_code == 200
        assert wrong_kid.status_code == 401
        assert unknown.status_code == 401

    async def test_jwks_url_is_fetched_and_refetched_for_a_rotated_key(
        self, api: Api, db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        case = await api.refer()
        with _JwksProvider() as provider:
            provider.keys = [_jwk(OTHER_KEY, "k1")]
            async with client_with(db, settings, jwt_jwks_url=provider.url) as c:
                first = await c.get(f"/cases/{case['id']}", headers=bearer(token(OTHER_KEY, kid="k1")))
                again = await c.get(f"/cases/{case['id']}", headers=bearer(token(OTHER_KEY, kid="k1")))
                assert provider.fetches == 1
                provider.keys = [_jwk(PROVIDER_KEY, "k2")]
                # An unknown key id right after a fetch does not make the service ask again.
                too_soon = await c.get(f"/cases/{case['id']}", headers=bearer(token(kid="k2")))
                assert (too_soon.status_code, provider.fetches) == (401, 1)
                # No wait between refetches for an unknown key id, rather than 30 s.
                monkeypatch.setattr(jwt_auth, "JWKS_REFETCH_SECONDS", 0.0)
                rotated = await c.get(f"/cases/{case['id']}", headers=bearer(token(kid="k2")))
        assert (first.status_code, again.status_code, rotated.status_code) == (200, 200, 200)
        assert provider.fetches == 2

    async def test_unreachable_jwks_url_is_401_not_500(self, db: Database, settings: Settings) -> None:
        async with client_with(db, settings, jwt_jwks_url="http://127.0.0.1:9/jwks.json") as c:
            r = await c.get("/cases", headers=bearer(token(kid="k1")))
        assert r.status_code == 401

    async def test_ec_keys_verify_es256(
        self, api: Api, db: Database, settings: Settings, tmp_path: Path
    ) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "ec", "alg": "ES256"}]}))
        case = await api.refer()
        async with client_with(db, settings, jwt_jwks_file=str(jwks)) as c:
            r = await c.get(f"/cases/{case['id']}", headers=bearer(token(key, alg="ES256", kid="ec")))
        assert r.status_code == 200


class TestConfiguration:
    def test_key_source_without_issuer_or_audience_is_refused(
        self, settings: Settings, pem_file: Path
    ) -> None:
        with pytest.raises(JwtConfigError, match="ISSUER"):
            create_app(settings.model_copy(update={"jwt_public_key_file": str(pem_file)}))

    def test_shared_secret_algorithms_are_refused(self, settings: Settings, pem_file: Path) -> None:
        with pytest.raises(JwtConfigError, match="public-key"):
            create_app(jwt_settings(settings, jwt_public_key_file=str(pem_file), jwt_algorithms=["HS256"]))

    def test_two_key_sources_are_refused(self, settings: Settings, pem_file: Path) -> None:
        with pytest.raises(JwtConfigError, match="exactly one"):
            create_app(
                jwt_settings(settings, jwt_public_key_file=str(pem_file), jwt_jwks_url="http://127.0.0.1:9/")
            )

    def test_role_mapping_and_algorithms_come_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("RJ_JWT_ROLE_MAPPING", '{"ROLE_RJ_STAFF": "practitioner"}')
        monkeypatch.setenv("RJ_JWT_ALGORITHMS", "RS256,PS256")
        s = Settings()
        assert s.jwt_role_mapping == {"ROLE_RJ_STAFF": "practitioner"}
        assert s.jwt_algorithms == ["RS256", "PS256"]
