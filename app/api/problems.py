"""Every error as an RFC 9457 problem carrying the prison systems' members too."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import AppError

log = logging.getLogger("rj_casework.errors")

PROBLEM_JSON = "application/problem+json"

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
    errors = [
        {
            "field": _field_name(tuple(e.get("loc", ()))),
            "message": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem(
        422,
        "VALIDATION_FAILED",
        "Validation failed",
        f"invalid request: {fields}",
        extra={"errors": errors},
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code, title = HTTP_CODES.get(exc.status_code, ("HTTP_ERROR", "Error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem(exc.status_code, code, title, detail, headers=dict(exc.headers or {}))


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


def is_connection_error(exc: BaseException) -> bool:
    """Whether a database error means the database cannot be reached (not a bad statement)."""
    if isinstance(exc, InterfaceError | OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


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
    app.add_exception_handler(ConnectionError, _database_down)
    app.add_exception_handler(OSError, _database_down)
    app.add_exception_handler(Exception, _unexpected)
