"""Health, info and metrics, as prison systems expose them; no auth."""

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from app import __version__, clock
from app.api import metrics
from app.api.deps import database
from app.common.schemas import ApiModel

router = APIRouter(tags=["service"])


class Component(ApiModel):
    status: Literal["UP", "DOWN"]
    details: dict[str, str] | None = None


class Health(ApiModel):
    status: Literal["UP", "DOWN"]
    components: dict[str, Component]


class Up(ApiModel):
    status: Literal["UP"]


HEALTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Health, "description": "Up, with the database's status"},
    503: {"model": Health, "description": "Down: the database does not answer"},
}


async def _database_status(request: Request) -> dict[str, Any]:
    try:
        async with database(request).engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"status": "UP"}
    except Exception as exc:  # noqa: BLE001 - any failure means the database is not usable
        return {"status": "DOWN", "details": {"error": type(exc).__name__}}


@router.get("/health", response_model=Health, responses=HEALTH_RESPONSES)
async def health(request: Request) -> JSONResponse:
    """Overall health with the database's status."""
    db = await _database_status(request)
    status = "UP" if db["status"] == "UP" else "DOWN"
    return JSONResponse(
        {"status": status, "components": {"db": db}}, status_code=200 if status == "UP" else 503
    )


@router.get("/health/ping", response_model=Up)
async def ping() -> dict[str, str]:
    """The process answers."""
    return {"status": "UP"}


@router.get("/health/liveness", response_model=Up)
async def liveness() -> dict[str, str]:
    """The process is alive."""
    return {"status": "UP"}


@router.get("/health/readiness", response_model=Health, responses=HEALTH_RESPONSES)
async def readiness(request: Request) -> JSONResponse:
    """Ready to serve: the database answers."""
    return await health(request)


@router.get("/info")
async def info() -> dict[str, Any]:
    """What this service is."""
    return {
        "build": {"name": "rj-casework", "version": __version__},
        "productId": "rj-casework",
        "time": clock.now().isoformat(),
    }


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus() -> PlainTextResponse:
    """Prometheus metrics of this process."""
    return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")
