"""Dependencies every route shares: the unit of work, the caller, scoped lookups, paging."""

import re
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.authentication import caller
from app.auth.access import Permission, require
from app.cases.repository import CaseBundle
from app.cases.service import visible_case
from app.config import Settings, get_settings
from app.context import Principal, RequestContext
from app.db import Database, Unit
from app.errors import ValidationFailedError
from app.idempotency import service as idempotency
from app.idempotency.service import Claim


def database(request: Request) -> Database:
    """The running service's database."""
    db: Database = request.app.state.db
    return db


SAFE_METHODS = frozenset({"GET", "HEAD"})
# Where `app.api.idempotency` keeps the claim on the request's key, in the request's state.
IDEMPOTENCY_CLAIM = "idempotency"


async def get_unit(request: Request) -> AsyncIterator[Unit]:
    """The request's one unit of work (`app.db.Unit`): for a change, one transaction committed
    once the route returns, the request's idempotency key marked committed in it; for a read
    (GET, HEAD), no transaction at all on PostgreSQL."""
    async with database(request).unit(changes=request.method not in SAFE_METHODS) as unit:
        held = getattr(request.state, IDEMPOTENCY_CLAIM, None)
        if isinstance(held, Claim):
            unit.before_commit(partial(idempotency.mark_committed, held=held))
        yield unit


# The unit is opened and closed around the route itself, before the response is sent.
UNIT = Depends(get_unit, scope="function")
UnitDep = Annotated[Unit, UNIT]


async def get_session(unit: UnitDep) -> AsyncSession:
    """The request's session (`app.db.Unit.session`)."""
    return await unit.session()


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def settings_dependency() -> Settings:
    """The process's settings."""
    return get_settings()


# Dependencies are coroutines: FastAPI runs a plain function in a thread of its pool, and the
# hand-off to the thread and back costs more than these functions do.
SettingsDep = Annotated[Settings, Depends(settings_dependency)]


async def get_principal(request: Request) -> Principal:
    """The caller, identified before routing (`app.api.authentication`): 401 without a valid
    bearer token. The bearer scheme is declared in the OpenAPI document by
    `app.api.responses.complete_openapi` (for every operation that may answer 401), not by a
    dependency solved on every request."""
    return caller(request.scope["state"])


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_context(request: Request, principal: PrincipalDep) -> RequestContext:
    """The caller and request id, for services that change data."""
    return RequestContext(principal=principal, request_id=request.scope["state"].get("request_id"))


ContextDep = Annotated[RequestContext, Depends(get_context)]


def allowed(perm: Permission) -> Any:
    """The caller and request id, for a caller whose role has `perm` (403 otherwise): a route's
    permission and its context in one dependency."""

    async def context(request: Request) -> RequestContext:
        state = request.scope["state"]
        principal = caller(state)
        require(principal, perm)
        return RequestContext(principal=principal, request_id=state.get("request_id"))

    return Depends(context)


def permission(perm: Permission) -> Any:
    """A dependency refusing callers whose role lacks `perm` (403)."""

    async def check(principal: PrincipalDep) -> None:
        require(principal, perm)

    return Depends(check)


async def case_for_read(case_id: str, session: SessionDep, principal: PrincipalDep) -> CaseBundle:
    """The case named in the path, if the caller may see it (404 otherwise)."""
    return await visible_case(session, principal, case_id, lock=False)


async def case_for_update(case_id: str, session: SessionDep, principal: PrincipalDep) -> CaseBundle:
    """The case named in the path, locked for this transaction, if the caller may see it."""
    return await visible_case(session, principal, case_id, lock=True)


CaseForRead = Annotated[CaseBundle, Depends(case_for_read)]
CaseForUpdate = Annotated[CaseBundle, Depends(case_for_update)]

# The case's ETag, `"3"` (weak or unquoted forms accepted too).
ETAG_PATTERN = r'^(?:W/)?"?[0-9]{1,18}"?$'
IF_MATCH = Header(
    pattern=ETAG_PATTERN,
    description='The ETag of the case as last read, e.g. "3"',
    examples=['"1"'],
)


_ETAG = re.compile(ETAG_PATTERN)


def parse_if_match(value: str) -> int:
    """The version a client says it has seen, from `If-Match`."""
    if not _ETAG.match(value):
        raise ValidationFailedError('If-Match must be the ETag of the case, e.g. "3"')
    return int(value.removeprefix("W/").strip('"'))


async def if_match_optional(if_match: Annotated[str | None, IF_MATCH] = None) -> int | None:
    """`If-Match` when sent."""
    return None if if_match is None else parse_if_match(if_match)


async def if_match_required(if_match: Annotated[str, IF_MATCH]) -> int:
    """`If-Match`, required: missing is 428 (see `app.api.problems`), malformed 422."""
    return parse_if_match(if_match)


IfMatchOptional = Annotated[int | None, Depends(if_match_optional)]
IfMatchRequired = Annotated[int, Depends(if_match_required)]


class Paging:
    """`page` (0-based) and `size` (at most the configured maximum)."""

    def __init__(self, page: int = 0, size: int = 20) -> None:
        self.page = page
        self.size = size

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return self.page * self.size


# The query parameters each route declares, by its path and endpoint: worked out once per route.
_DECLARED_QUERY: dict[tuple[str, str], frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _declared_query(route: Any) -> frozenset[str]:
    key = (route.path, route.name)
    declared = _DECLARED_QUERY.get(key)
    if declared is None:
        declared = _DECLARED_QUERY[key] = frozenset(_query_names(route.dependant))
    return declared


async def known_query(request: Request) -> None:
    """A list route refuses a query parameter it does not take (422 naming it): a filter the
    client misspelt, or one the route does not have, must not answer every row as if it held."""
    params = request.query_params
    if not params:
        return
    declared = _declared_query(request.scope["route"])
    unknown = [name for name in dict.fromkeys(params.keys()) if name not in declared]
    if unknown:
        raise RequestValidationError(
            [
                {"loc": ("query", name), "msg": "this list takes no such query parameter", "type": "unknown"}
                for name in unknown
            ]
        )


# For a list route without paging (paging checks the query itself).
KNOWN_QUERY = Depends(known_query)


async def paging(
    request: Request,
    page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Paging:
    """`page` and `size` from the query, on a route that takes no other query parameter than
    those it declares."""
    await known_query(request)
    return Paging(page, size)


PagingDep = Annotated[Paging, Depends(paging)]
