"""The direct paths on PostgreSQL: the busiest requests, answered on a driver connection.

`POST /cases/{id}/transitions` is the service's busiest change. A move of the case alone
(`app.flows.transitions.moves_case_alone`) asked for plainly (a JSON body of a declared length
that validates, a bearer API key, no idempotency key) is made on a driver connection
(`app.cases.direct`) by this middleware (`DirectWrites`), in front of the application's routing,
dependencies and session: the same checks, move, audit record, event and response, for much less
work. Its refusals are the application's own problems (`app.api.problems.handled`). Every other
request, including every one the route would refuse before looking at the case, goes on to the
route, so its answers are the route's own. `POST /referrals` has one too: a referral asked for
plainly, of a source record not referred before, is made by the service's own
`app.referrals.service.refer` in a transaction on a driver connection; a record referred before
is left to the route, which answers with its case.

Three reads have one too (`DirectReads`): `GET /cases/{id}`; `GET /reps/{id}/tasks`, read every
morning for every rep at once; and `GET /cases`, the practitioners' pages of cases. Asked for
plainly (JSON, a bearer API key; a case or a day list without a query, a page with a query that
reads as the route reads it), they are read on a driver connection by the service's own functions
(the case's one-statement read and the route's scope rule; `app.reps.service`'s rep and day list
in one statement, the list's tasks written as JSON by PostgreSQL, with `get_rep`'s refusal; the
list route's own `case_page`) and answered as the routes answer.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api import problems
from app.api.asgi import bearer_token, read_body, replaying
from app.api.deps import Paging, in_scope, may_see, parse_if_match
from app.api.negotiation import wants_html
from app.api.responses import case_response, json_text_response
from app.api.routes import cases
from app.api.routes.referrals import referred_response
from app.auth import jwt as jwt_auth
from app.auth.access import Permission, require, require_prison
from app.auth.service import PrincipalCache, authenticate_on_driver
from app.cases import direct
from app.cases import repository as repo
from app.cases.schemas import TransitionRequest
from app.context import Principal, RequestContext
from app.db import Database, DriverConnection, driver_transaction
from app.errors import ValidationFailedError
from app.flows.transitions import moves_case_alone
from app.referrals import service as referrals
from app.referrals.schemas import ReferralCreate
from app.reps import service as reps

# The headers the direct path reads, each once.
_WANTED = frozenset(
    {b"content-type", b"content-length", b"authorization", b"if-match", b"idempotency-key", b"accept"}
)


# A route's path parameters, and the headers the direct paths read.
Params = dict[str, Any]
Headers = dict[bytes, str]

# A direct read: the answer to a plain GET of its route for the caller with an API key, from the
# route's path parameters, on a driver connection; None to leave the request to the route.
Reader = Callable[[Scope, Database, str, Params], Awaitable[Response | None]]

# A direct write: the answer to a plain request of its route for the caller with an API key, from
# the route's path parameters, the headers the direct paths read and the body; None to leave the
# request to the route.
Writer = Callable[[Scope, Database, Params, Headers, str, bytes], Awaitable[Response | None]]

H = TypeVar("H", bound=Callable[..., Awaitable[Response | None]])


class _DirectPaths(Generic[H]):
    """Answer the requests to `routes` made with `method` that their handlers take up; pass
    everything else on."""

    method: str

    def __init__(self, app: ASGIApp, *, routes: list[tuple[BaseRoute, H]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        db: Database = scope["app"].state.db
        if scope["type"] == "http" and scope["method"] == self.method and db.on_postgres:
            for route, handler in self.routes:
                match, child = route.matches(scope)
                if match is not Match.FULL:
                    continue
                params, headers = child["path_params"], _headers(scope)
                answer, receive = await self.answer(scope, receive, handler, db, params, headers)
                if answer is not None:
                    scope["route"] = route
                    await answer(scope, receive, send)
                    return
                break
        await self.app(scope, receive, send)

    async def answer(
        self, scope: Scope, receive: Receive, handler: H, db: Database, params: Params, headers: Headers
    ) -> tuple[Response | None, Receive]:
        """The handler's answer to a request of its route with these path parameters and headers
        (those the direct paths read), or None; and the request's body still to be received."""
        raise NotImplementedError


class DirectWrites(_DirectPaths[Writer]):
    """Answer the plain POSTs to `routes` themselves (see `_plain_key`); pass everything else
    on, with its body as it came."""

    method = "POST"

    async def answer(
        self, scope: Scope, receive: Receive, handler: Writer, db: Database, params: Params, headers: Headers
    ) -> tuple[Response | None, Receive]:
        key = _plain_key(headers)
        if key is None:
            return None, receive
        body = await read_body(receive)
        return await handler(scope, db, params, headers, key, body), replaying(body, receive)


async def move_case(
    scope: Scope, db: Database, params: Params, headers: Headers, key: str, raw: bytes
) -> Response | None:
    """`POST /cases/{case_id}/transitions`: a move of the case alone; None for any other request
    (or one the route would refuse before looking at the case)."""
    case_id: str = params["case_id"]
    if_match = headers.get(b"if-match")
    try:
        expected_version = None if if_match is None else parse_if_match(if_match)
        body = TransitionRequest.model_validate_json(raw)
    except (ValidationFailedError, ValidationError):
        return None
    if not moves_case_alone(body):
        return None

    async def move(driver: DriverConnection, principal: Principal) -> Response:
        require(principal, Permission.TRANSITION_FIRE)
        require(principal, Permission.CASE_READ)
        ctx = RequestContext(principal=principal, request_id=scope["state"].get("request_id"))
        bundle = await direct.fire_transition(
            driver,
            ctx,
            case_id,
            body,
            expected_version=expected_version,
            may_see=lambda bundle: may_see(principal, bundle),
        )
        return case_response(principal, bundle)

    return await _on_driver(scope, db, key, move)


async def make_referral(
    scope: Scope, db: Database, params: Params, headers: Headers, key: str, raw: bytes
) -> Response | None:
    """`POST /referrals`: a case made from a source record not referred before. A body the route
    would refuse, and a referral of a record referred before (which the route answers with its
    case, or 409 outside the caller's scope), are left to the route."""
    try:
        body = ReferralCreate.model_validate_json(raw)
    except ValidationError:
        return None

    async def refer(driver: DriverConnection, principal: Principal) -> Response | None:
        require(principal, Permission.REFERRAL_CREATE)
        require_prison(principal, body.prison_id)
        ctx = RequestContext(principal=principal, request_id=scope["state"].get("request_id"))
        async with driver_transaction(driver):
            referred = await referrals.refer(driver, ctx, body)
        if referred.bundle is None:
            return None
        return referred_response(principal, referred.bundle, created=True)

    return await _on_driver(scope, db, key, refer)


async def _on_driver(
    scope: Scope,
    db: Database,
    key: str,
    answer: Callable[[DriverConnection, Principal], Awaitable[Response | None]],
) -> Response | None:
    """The `answer` for the caller with the API key `key`, made on a driver connection; for a
    refusal, the application's own problem; None for a key it does not know (the route then
    refuses it in its own words), or when `answer` leaves the request to the route."""
    cache: PrincipalCache | None = getattr(scope["app"].state, "principals", None)
    try:
        async with db.driver() as driver:
            principal = await authenticate_on_driver(driver, key, cache)
            if principal is None:
                return None
            scope.setdefault("state", {})["principal"] = principal
            return await answer(driver, principal)
    except Exception as exc:
        refusal = await problems.handled(scope, exc)
        if refusal is None:
            raise
        return refusal


def _headers(scope: Scope) -> Headers:
    """The headers the direct path reads."""
    return {k: v.decode("latin-1") for k, v in scope["headers"] if k in _WANTED}


def _plain_key(headers: Headers) -> str | None:
    """The request's API key, if it is a plain one for the direct path: a JSON body of a declared
    length, a bearer API key (not a JWT) and no idempotency key (whose committed mark is written
    in the route's own transaction). None otherwise."""
    if b"idempotency-key" in headers or not headers.get(b"content-length", "").isdigit():
        return None
    if headers.get(b"content-type", "").partition(";")[0].strip().lower() != "application/json":
        return None
    return _api_key(headers)


def _api_key(headers: Headers) -> str | None:
    """The request's bearer API key; None for a JWT or no bearer token."""
    token = bearer_token(headers.get(b"authorization"))
    if token is None or jwt_auth.is_jwt(token):
        return None
    return token


class DirectReads(_DirectPaths[Reader]):
    """Answer the plain reads of `routes` themselves: a GET for a bearer API key, wanting JSON;
    pass everything else on (the printable page, a JWT, a path or a query the reader leaves to
    the route)."""

    method = "GET"

    async def answer(
        self, scope: Scope, receive: Receive, handler: Reader, db: Database, params: Params, headers: Headers
    ) -> tuple[Response | None, Receive]:
        key = _api_key(headers)
        if key is None or wants_html(headers.get(b"accept")):
            return None, receive
        return await handler(scope, db, key, params), receive


async def read_case(scope: Scope, db: Database, key: str, params: Params) -> Response | None:
    """`GET /cases/{case_id}`: the case, by id or reference, as the caller may see it (the
    route reads any query)."""
    if scope["query_string"]:
        return None
    case_id: str = params["case_id"]

    async def read(driver: DriverConnection, principal: Principal) -> Response:
        require(principal, Permission.CASE_READ)
        bundle = await repo.bundle_on_driver(driver, case_id, lock=False, principal=principal)
        return case_response(principal, in_scope(principal, case_id, bundle))

    return await _on_driver(scope, db, key, read)


async def read_day_list(scope: Scope, db: Database, key: str, params: Params) -> Response | None:
    """`GET /reps/{rep_id}/tasks`: the rep's list for today, if the rep's id is written as ids
    are written (other spellings, and any query such as another day, are left to the route)."""
    rep_id = _canonical_id(params["rep_id"])
    if rep_id is None or scope["query_string"]:
        return None

    async def today(driver: DriverConnection, principal: Principal) -> Response:
        require(principal, Permission.TASK_READ)
        listed = await reps.day_list_on_driver(driver, principal, rep_id, reps.local_today())
        return json_text_response(listed)

    return await _on_driver(scope, db, key, today)


def _canonical_id(text: str) -> uuid.UUID | None:
    try:
        value = uuid.UUID(text)
    except ValueError:
        return None
    return value if str(value) == text else None


class RouteQuery:
    """A route's query parameters, its own and its dependencies', read as FastAPI reads them:
    by their names in the query, each validated by the route's own field."""

    def __init__(self, route: BaseRoute) -> None:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route} takes no query parameters")
        self.fields = {field.alias: field for field in _query_fields(route.dependant)}

    def read(self, raw: bytes) -> dict[str, Any] | None:
        """The values of a query string by the parameters' names (defaults for those not
        given); None for a query to leave to the route, which answers it in its own words: one
        that does not parse, names a parameter the route does not have or names one twice, or
        has a value that is empty or does not validate."""
        try:
            pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return None
        values: dict[str, Any] = {}
        for name, text in pairs:
            field = self.fields.get(name)
            if field is None or field.name in values or not text:
                return None
            value, errors = field.validate(text, {}, loc=("query", name))
            if errors:
                return None
            values[field.name] = value
        for field in self.fields.values():
            values.setdefault(field.name, field.get_default())
        return values


def _query_fields(dependant: Dependant) -> list[Any]:
    return [*dependant.query_params, *(f for d in dependant.dependencies for f in _query_fields(d))]


_CASE_LIST_QUERY = RouteQuery(cases.CASE_LIST_ROUTE)


async def read_case_list(scope: Scope, db: Database, key: str, params: Params) -> Response | None:
    """`GET /cases`: a page of the cases the caller may see, for a query the route would take."""
    query = _CASE_LIST_QUERY.read(scope["query_string"])
    if query is None:
        return None
    paging = Paging(query.pop("page"), query.pop("size"))

    async def page(driver: DriverConnection, principal: Principal) -> Response:
        return await cases.case_page(driver, principal, paging, scope["app"].state.case_views, **query)

    return await _on_driver(scope, db, key, page)
