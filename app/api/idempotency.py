"""`Idempotency-Key` on every POST, for every router, in one place.

The middleware claims the key in its own short transaction before the route runs (so that on
SQLite it never waits on the request's own write lock), and after the route has committed keeps
the response to replay it. The request's unit of work (`app.api.deps.get_unit`) marks the key
committed inside the request's transaction, so a request's change and its key commit together.
"""

import logging
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.asgi import header, read_body, replaying
from app.api.authentication import PRINCIPAL
from app.api.deps import IDEMPOTENCY_CLAIM, UNIT
from app.api.problems import problem
from app.context import Principal
from app.db import Database
from app.errors import (
    AppError,
    IdempotencyResponseNotKeptError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from app.idempotency import service
from app.idempotency.service import KEY_PATTERN, MAX_KEY_LENGTH, Claim, StoredResponse, valid_key

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# What a replay repeats besides status and body; request ids and the like stay per request.
KEPT_HEADERS = ("content-type", "location", "etag")


class IdempotencyMiddleware:
    """Claim the key, replay a finished request's response, keep a new one's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if raw_key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = raw_key.strip()
        if not valid_key(key):
            invalid = ValidationFailedError(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
            )
            await _send_problem(scope, receive, send, invalid)
            return
        try:
            body = await read_body(receive)
        except HTTPException as exc:
            await _send_problem(scope, receive, send, PayloadTooLargeError(str(exc.detail)))
            return
        replay_receive = replaying(body, receive)
        db: Database = scope["app"].state.db
        try:
            outcome = await _claim(db, scope, key, body)
        except AppError as exc:
            await _send_problem(scope, receive, send, exc)
            return
        except (DBAPIError, OSError) as exc:
            log.error("idempotency key not claimed, database unavailable: %s", type(exc).__name__)
            down = ServiceUnavailableError("the database is not available; try again shortly")
            await _send_problem(scope, receive, send, down)
            return
        if outcome is None:
            await self.app(scope, replay_receive, send)
        elif isinstance(outcome, StoredResponse):
            await _send_stored(outcome, send)
        else:
            await self._run_claimed(db, outcome, scope, replay_receive, send)

    async def _run_claimed(
        self, db: Database, held: Claim, scope: Scope, receive: Receive, send: Send
    ) -> None:
        scope.setdefault("state", {})[IDEMPOTENCY_CLAIM] = held
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await _settle(db, held, None)
            raise
        # Keep the response before the client sees it, so that a retry right after gets the replay.
        await _settle(db, held, _kept(_stored(messages), messages))
        for message in messages:
            await send(message)


def dependencies_for(router: APIRouter) -> list[Any]:
    """The dependencies a router's routes need for the keys: the request's unit of work, which
    marks the key committed in the request's own transaction (`app.api.deps.get_unit`), if any of
    its routes is a POST, the only method that takes `Idempotency-Key`. A route that uses no
    unit of its own then still has one for the mark; a router of reads alone (health, the
    workflow) opens none."""
    takes_keys = any(isinstance(r, APIRoute) and "POST" in (r.methods or ()) for r in router.routes)
    return [UNIT] if takes_keys else []


async def _claim(db: Database, scope: Scope, key: str, body: bytes) -> Claim | StoredResponse | None:
    principal: Principal | None = scope["state"].get(PRINCIPAL)
    if principal is None or principal.client_id is None:
        return None  # the route refuses the caller in its own words
    path = scope["path"] + (
        "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
    )
    async with db.transaction() as session:
        return await service.claim(
            session,
            client_id=principal.client_id,
            key=key,
            fingerprint=service.fingerprint(scope["method"], path, body),
        )


async def _settle(db: Database, held: Claim, response: StoredResponse | None) -> None:
    """Keep the response of a request that committed; give the key back otherwise.

    A failure here must not hide the request's own answer: the key is then left to its lock,
    after which a retry finds it (committed: 409, never run again; not committed: taken over).
    """
    try:
        async with db.transaction() as session:
            kept = response is not None and await service.store_response(session, held, response)
            if not kept:
                await service.release(session, held)
    except Exception:  # noqa: BLE001 - logged; the client still gets the request's own response
        log.exception("idempotency key %s could not be settled", held.id)


def _kept(stored: StoredResponse | None, messages: list[Message]) -> StoredResponse | None:
    """What a retry is answered: the first response, unless it must not be stored (`Cache-Control:
    no-store`, such as a new key shown once); then a refusal saying that the request was done."""
    if stored is None or not any(
        m["type"] == "http.response.start"
        and any(k.lower() == b"cache-control" and b"no-store" in v.lower() for k, v in m.get("headers", []))
        for m in messages
    ):
        return stored
    done = IdempotencyResponseNotKeptError(
        "the first request with this Idempotency-Key was completed; its response was shown once "
        "and is not kept"
    )
    refusal = problem(done.status, done.error_code, done.title, done.message)
    return StoredResponse(
        status=done.status, headers={"content-type": refusal.media_type or ""}, body=bytes(refusal.body)
    )


def _stored(messages: list[Message]) -> StoredResponse | None:
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    if start is None:
        return None
    headers = {
        k.decode("latin-1").lower(): v.decode("latin-1")
        for k, v in start.get("headers", [])
        if k.decode("latin-1").lower() in KEPT_HEADERS
    }
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return StoredResponse(status=int(start["status"]), headers=headers, body=body)


async def _send_stored(stored: StoredResponse, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers.items()]
    headers += [(b"content-length", str(len(stored.body)).encode()), (REPLAYED.lower().encode(), b"true")]
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})


async def _send_problem(scope: Scope, receive: Receive, send: Send, exc: AppError) -> None:
    await problem(exc.status, exc.error_code, exc.title, exc.message, extra=exc.extra)(scope, receive, send)


def document(app: FastAPI) -> None:
    """Show the `Idempotency-Key` header on every POST of the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for item in schema.get("paths", {}).values():
            operation = item.get("post")
            if operation is None:
                continue
            operation.setdefault("parameters", []).append(
                {
                    "name": HEADER,
                    "in": "header",
                    "required": False,
                    "description": "Makes the request safe to retry: the same key and body replay the "
                    "first response; another body is 422 IDEMPOTENCY_KEY_REUSED; while the first "
                    "still runs, 409. Kept per client for at least 24 hours.",
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_KEY_LENGTH,
                        "pattern": KEY_PATTERN,
                    },
                }
            )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
