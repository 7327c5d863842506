"""Who is calling: resolved once per request, before routing, for every route to read.

A request with `Authorization: Bearer <token>` is identified here: a JWT from the prisons'
identity provider, or one of the service's own `rjk_` keys. The caller, or the reason the token
was refused, is kept in the request's state; `app.api.deps.get_principal` hands it to the routes
that need a caller (401 for a request without a token). A route that needs none (health, the
documents) never looks, so a bad token does not stop it.
"""

from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.asgi import bearer_token, header
from app.auth import jwt as jwt_auth
from app.auth import service as auth
from app.context import Principal
from app.errors import UnauthenticatedError

PRINCIPAL = "principal"
REFUSAL = "refusal"


class Authentication:
    """Identify the caller of every request that carries a bearer token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            token = bearer_token(header(scope, b"authorization"))
            if token is not None:
                state = scope.setdefault("state", {})
                try:
                    state[PRINCIPAL] = await identify(scope["app"], token, Headers(scope=scope))
                except Exception as exc:  # noqa: BLE001 - raised again by the route that needs a caller
                    state[REFUSAL] = exc
        await self.app(scope, receive, send)


async def identify(app: Any, token: str, headers: Headers) -> Principal:
    """The caller a bearer token stands for (401 when it stands for none)."""
    db = app.state.db
    if jwt_auth.is_jwt(token):
        verifier: jwt_auth.JwtVerifier | None = app.state.jwt
        if verifier is None:
            raise UnauthenticatedError(
                "JWT bearer tokens are not accepted: no identity provider is configured"
            )
        principal = await verifier.principal(token, headers)
        if principal.rep_id is not None:
            async with db.looking() as conn:
                await jwt_auth.check_rep(conn, principal)
        await app.state.signed_in.record(db, principal)
        return principal
    async with db.looking() as conn:
        found = await auth.authenticate(conn, token, app.state.principals)
    if found is None:
        raise UnauthenticatedError("the bearer token is not valid")
    return found


def caller(state: dict[str, Any]) -> Principal:
    """The request's caller, as `Authentication` found it (401 without a token; the token's
    refusal otherwise)."""
    principal: Principal | None = state.get(PRINCIPAL)
    if principal is not None:
        return principal
    refusal: Exception | None = state.get(REFUSAL)
    if refusal is not None:
        raise refusal
    raise UnauthenticatedError("a bearer token is required")
