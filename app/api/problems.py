"""Every error as an RFC 9457 problem carrying the prison systems' members too."""

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.errors import AppError

log = logging.getLogger("rj_casework.errors")

PROBLEM_JSON = "application/problem+json"
IF_MATCH_LOC = ("header", "if-match")

HTTP_CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHENTICATED", "Unauthenticated"),
    403: ("FORBIDDEN", "Forbidden"),
    404: ("NOT_FOUND", "Not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("NOT_ACCEPTABLE", "Not acceptable"),
    413: ("PAYLOAD_TOO_LARGE", "Payload too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
}


def problem(
    status: int,
    error_code: str,
    title: str,
    detail: str,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem response."""
    body: dict[str, Any] = {
        "type": f"https://rj-casework/problems/{error_code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "errorCode": error_code,
        "userMessage": detail,
        "developerMessage": detail,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem(exc.status, exc.error_code, exc.title, exc.message, extra=exc.extra, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == IF_MATCH_LOC for e in exc.errors()):
        # A precondition the route requires was not sent: RFC 6585 says 428, not 422.
        return problem(
            428,
            "PRECONDITION_REQUIRED",
            "Precondition required",
            "send If-Match with the case's ETag to change it",
        )
    errors = [
        {
            "field": _field_name(tuple(e.get("loc", ()))),
            "message": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    detail = f"invalid request: {fields}"
    if any(tuple(e.get("loc", ())) == IF_MATCH_LOC for e in exc.errors()):
        detail += '; If-Match must be the ETag of the case, e.g. "3"'
    return problem(422, "VALIDATION_FAILED", "Validation failed", detail, extra={"errors": errors})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code, title = HTTP_CODES.get(exc.status_code, ("HTTP_ERROR", "Error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem(exc.status_code, code, title, detail, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (a path may have several routes)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(route.methods or ())
    return sorted(methods)


async def _database_down(_request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", type(exc).__name__)
    return problem(
        503,
        "SERVICE_UNAVAILABLE",
        "Service unavailable",
        "the database is not available; try again shortly",
        headers={"Retry-After": "5"},
    )


def internal_error() -> JSONResponse:
    """The 500 problem: nothing of the failure itself reaches the client."""
    return problem(500, "INTERNAL_ERROR", "Internal error", "something went wrong; it has been logged")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return internal_error()


# PostgreSQL's codes for "not available now": connection exceptions (class 08), shutting down
# (57P01, 57P02), starting up or recovering (57P03), and too many connections (53300).
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_connection_error(exc: BaseException) -> bool:
    """Whether a database error means the database cannot be reached (not a bad statement):
    raised through SQLAlchemy, or by the driver itself on a path that uses it directly
    (`app.db.Database.driver`)."""
    if isinstance(exc, InterfaceError | OperationalError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        return _unavailable(exc)
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or (exc.orig is not None and _unavailable(exc.orig))


def _unavailable(driver_error: BaseException) -> bool:
    sqlstate = getattr(driver_error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES)


async def _db_error(request: Request, exc: Exception) -> JSONResponse:
    if is_connection_error(exc) or isinstance(exc, ConnectionError | OSError):
        return await _database_down(request, exc)
    return await _unexpected(request, exc)


def install(app: FastAPI) -> None:
    """Register the handlers."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _db_error)
    app.add_exception_handler(asyncpg.PostgresError, _db_error)
    app.add_exception_handler(asyncpg.InterfaceError, _db_error)
    app.add_exception_handler(ConnectionError, _database_down)
    app.add_exception_handler(OSError, _database_down)
    app.add_exception_handler(Exception, _unexpected)
