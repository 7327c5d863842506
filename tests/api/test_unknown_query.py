"""Every list route refuses a query parameter it does not take, with 422 naming it: a misspelt
filter (`?name=` for `?prisonerNumber=`, say) must not answer every row as if it held."""

import typing
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute

from app.api.app import ROUTE_MODULES
from app.api.routes.audit import AuditPage
from app.common.schemas import Page
from app.events.schemas import FeedPage
from app.reps.schemas import DailyList
from tests.support import Api, Key


def _is_list(model: Any) -> bool:
    if typing.get_origin(model) is list or model in (DailyList, FeedPage, AuditPage):
        return True
    return isinstance(model, type) and issubclass(model, Page)


def list_routes() -> list[str]:
    """The paths of every GET route that answers a list."""
    return sorted(
        route.path
        for module in ROUTE_MODULES
        for route in module.router.routes
        if isinstance(route, APIRoute) and "GET" in route.methods and _is_list(route.response_model)
    )


LIST_ROUTES = list_routes()


def test_the_list_routes_are_found() -> None:
    assert {
        "/cases",
        "/tasks",
        "/reps/{rep_id}/tasks",
        "/cases/{case_id}/parties/{party_id}/consents",
    } <= set(LIST_ROUTES)


async def _target(api: Api, path: str) -> tuple[str, Key]:
    """`path` with real ids in it, and a key that may read it."""
    case = await api.refer()
    rep = await api.rep()
    ids = {
        "case_id": case["id"],
        "party_id": case["parties"][0]["id"],
        "rep_id": rep["id"],
        "subscription_id": str(uuid.uuid4()),
    }
    if path.startswith(("/clients", "/webhook", "/events/inbound", "/audit")):
        key = api.keys.admin
    elif path == "/events":
        key = api.keys.referrer
    elif path == "/reps/me/tasks":
        key = await api.keys.rep(uuid.UUID(rep["id"]))
    else:
        key = api.keys.practitioner
    return path.format(**ids), key


@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_an_unknown_query_parameter_is_named(api: Api, path: str) -> None:
    target, key = await _target(api, path)
    r = await api.client.get(target, params={"name": "Okafor"}, headers=key.headers)
    assert r.status_code == 422, (path, r.status_code, r.text)
    body = r.json()
    assert body["errorCode"] == "VALIDATION_FAILED"
    assert [e["field"] for e in body["errors"]] == ["name"]
    assert "name" in body["detail"]


async def test_declared_parameters_are_still_taken(api: Api) -> None:
    await api.refer()
    r = await api.client.get(
        "/cases",
        params={"state": "referred", "prisonId": "MDI", "page": 0, "size": 5},
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["totalElements"] == 1


async def test_each_unknown_parameter_is_named_once(api: Api) -> None:
    r = await api.client.get("/cases?name=Okafor&name=Ali&sort=name", headers=api.keys.practitioner.headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["name", "sort"]
