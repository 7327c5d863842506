"""The FastAPI application: routers, middleware, error handlers, start-up checks."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__, logs
from app.api import docs, idempotency, problems
from app.api.admission import Admission
from app.api.authentication import Authentication
from app.api.idempotency import IdempotencyMiddleware
from app.api.middleware import RequestMiddleware
from app.api.responses import complete_openapi
from app.api.routes import (
    audit,
    cases,
    clients,
    conferences,
    contacts,
    events,
    health,
    letters,
    notes,
    parties,
    practitioners,
    prisons,
    referrals,
    reports,
    reps,
    retention,
    safeguarding,
    subject_access,
    tasks,
    webhooks,
    workflow,
)
from app.auth.jwt import JwtVerifier
from app.auth.practitioners import SignedInRecords
from app.auth.service import PrincipalCache
from app.cases.view_cache import CaseViewCache
from app.config import Settings, get_settings
from app.db import Database
from app.migrate import ensure_migrated

DESCRIPTION = """Restorative-justice case workflow for prisons: referrals, assessment, shuttle
mediation, letters, conferences, wellbeing follow-up and closure, with a tamper-evident audit trail.

Authenticate with `Authorization: Bearer <key>` (keys come from `rj-casework clients create`), or
with a JWT from the prisons' identity provider when one is configured (`RJ_JWT_*` settings)."""


# The routers, in the order their routes are matched: the busiest first, since each request is
# matched against the routes before its own, one by one.
ROUTE_MODULES = (
    cases,
    referrals,
    reps,
    tasks,
    health,
    workflow,
    parties,
    contacts,
    letters,
    notes,
    conferences,
    safeguarding,
    practitioners,
    prisons,
    reports,
    subject_access,
    retention,
    audit,
    events,
    webhooks,
    clients,
)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the application; the database is checked for migrations at start-up."""
    settings = settings or get_settings()
    db = database or Database(settings)
    logs.configure(settings.log_level)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ensure_migrated(db.engine)
        await db.warm()
        yield
        await db.dispose()

    app = FastAPI(
        title="rj-casework",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs is served by app/api/docs.py, from files of the service's own; no ReDoc.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.db = db
    app.state.settings = settings
    app.state.jwt = JwtVerifier.from_settings(settings)
    app.state.principals = PrincipalCache(settings.auth_cache_seconds)
    app.state.case_views = CaseViewCache(settings.case_view_cache)
    app.state.signed_in = SignedInRecords()
    problems.install(app)
    # Added first, so it runs inside RequestMiddleware (request ids, body limit, headers).
    app.add_middleware(IdempotencyMiddleware)
    # Outside the idempotency keys, which are claimed for the caller it finds.
    app.add_middleware(Authentication)
    if settings.cors_origins:
        # Closed unless origins are configured; added first so that the request middleware,
        # outermost, still stamps preflight answers with its headers.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After"],
            max_age=600,
        )
    if settings.max_in_flight:
        # Inside the request middleware, so that a request turned away still has its id, headers
        # and metrics; outside everything that works.
        app.add_middleware(
            Admission, limit=settings.max_in_flight, wait_seconds=settings.admission_wait_seconds
        )
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes)
    for module in ROUTE_MODULES:
        app.include_router(module.router, dependencies=idempotency.dependencies_for(module.router))
    if settings.docs_enabled:
        docs.install(app)
    idempotency.document(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_openapi(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
