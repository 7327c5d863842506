"""The transition route's direct path on PostgreSQL.

`POST /cases/{id}/transitions` is the service's busiest change. A move of the case alone
(`app.cases.transitions.moves_case_alone`) asked for plainly (a JSON body that validates, a
bearer API key, no idempotency key) is made on a
driver connection (`app.cases.direct`) without the route's dependencies or a session: the same
checks, move, audit record, event and response, for much less work. Every other request,
including every one the route would refuse before looking at the case, takes the route's usual
way, so its answers are the route's own.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from app.api.deps import database, may_see, parse_if_match
from app.api.idempotency import STATE_KEY
from app.api.responses import case_response
from app.auth import jwt as jwt_auth
from app.auth.access import Permission, require
from app.auth.service import PrincipalCache, authenticate_on_driver
from app.cases import direct
from app.cases.schemas import TransitionRequest
from app.cases.transitions import moves_case_alone
from app.context import RequestContext
from app.errors import ValidationFailedError

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectTransitionRoute(APIRoute):
    """The transition route: the requests `fire_directly` takes, then its usual handler."""

    def get_route_handler(self) -> Handler:
        usual = super().get_route_handler()

        async def handle(request: Request) -> Response:
            taken = await fire_directly(request)
            return taken if taken is not None else await usual(request)

        return handle


def _bearer_key(request: Request) -> str | None:
    """The request's bearer key (`rjk_...`); None for a JWT or no bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or jwt_auth.is_jwt(token):
        return None
    return token


async def fire_directly(request: Request) -> Response | None:
    """The response to a plain request for a move of the case alone, made on a driver
    connection; None for a request to leave to the route's usual handler."""
    db = database(request)
    if db.engine.dialect.name != "postgresql" or getattr(request.state, STATE_KEY, None) is not None:
        return None  # an idempotency key is marked committed in the route's own transaction
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
        return None
    key = _bearer_key(request)
    if key is None:
        return None
    if_match = request.headers.get("if-match")
    try:
        expected_version = None if if_match is None else parse_if_match(if_match)
        body = TransitionRequest.model_validate_json(await request.body())
    except (ValidationFailedError, ValidationError):
        return None
    if not moves_case_alone(body):
        return None
    cache: PrincipalCache | None = getattr(request.app.state, "principals", None)
    async with db.driver() as driver:
        principal = await authenticate_on_driver(driver, key, cache)
        if principal is None:
            return None
        require(principal, Permission.TRANSITION_FIRE)
        require(principal, Permission.CASE_READ)
        request.state.principal = principal
        ctx = RequestContext(principal=principal, request_id=getattr(request.state, "request_id", None))
        bundle = await direct.fire_transition(
            driver,
            ctx,
            request.path_params["case_id"],
            body,
            expected_version=expected_version,
            may_see=lambda bundle: may_see(principal, bundle),
        )
    return case_response(principal, bundle)
