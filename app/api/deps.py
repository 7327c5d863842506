"""Dependencies every route shares: the session, the caller, scoped lookups, paging."""

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.asgi import bearer_token
from app.auth import jwt as jwt_auth
from app.auth import service as auth
from app.auth.access import Permission, require, sees_case
from app.cases import repository as repo
from app.cases.repository import CaseBundle
from app.config import Settings, get_settings
from app.context import Principal, RequestContext
from app.db import Database
from app.errors import (
    NotFoundError,
    UnauthenticatedError,
    ValidationFailedError,
)


def database(request: Request) -> Database:
    """The running service's database."""
    db: Database = request.app.state.db
    return db


SAFE_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: for a change, one transaction committed once the route returns;
    for a read (GET, HEAD), no transaction at all on PostgreSQL."""
    db = database(request)
    if request.method in SAFE_METHODS:
        async with db.reading() as session:
            yield session
        return
    async with db.transaction() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def settings_dependency() -> Settings:
    """The process's settings."""
    return get_settings()


# Dependencies are coroutines: FastAPI runs a plain function in a thread of its pool, and the
# hand-off to the thread and back costs more than these functions do.
SettingsDep = Annotated[Settings, Depends(settings_dependency)]


async def get_principal(request: Request, session: SessionDep) -> Principal:
    """The authenticated caller (401 without a valid bearer key). The bearer scheme is declared
    in the OpenAPI document by `app.api.responses.complete_openapi` (for every operation that
    may answer 401), not by a dependency solved on every request."""
    return await _authenticate(request, session)


async def get_principal_alone(request: Request) -> Principal:
    """The caller, looked up in a short transaction of its own.

    For routes that run transactions of their own (and must not hold one open while waiting on
    another system): the request then holds no transaction at all.
    """
    async with database(request).transaction() as session:
        return await _authenticate(request, session)


async def _authenticate(request: Request, session: AsyncSession) -> Principal:
    """The caller: a JWT from the identity provider, or one of our `rjk_` keys (401 otherwise)."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise UnauthenticatedError("a bearer token is required")
    principal: Principal | None
    if jwt_auth.is_jwt(token):
        verifier: jwt_auth.JwtVerifier | None = request.app.state.jwt
        if verifier is None:
            raise UnauthenticatedError(
                "JWT bearer tokens are not accepted: no identity provider is configured"
            )
        principal = await verifier.principal(token, request.headers)
        await jwt_auth.check_rep(session, principal)
    else:
        cache: auth.PrincipalCache | None = getattr(request.app.state, "principals", None)
        principal = await auth.authenticate(session, token, cache)
    if principal is None:
        raise UnauthenticatedError("the bearer token is not valid")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]
PrincipalAloneDep = Annotated[Principal, Depends(get_principal_alone)]


async def get_context(request: Request, principal: PrincipalDep) -> RequestContext:
    """The caller and request id, for services that change data."""
    return RequestContext(principal=principal, request_id=getattr(request.state, "request_id", None))


def get_context_alone(request: Request, principal: PrincipalAloneDep) -> RequestContext:
    """The caller and request id, without a request transaction (see `get_principal_alone`)."""
    return RequestContext(principal=principal, request_id=getattr(request.state, "request_id", None))


ContextDep = Annotated[RequestContext, Depends(get_context)]
ContextAloneDep = Annotated[RequestContext, Depends(get_context_alone)]


def permission(perm: Permission) -> Any:
    """A dependency refusing callers whose role lacks `perm` (403)."""

    async def check(principal: PrincipalDep) -> None:
        require(principal, perm)

    return Depends(check)


async def _case_in_scope(
    case_id: str, session: AsyncSession, principal: Principal, *, lock: bool
) -> CaseBundle:
    require(principal, Permission.CASE_READ)
    bundle = await repo.get_bundle(session, case_id, lock=lock, principal=principal)
    return in_scope(principal, case_id, bundle)


def in_scope(principal: Principal, case_id: str, bundle: CaseBundle | None) -> CaseBundle:
    """The case found for `case_id`, if the caller may see it (404 otherwise)."""
    if bundle is None or not may_see(principal, bundle):
        raise NotFoundError(f"no case {case_id}")
    return bundle


def may_see(principal: Principal, bundle: CaseBundle) -> bool:
    """Whether the case is in the caller's scope (its caseload; a rep's own cases)."""
    return sees_case(
        principal,
        bundle.case,
        rep_assigned=principal.rep_id is not None and principal.rep_id in bundle.rep_ids,
    )


async def case_in_scope(
    session: AsyncSession, principal: Principal, case_id: str, *, lock: bool
) -> CaseBundle:
    """A case named in a request body, if the caller may see it (404 otherwise)."""
    return await _case_in_scope(case_id, session, principal, lock=lock)


async def case_for_read(case_id: str, session: SessionDep, principal: PrincipalDep) -> CaseBundle:
    """The case named in the path, if the caller may see it (404 otherwise)."""
    return await _case_in_scope(case_id, session, principal, lock=False)


async def case_for_update(case_id: str, session: SessionDep, principal: PrincipalDep) -> CaseBundle:
    """The case named in the path, locked for this transaction, if the caller may see it."""
    return await _case_in_scope(case_id, session, principal, lock=True)


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


async def paging(
    page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Paging:
    """`page` and `size` from the query."""
    return Paging(page, size)


PagingDep = Annotated[Paging, Depends(paging)]
