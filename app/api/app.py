"""The FastAPI application: routers, middleware, error handlers, start-up checks."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api import problems
from app.api.middleware import RequestMiddleware
from app.api.routes import audit, cases, health, referrals, reps, tasks, workflow
from app.auth.service import PrincipalCache
from app.config import Settings, get_settings
from app.db import Database
from app.migrate import ensure_migrated

DESCRIPTION = """Restorative-justice case workflow for prisons: referrals, assessment, shuttle
mediation, letters, conferences, wellbeing follow-up and closure, with a tamper-evident audit trail.

Authenticate with `Authorization: Bearer <key>` (keys come from `rj-casework clients create`)."""


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    """Build the application; the database is checked for migrations at start-up."""
    settings = settings or get_settings()
    db = database or Database(settings)
    logging.basicConfig(level=settings.log_level.upper())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await ensure_migrated(db.engine)
        yield
        await db.dispose()

    app = FastAPI(
        title="rj-casework",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.db = db
    app.state.settings = settings
    app.state.principals = PrincipalCache(settings.auth_cache_seconds)
    problems.install(app)
    app.add_middleware(RequestMiddleware, max_body_bytes=settings.max_body_bytes)
    for module in (health, workflow, referrals, cases, reps, tasks, audit):
        app.include_router(module.router)
    return app
