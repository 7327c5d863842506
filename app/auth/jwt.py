"""JWT bearer tokens from the prisons' identity provider, beside the service's own API keys.

A token is verified with the provider's public key (a PEM file, or a JWKS file or URL), must
carry the configured issuer and audience and an unexpired `exp`, and is signed with an
asymmetric algorithm (never `none`, never a shared secret). The caller's role comes from the
roles claim (`authorities`) through the configured mapping, the caseload from a claim or, only
when configured, a header set by a trusted gateway; a rep is bound by a claim.
"""

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select
from sqlmodel import col

from app import clock
from app.common.enums import Role
from app.common.patterns import PRISON_ID
from app.config import Settings
from app.context import Principal
from app.db import Conn, scalar
from app.errors import ForbiddenError, UnauthenticatedError
from app.models.reps import Rep

log = logging.getLogger(__name__)

# Only public-key algorithms: a shared secret would let anyone holding the public key sign.
ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
ALL_PRISONS = "*"
# Refetch a JWKS URL for an unknown key id at most this often.
JWKS_REFETCH_SECONDS = 30.0
# At most this many verified tokens are remembered per server process (the expired are forgotten
# first; past the bound, a token is verified on each use).
VERIFIED_TOKENS_KEPT = 10_000


class JwtConfigError(ValueError):
    """The JWT settings are incomplete or unsafe."""


def is_jwt(token: str) -> bool:
    """Whether a bearer token has the shape of a JWT (three dot-separated parts)."""
    return token.count(".") == 2


def client_id_of(issuer: str, subject: str) -> uuid.UUID:
    """A stable id for a token's subject, so its referrals and audit entries stay its own."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{issuer}#{subject}")


class JwtVerifier:
    """Checks tokens against the configured provider and turns them into principals."""

    def __init__(self, settings: Settings) -> None:
        sources = [
            s for s in (settings.jwt_public_key_file, settings.jwt_jwks_file, settings.jwt_jwks_url) if s
        ]
        if len(sources) != 1:
            raise JwtConfigError(
                "set exactly one of RJ_JWT_PUBLIC_KEY_FILE, RJ_JWT_JWKS_FILE, RJ_JWT_JWKS_URL"
            )
        if not settings.jwt_issuer or not settings.jwt_audience:
            raise JwtConfigError("JWT verification needs RJ_JWT_ISSUER and RJ_JWT_AUDIENCE")
        unsafe = set(settings.jwt_algorithms) - ASYMMETRIC
        if unsafe or not settings.jwt_algorithms:
            raise JwtConfigError(
                f"RJ_JWT_ALGORITHMS may name only public-key algorithms ({', '.join(sorted(ASYMMETRIC))})"
            )
        unknown_roles = {r for r in settings.jwt_role_mapping.values() if r not in set(Role)}
        if unknown_roles:
            raise JwtConfigError(
                f"RJ_JWT_ROLE_MAPPING names unknown roles: {', '.join(sorted(unknown_roles))}"
            )
        self.settings = settings
        self.issuer: str = settings.jwt_issuer
        self.audience: str = settings.jwt_audience
        self.algorithms = frozenset(settings.jwt_algorithms)
        self._pem_key: Any = None
        self._jwks: dict[str | None, jwt.PyJWK] = {}
        self._jwks_fetched_at = 0.0
        self._jwks_lock = asyncio.Lock()
        self._verified: dict[str, dict[str, Any]] = {}
        if settings.jwt_public_key_file:
            self._pem_key = _load_pem(Path(settings.jwt_public_key_file))
        elif settings.jwt_jwks_file:
            self._jwks = _keys_of(Path(settings.jwt_jwks_file).read_text())

    @classmethod
    def from_settings(cls, settings: Settings) -> "JwtVerifier | None":
        """A verifier when a key source is configured, else None (JWTs are then refused)."""
        if not (settings.jwt_public_key_file or settings.jwt_jwks_file or settings.jwt_jwks_url):
            return None
        return cls(settings)

    async def principal(self, token: str, headers: Mapping[str, str]) -> Principal:
        """The principal a token stands for: 401 when it is not valid, 403 when it grants nothing here."""
        claims = await self.verify(token)
        s = self.settings
        role = self._role(claims.get(s.jwt_roles_claim))
        prisons = self._caseload(claims.get(s.jwt_caseload_claim), headers)
        rep_id: uuid.UUID | None = None
        if role == Role.REP:
            try:
                rep_id = uuid.UUID(str(claims[s.jwt_rep_claim]))
            except (KeyError, ValueError):
                raise ForbiddenError(f"a rep's token must carry its rep id in `{s.jwt_rep_claim}`") from None
        subject = str(claims["sub"])
        name = claims.get("name") or claims.get("user_name") or subject
        return Principal(
            client_id=client_id_of(self.issuer, subject),
            name=str(name)[:200],
            role=role,
            prisons=prisons,
            rep_id=rep_id,
            subject=subject,
        )

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token whose signature, issuer, audience and times are good (401 otherwise).

        A token whose signature has verified is remembered until it expires: checking an RSA
        signature costs more than the rest of a request's own work, and a person's token comes
        back with each of their requests. Its times are still checked on every use."""
        known = self._verified.get(token)
        if known is not None:
            self._check_times(known)
            return known
        claims = await self._verified_claims(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._forget_expired()
        if len(self._verified) < VERIFIED_TOKENS_KEPT:
            self._verified[token] = claims
        return claims

    def _forget_expired(self) -> None:
        now = clock.now().timestamp() - self.settings.jwt_leeway_seconds
        self._verified = {t: c for t, c in self._verified.items() if float(c["exp"]) > now}

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise UnauthenticatedError("the bearer token is not a well-formed JWT") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise UnauthenticatedError(f"tokens signed with {alg!r} are not accepted")
        key = await self._key(header.get("kid"), str(alg))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(alg)],
                audience=self.audience,
                issuer=self.issuer,
                # Times are checked below against the service's clock.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "iss", "aud", "sub"],
                },
            )
        except jwt.InvalidAudienceError:
            raise UnauthenticatedError("the token is not meant for this service (audience)") from None
        except jwt.InvalidIssuerError:
            raise UnauthenticatedError("the token was not issued by the configured issuer") from None
        except jwt.InvalidSignatureError:
            raise UnauthenticatedError("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise UnauthenticatedError(f"the bearer token is not valid: {type(exc).__name__}") from None
        self._check_times(claims)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        leeway = timedelta(seconds=self.settings.jwt_leeway_seconds)
        now = clock.now()
        try:
            expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
            not_before = datetime.fromtimestamp(float(claims["nbf"]), UTC) if "nbf" in claims else None
        except (TypeError, ValueError, OverflowError, OSError):
            raise UnauthenticatedError("the token's times are not numbers") from None
        if now > expires + leeway:
            raise UnauthenticatedError("the bearer token has expired")
        if not_before is not None and now < not_before - leeway:
            raise UnauthenticatedError("the bearer token is not valid yet")

    async def _key(self, kid: Any, alg: str) -> Any:
        if self._pem_key is not None:
            return self._pem_key
        if self.settings.jwt_jwks_url:
            await self._refresh_jwks(force=False)
        jwk = self._pick(kid)
        if jwk is None and self.settings.jwt_jwks_url:
            # The provider may have rotated its keys.
            await self._refresh_jwks(force=True)
            jwk = self._pick(kid)
        if jwk is None:
            raise UnauthenticatedError("the token's signing key is not one of the provider's keys")
        if jwk.algorithm_name != alg:
            raise UnauthenticatedError("the token's algorithm does not match its key")
        return jwk.key

    def _pick(self, kid: Any) -> jwt.PyJWK | None:
        if kid is None:
            return next(iter(self._jwks.values())) if len(self._jwks) == 1 else None
        return self._jwks.get(str(kid))

    async def _refresh_jwks(self, *, force: bool) -> None:
        url = self.settings.jwt_jwks_url
        assert url is not None  # noqa: S101 - only called with a JWKS URL configured
        async with self._jwks_lock:
            # Fetched keys are kept for the cache time; a refetch for an unknown key, or after a
            # failed fetch, waits at least JWKS_REFETCH_SECONDS, so bad tokens cannot flood the provider.
            limit = JWKS_REFETCH_SECONDS if force or not self._jwks else self.settings.jwt_jwks_cache_seconds
            if self._jwks_fetched_at and time.monotonic() - self._jwks_fetched_at < limit:
                return
            self._jwks_fetched_at = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
                    response = await client.get(url, headers={"Accept": "application/json"})
                    response.raise_for_status()
                self._jwks = _keys_of(response.text)
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                log.warning("JWKS at %s could not be fetched: %s", url, type(exc).__name__)

    def _role(self, value: Any) -> Role:
        authorities = value.split() if isinstance(value, str) else value
        if not isinstance(authorities, list):
            authorities = []
        held = {str(a) for a in authorities}
        for authority, role in self.settings.jwt_role_mapping.items():
            # The mapping's order decides when a token holds several of the service's roles.
            if authority in held:
                return Role(role)
        raise ForbiddenError("the token carries no role of this service")

    def _caseload(self, value: Any, headers: Mapping[str, str]) -> frozenset[str] | None:
        claimed: frozenset[str] | None
        if value is None:
            claimed = frozenset()
        else:
            items = value.replace(",", " ").split() if isinstance(value, str) else value
            if not isinstance(items, list):
                raise ForbiddenError("the token's caseload is not a list of prison ids")
            if ALL_PRISONS in items:
                claimed = None
            else:
                claimed = frozenset(str(i) for i in items if _is_prison(i))
        header_name = self.settings.jwt_caseload_header
        sent = headers.get(header_name) if header_name else None
        if sent is not None:
            active = frozenset(p.strip() for p in sent.split(",") if p.strip())
            if not active or not all(_is_prison(p) for p in active):
                raise ForbiddenError(f"{header_name} must be prison ids, e.g. MDI")
            if value is not None and claimed is not None and not active <= claimed:
                raise ForbiddenError(f"{header_name} names prisons outside the token's caseload")
            return active
        if claimed is not None and not claimed:
            raise ForbiddenError("the token carries no caseload")
        return claimed


async def check_rep(conn: Conn, principal: Principal) -> None:
    """A rep principal must be bound to a rep record within its caseload (403 otherwise)."""
    if principal.rep_id is None:
        return
    prison_id = await scalar(conn, select(col(Rep.prison_id)).where(col(Rep.id) == principal.rep_id))
    if prison_id is None or not principal.covers(prison_id):
        raise ForbiddenError("the token's rep is not a rep in its caseload")


def _is_prison(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(PRISON_ID, value) is not None


def _load_pem(path: Path) -> Any:
    data = path.read_bytes()
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return load_pem_public_key(data)


def _keys_of(text: str) -> dict[str | None, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by key id."""
    document = json.loads(text)
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
            continue
        try:
            key = jwt.PyJWK.from_dict(entry)
        except jwt.PyJWTError:
            continue
        keys[entry.get("kid")] = key
    return keys
