"""The transition route's direct path on PostgreSQL.

`POST /cases/{id}/transitions` is the service's busiest change. A move of the case alone
(`app.cases.transitions.moves_case_alone`) asked for plainly (a JSON body of a declared length
that validates, a bearer API key, no idempotency key) is made on a driver connection
(`app.cases.direct`) by this middleware, in front of the application's routing, dependencies
and session: the same checks, move, audit record, event and response, for much less work. Its
refusals are the application's own problems (`app.api.problems.handled`). Every other request,
including every one the route would refuse before looking at the case, goes on to the route, so
its answers are the route's own.
"""

from pydantic import ValidationError
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api import problems
from app.api.asgi import bearer_token, read_body, replaying
from app.api.deps import may_see, parse_if_match
from app.api.responses import case_response
from app.auth import jwt as jwt_auth
from app.auth.access import Permission, require
from app.auth.service import PrincipalCache, authenticate_on_driver
from app.cases import direct
from app.cases.schemas import TransitionRequest
from app.cases.transitions import moves_case_alone
from app.context import RequestContext
from app.db import Database
from app.errors import ValidationFailedError

# The headers the direct path reads, each once.
_WANTED = frozenset({b"content-type", b"content-length", b"authorization", b"if-match", b"idempotency-key"})


class DirectTransitions:
    """Answer the plain requests for a move of the case alone to `route` (the transition route)
    itself; pass everything else on."""

    def __init__(self, app: ASGIApp, *, route: BaseRoute) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        db: Database = scope["app"].state.db
        if scope["type"] != "http" or scope["method"] != "POST" or not db.on_postgres:
            await self.app(scope, receive, send)
            return
        match, child = self.route.matches(scope)
        headers = _headers(scope) if match is Match.FULL else {}
        key = _plain_key(headers)
        if key is None:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        receive = replaying(body, receive)
        answer = await _fire(scope, db, child["path_params"]["case_id"], headers, key, body)
        if answer is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        await answer(scope, receive, send)


async def _fire(
    scope: Scope, db: Database, case_id: str, headers: dict[bytes, str], key: str, raw: bytes
) -> Response | None:
    """The answer to a plain request for a move of the case alone; None for one to leave to the
    route."""
    if_match = headers.get(b"if-match")
    try:
        expected_version = None if if_match is None else parse_if_match(if_match)
        body = TransitionRequest.model_validate_json(raw)
    except (ValidationFailedError, ValidationError):
        return None
    if not moves_case_alone(body):
        return None
    cache: PrincipalCache | None = getattr(scope["app"].state, "principals", None)
    try:
        async with db.driver() as driver:
            principal = await authenticate_on_driver(driver, key, cache)
            if principal is None:
                return None
            require(principal, Permission.TRANSITION_FIRE)
            require(principal, Permission.CASE_READ)
            state = scope.setdefault("state", {})
            state["principal"] = principal
            ctx = RequestContext(principal=principal, request_id=state.get("request_id"))
            bundle = await direct.fire_transition(
                driver,
                ctx,
                case_id,
                body,
                expected_version=expected_version,
                may_see=lambda bundle: may_see(principal, bundle),
            )
    except Exception as exc:
        answer = await problems.handled(scope, exc)
        if answer is None:
            raise
        return answer
    return case_response(principal, bundle)


def _headers(scope: Scope) -> dict[bytes, str]:
    """The headers the direct path reads."""
    return {k: v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED}


def _plain_key(headers: dict[bytes, str]) -> str | None:
    """The request's API key, if it is a plain one for the direct path: a JSON body of a declared
    length, a bearer API key (not a JWT) and no idempotency key (whose committed mark is written
    in the route's own transaction). None otherwise."""
    if b"idempotency-key" in headers or not headers.get(b"content-length", "").isdigit():
        return None
    if headers.get(b"content-type", "").partition(";")[0].strip().lower() != "application/json":
        return None
    token = bearer_token(headers.get(b"authorization"))
    if token is None or jwt_auth.is_jwt(token):
        return None
    return token
