"""The workflow, as data and as a diagram, from the one table."""

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response

from app.api.responses import Problem
from app.errors import NotFoundError
from app.workflows import case_workflow as wf
from app.workflows import diagram as rendering

router = APIRouter(prefix="/workflow", tags=["workflow"])


@router.get("")
async def workflow() -> dict[str, Any]:
    """States, triggers, who may fire each, and the guards."""
    return wf.describe()


@router.get(
    "/diagram",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}, "image/svg+xml": {}}},
        404: {"model": Problem, "description": "No SVG here: Graphviz is not installed"},
    },
)
async def diagram(format: Annotated[Literal["mermaid", "svg"], Query()] = "mermaid") -> Response:
    """The workflow as a Mermaid state diagram (`?format=svg` where Graphviz is installed)."""
    if format == "mermaid":
        return PlainTextResponse(wf.mermaid())
    svg = await asyncio.to_thread(rendering.svg)
    if svg is None:
        raise NotFoundError("no SVG rendition here: Graphviz is not installed; use format=mermaid")
    return Response(svg, media_type="image/svg+xml")
