"""A stand-in for the prisons' non-associations service (hmpps-non-associations-api).

It answers `POST /non-associations/between` as the real service does: a JSON list of prisoner
numbers in, the non-associations among them out (`includeOpen` / `includeClosed` honoured),
with HMPPS-shaped errors for a missing or wrong bearer token.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.config import Settings, get_settings
from tests.standins.server import closed_port_url, serve

TOKEN = "standin-non-associations-token"


@dataclass
class NonAssociations:
    """What the stand-in holds, and the requests it received."""

    url: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    requests: list[list[str]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add(
        self,
        first: str,
        second: str,
        *,
        reason: str = "BULLYING",
        restriction: str = "WING",
        closed: bool = False,
    ) -> None:
        """Record that `first` and `second` must be kept apart."""
        self.records.append(
            {
                "id": next(self._ids),
                "firstPrisonerNumber": first,
                "firstPrisonerRole": "VICTIM",
                "secondPrisonerNumber": second,
                "secondPrisonerRole": "PERPETRATOR",
                "reason": reason,
                "restrictionType": restriction,
                "comment": "Stand-in record",
                "isClosed": closed,
                "isOpen": not closed,
            }
        )

    def reset(self) -> None:
        """Forget every record and request."""
        self.records.clear()
        self.requests.clear()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "status": status,
            "errorCode": None,
            "userMessage": message,
            "developerMessage": message,
            "moreInfo": None,
        },
        status_code=status,
    )


def build_app(state: NonAssociations) -> FastAPI:
    """The stand-in's ASGI app."""
    app = FastAPI()

    @app.get("/health/ping")
    async def ping() -> dict[str, str]:
        return {"status": "UP"}

    @app.post("/non-associations/between")
    async def between(request: Request) -> Any:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _error(401, "Authentication required")
        numbers = await request.json()
        if not isinstance(numbers, list) or len(numbers) < 2:
            return _error(400, "Provide at least two prisoner numbers")
        state.requests.append(list(numbers))
        include_open = request.query_params.get("includeOpen", "true") == "true"
        include_closed = request.query_params.get("includeClosed", "false") == "true"
        wanted = set(numbers)
        return [
            r
            for r in state.records
            if r["firstPrisonerNumber"] in wanted
            and r["secondPrisonerNumber"] in wanted
            and ((r["isClosed"] and include_closed) or (not r["isClosed"] and include_open))
        ]

    return app


@pytest.fixture(scope="session")
def _non_associations_server() -> Iterator[NonAssociations]:
    state = NonAssociations()
    with serve(build_app(state)) as url:
        state.url = url
        yield state


@pytest.fixture
def non_associations(
    _non_associations_server: NonAssociations, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NonAssociations]:
    """The stand-in, empty, configured as the service's non-associations service."""
    _non_associations_server.reset()
    monkeypatch.setenv("RJ_NON_ASSOCIATIONS_URL", _non_associations_server.url)
    monkeypatch.setenv("RJ_NON_ASSOCIATIONS_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield _non_associations_server
    get_settings.cache_clear()


@pytest.fixture
def non_associations_down(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The non-associations service configured but not answering (connection refused)."""
    url = closed_port_url()
    monkeypatch.setenv("RJ_NON_ASSOCIATIONS_URL", url)
    monkeypatch.setenv("RJ_NON_ASSOCIATIONS_TOKEN", TOKEN)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
