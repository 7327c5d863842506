"""Boundary values in every time, date and integer the API takes: never a 500.

Every operation of the OpenAPI document with a `date-time`, `date` or `integer` input (body, query
or path) is sent, as a caller allowed to make it, its ordinary request with one input changed to a
value at an edge: times of years 1 and 9999 with offsets that carry them out of what Python holds,
the first and last dates, integers just inside and outside the databases' BIGINT, and the edges of
what the service takes (years 2 to 9998). Out of range is a 422 naming the input; at the edges the
answer is a 2xx or a problem, never a 500.
"""

import copy
import math
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.api.app import create_app
from app.config import Settings
from app.db import Database
from app.openapi import openapi_document
from tests.conftest import _empty
from tests.security.test_authz_matrix import MATRIX, ROLES, Recipe, Req, World, is_success

BIGINT = 2**63 - 1
# (value, whether it is refused as out of range). Out of range: a time that is not in years 2 to
# 9998 in UTC (some have no UTC form at all), a date outside those years, an integer beyond BIGINT.
# The rest are the edges of what is taken: the service may still refuse them for its own rules
# (a due time in the past, a page past the last), never with a 500.
TIMES = [
    ("0001-01-01T00:00:00+01:00", True),
    ("0001-01-01T00:00:00Z", True),
    ("0001-01-01T23:59:59+14:00", True),
    ("0001-12-31T23:59:59.999999Z", True),
    ("0002-01-01T00:00:00Z", False),
    ("0002-01-01T10:00:00+10:00", False),
    ("9998-12-31T23:59:59.999999Z", False),
    ("9998-12-31T10:00:00-13:59", False),
    ("9999-01-01T00:00:00Z", True),
    ("9999-12-31T23:59:59-01:00", True),
    ("9999-12-31T23:59:59.999999Z", True),
]
DATES = [
    ("0001-01-01", True),
    ("0001-12-31", True),
    ("0002-01-01", False),
    ("9998-12-31", False),
    ("9999-01-01", True),
    ("9999-12-31", True),
]
INTEGERS = [
    (-1, False),
    (0, False),
    (2**31, False),
    (BIGINT, False),
    (BIGINT + 1, True),
    (2**64, True),
    (-BIGINT - 2, True),
    (10**30, True),
]
VALUES: dict[str, list[tuple[Any, bool]]] = {"date-time": TIMES, "date": DATES, "integer": INTEGERS}


Input = tuple[str, str, dict[str, Any]]


def _inputs(schema: dict[str, Any], where: str, document: dict[str, Any]) -> Iterator[Input]:
    """(dotted name, kind, schema) of every time, date and integer inside `schema`."""
    schemas = document["components"]["schemas"]

    def walk(node: dict[str, Any], name: str, seen: frozenset[str]) -> Iterator[Input]:
        if "$ref" in node:
            ref = node["$ref"].rsplit("/", 1)[-1]
            if ref not in seen:
                yield from walk(schemas[ref], name, seen | {ref})
            return
        for option in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
            yield from walk(option, name, seen)
        kind = node.get("format") if node.get("format") in ("date", "date-time") else node.get("type")
        if kind in VALUES:
            yield name, kind, node
        for prop, sub in node.get("properties", {}).items():
            yield from walk(sub, f"{name}.{prop}" if name else prop, seen)
        if isinstance(node.get("items"), dict):
            yield from walk(node["items"], f"{name}.0" if name else "0", seen)

    yield from walk(schema, where, frozenset())


def _found() -> dict[tuple[str, str, str, str], list[dict[str, Any]]]:
    """(operation, where, name, kind) of every time, date and integer input: its schemas."""
    document = openapi_document()
    found: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            op = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                for name, kind, node in _inputs(parameter["schema"], parameter["name"], document):
                    found.setdefault((op, parameter["in"], name, kind), []).append(node)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for name, kind, node in _inputs(content["schema"], "", document):
                    found.setdefault((op, "body", name, kind), []).append(node)
    return found


FOUND = _found()
CASES = [pytest.param(*key, id=f"{key[0]} {key[2]}") for key in FOUND]


def _set(body: Any, dotted: str, value: Any) -> Any:
    """`body` with the input at `dotted` set to `value` (its parents made where missing)."""
    body = copy.deepcopy(body) if body is not None else {}
    target = body
    *parents, last = dotted.split(".")
    for i, name in enumerate(parents):
        key: Any = int(name) if name.isdigit() else name
        if isinstance(target, list):
            while len(target) <= key:
                target.append({})
        elif key not in target or not isinstance(target[key], dict | list):
            target[key] = [] if (parents + [last])[i + 1].isdigit() else {}
        target = target[key]
    if isinstance(target, list):
        while len(target) <= int(last):
            target.append(None)
        target[int(last)] = value
    else:
        target[last] = value
    return body


@pytest.fixture(scope="module")
async def seeded(database_url: str) -> AsyncIterator[World]:
    """One app and one database seeded as the authorisation matrix seeds it, for the module."""
    settings = Settings(database_url=database_url, base_url="http://rj.test")
    db = Database(settings)
    await _empty(db)
    app = create_app(settings, database=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://rj.test"
    ) as client:
        w = World(client, db)
        await w.seed()
        yield w
    await db.dispose()


@pytest.fixture
async def world(seeded: World) -> AsyncIterator[World]:
    """The seeded world with objects of the test's own, made for a new rep of its prison: every
    new case takes one of its rep's places, and a test may change the rep."""
    w = World(seeded.client, seeded.db)
    w.keys, w.inbound, w.subscriptions, w.deliveries, w.clients = (
        seeded.keys,
        seeded.inbound,
        seeded.subscriptions,
        seeded.deliveries,
        seeded.clients,
    )
    w.reps = dict(seeded.reps)
    # Prisoner numbers and references stay unique across the module's worlds.
    w._numbers = seeded._numbers
    r = await w.client.post(
        "/reps",
        json={
            "prisonerNumber": w.next_number(),
            "firstName": "Andre",
            "lastName": "Rep",
            "prisonId": "MDI",
            "status": "active",
            "maxActiveCases": 50,
        },
        headers=w.keys["admin"].headers,
    )
    assert r.status_code == 201, r.text
    w.reps["mine"] = r.json()["id"]
    yield w
    seeded._numbers = w._numbers


async def _incident_report(w: World, _scope: str, _fresh: bool) -> Req:
    return Req(
        body={
            "reportReference": str(90000000 + w.next_serial()),
            "type": "ASSAULT_5",
            "location": "MDI",
            "incidentDateAndTime": "2026-11-20T10:00:00",
            "description": "A fight on the landing after association.",
            "prisonersInvolved": [
                {
                    "prisonerNumber": w.next_number(),
                    "firstName": "Dean",
                    "lastName": "Walsh",
                    "prisonerRole": "VICTIM",
                },
                {
                    "prisonerNumber": w.next_number(),
                    "firstName": "Marcus",
                    "lastName": "Okoye",
                    "prisonerRole": "ASSAILANT",
                },
            ],
        }
    )


async def _schedule_conference(w: World, scope: str, _fresh: bool) -> Req:
    case = await w.staged(scope, True, "assessment")
    return Req(
        path={"case_id": case["id"]},
        body={"trigger": "schedule_conference", "conference": w.conference_details(scope)},
    )


# Requests to change where the matrix's request does not reach the input: the incident report
# without the sample file, a transition that schedules a conference rather than a pause.
BASES: dict[tuple[str, str], Recipe] = {
    ("POST /referrals/incident-reports", "incidentDateAndTime"): _incident_report,
    ("POST /cases/{case_id}/transitions", "conference.scheduledAt"): _schedule_conference,
}


def _caller(op: str) -> str:
    """A role that may make the request on an object of its own."""
    expect = MATRIX[op].expect
    assert isinstance(expect, dict), f"{op} needs no caller"
    return next(role for role in ROLES if is_success(expect[role][0]))


class TestBoundaryValues:
    def test_every_kind_of_input_is_found(self) -> None:
        found = {(c.values[0], c.values[2]) for c in CASES}
        assert {
            ("GET /audit", "after"),
            ("POST /referrals", "incident.occurredAt"),
            ("GET /reports/summary", "from"),
            ("POST /cases/{case_id}/conference/outcome", "agreement.0.dueOn"),
        } <= found

    @pytest.mark.parametrize(("op", "where", "name", "kind"), CASES)
    async def test_never_a_server_error(
        self, world: World, op: str, where: str, name: str, kind: str
    ) -> None:
        method, path = op.split(" ", 1)
        role = _caller(op)
        recipe = BASES.get((op, name)) or MATRIX[op].recipe
        assert recipe is not None
        for value, refused in [(None, False), *VALUES[kind]]:
            req = await recipe(world, "mine", method != "GET")
            query, body, params = dict(req.query), req.body, dict(req.path)
            if value is None:
                pass  # the request as it is, which must go through: the changed ones reach as far
            elif where == "query":
                query[name] = str(value)
            elif where == "path":
                params[name] = str(value)
            else:
                body = _set(body, name, value)
            r = await world.client.request(
                method,
                path.format(**params),
                params=query,
                json=body if method != "GET" else None,
                headers={**world.keys[role].headers, **req.headers},
            )
            if value is None:
                assert r.is_success, r.text
            elif refused:
                assert r.status_code == 422, f"{name}={value}: {r.status_code} {r.text}"
                assert name in [e["field"] for e in r.json().get("errors", [])], f"{name}={value}: {r.text}"
            else:
                assert r.status_code < 500, f"{name}={value}: {r.status_code} {r.text}"
                if r.status_code >= 400:
                    assert r.headers["content-type"] == "application/problem+json", f"{name}={value}"

    def test_every_integer_input_is_bounded_within_bigint_in_the_document(self) -> None:
        unbounded = sorted(
            f"{op} {name}"
            for (op, _where, name, kind), nodes in FOUND.items()
            if kind == "integer"
            for node in nodes
            if not -BIGINT - 1 <= node.get("minimum", -math.inf) <= node.get("maximum", math.inf) <= BIGINT
        )
        assert not unbounded, f"integer inputs without bounds inside BIGINT: {unbounded}"
