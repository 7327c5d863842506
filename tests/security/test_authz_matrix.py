"""The authorisation matrix: every route of the app, crossed with every role and with objects
in and out of the caller's prison and assignment (OWASP API1 and API5: broken object-level and
function-level authorisation).

The expected outcome of every cell is declared in MATRIX below. The routes come from the app
itself, so a route added without an entry fails `test_every_route_has_an_entry` and its cells.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy import func, select

from app.api.app import create_app
from app.audit.models import AuditRecord
from app.config import Settings
from app.db import Database
from tests.conftest import _empty
from tests.support import Key, make_key, referral_body, until

ROLES = ("practitioner", "rep", "referrer", "manager", "auditor", "admin")
# mine:      in the caller's prison and the caller's own (a rep: assigned to it; a referrer: its referral)
# prison:    in the caller's prison, not the caller's own
# elsewhere: in another prison
SCOPES = ("mine", "prison", "elsewhere")
LISTED, HIDDEN = "listed", "hidden"
PUBLIC = "public"  # no token needed; every caller gets 200

Outcome = int | str
Row = tuple[Outcome, Outcome, Outcome]


@dataclass
class Req:
    """One request of a cell: path parameters, body, headers, and for lists the id to look for."""

    path: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    probe: str | None = None
    probe_field: str = "id"


Recipe = Callable[["World", str, bool], Awaitable[Req]]


@dataclass
class Entry:
    """A route's request recipe and, per role, the outcome for (mine, prison, elsewhere)."""

    recipe: Recipe | None
    expect: dict[str, Row] | str


def roles(**rows: Row) -> dict[str, Row]:
    """Every role must be given."""
    assert set(rows) == set(ROLES), sorted(set(ROLES) ^ set(rows))
    return rows


FORBIDDEN: Row = (403, 403, 403)


# --- request recipes: `fresh` asks for objects of their own, for cells expected to change them ---


async def no_input(_w: "World", _scope: str, _fresh: bool) -> Req:
    return Req()


async def a_case(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.case(scope, fresh)
    return Req(path={"case_id": case["id"]}, headers={"If-Match": f'"{case["version"]}"'})


async def a_case_reference(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.case(scope, fresh)
    return Req(path={"case_id": case["reference"]})


async def list_cases(w: "World", scope: str, _fresh: bool) -> Req:
    case = await w.case(scope, False)
    return Req(query={"prisonerNumber": case["parties"][0]["prisonerNumber"]}, probe=case["id"])


async def patch_case(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_case(w, scope, fresh)
    req.body = {"summary": "Checked by the matrix"}
    return req


async def add_party(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_case(w, scope, fresh)
    req.body = {"prisonerNumber": w.next_number(), "firstName": "Ravi", "lastName": "Shah", "role": "both"}
    return req


async def consent(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.case(scope, fresh)
    return Req(
        path={"case_id": case["id"], "party_id": case["parties"][0]["id"]},
        body={"scope": "indirect", "given": True, "recordedBy": "Rep Lewis", "method": "in_person"},
    )


async def assignment(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_case(w, scope, fresh)
    req.body = {"repIds": [w.reps[scope]]}
    return req


async def pause(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_case(w, scope, fresh)
    req.body = {"trigger": "pause", "until": until(hours=24), "reason": "tempers high"}
    return req


async def referral(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(body=referral_body(prison=w.prison[scope]))


async def new_rep(w: "World", scope: str, _fresh: bool) -> Req:
    body = {
        "prisonerNumber": w.next_number(),
        "firstName": "Sam",
        "lastName": "Quinn",
        "prisonId": w.prison[scope],
    }
    return Req(body=body)


async def list_reps(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(query={"size": "100"}, probe=w.reps[scope])


async def a_rep(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(path={"rep_id": w.reps[scope]}, body={"location": f"{w.prison[scope]}-B-2"})


async def list_tasks(w: "World", scope: str, _fresh: bool) -> Req:
    task = await w.task(scope, False)
    return Req(query={"caseId": (await w.case(scope, False))["id"]}, probe=task)


async def complete_task(w: "World", scope: str, fresh: bool) -> Req:
    return Req(
        path={"task_id": await w.task(scope, fresh)},
        body={"outcome": "visited", "durationMinutes": 20},
    )


async def list_audit(w: "World", scope: str, _fresh: bool) -> Req:
    case_id = (await w.case(scope, False))["id"]
    return Req(query={"caseId": case_id}, probe=case_id, probe_field="caseId")


# --- the matrix --------------------------------------------------------------------------------

CASE_READERS = roles(
    practitioner=(200, 200, 404),
    rep=(200, 404, 404),
    referrer=(200, 404, 404),
    manager=(200, 200, 404),
    auditor=FORBIDDEN,
    admin=(200, 200, 200),
)


def practitioner_only(ok: int) -> dict[str, Row]:
    """Only a practitioner, on cases of its prisons."""
    return roles(
        practitioner=(ok, ok, 404),
        rep=FORBIDDEN,
        referrer=FORBIDDEN,
        manager=FORBIDDEN,
        auditor=FORBIDDEN,
        admin=FORBIDDEN,
    )


MATRIX: dict[str, Entry] = {
    "GET /health": Entry(None, PUBLIC),
    "GET /health/ping": Entry(None, PUBLIC),
    "GET /health/liveness": Entry(None, PUBLIC),
    "GET /health/readiness": Entry(None, PUBLIC),
    "GET /info": Entry(None, PUBLIC),
    "GET /metrics": Entry(None, PUBLIC),
    "GET /workflow": Entry(None, PUBLIC),
    "GET /workflow/diagram": Entry(None, PUBLIC),
    "POST /referrals": Entry(
        referral,
        roles(
            practitioner=(201, 201, 403),
            rep=FORBIDDEN,
            referrer=(201, 201, 403),
            manager=FORBIDDEN,
            auditor=FORBIDDEN,
            admin=FORBIDDEN,
        ),
    ),
    "GET /cases": Entry(
        list_cases,
        roles(
            practitioner=(LISTED, LISTED, HIDDEN),
            rep=(LISTED, HIDDEN, HIDDEN),
            referrer=(LISTED, HIDDEN, HIDDEN),
            manager=(LISTED, LISTED, HIDDEN),
            auditor=FORBIDDEN,
            admin=(LISTED, LISTED, LISTED),
        ),
    ),
    "GET /cases/{case_id}": Entry(a_case_reference, CASE_READERS),
    "PATCH /cases/{case_id}": Entry(patch_case, practitioner_only(200)),
    "POST /cases/{case_id}/parties": Entry(add_party, practitioner_only(201)),
    "POST /cases/{case_id}/parties/{party_id}/consents": Entry(consent, practitioner_only(201)),
    "GET /cases/{case_id}/parties/{party_id}/consents": Entry(consent, practitioner_only(200)),
    "PUT /cases/{case_id}/assignment": Entry(assignment, practitioner_only(200)),
    "GET /cases/{case_id}/transitions": Entry(a_case, CASE_READERS),
    "POST /cases/{case_id}/transitions": Entry(
        pause,
        roles(
            practitioner=(200, 200, 404),
            rep=(200, 404, 404),
            referrer=FORBIDDEN,
            manager=FORBIDDEN,
            auditor=FORBIDDEN,
            admin=FORBIDDEN,
        ),
    ),
    "GET /cases/{case_id}/timeline": Entry(
        a_case,
        roles(
            practitioner=(200, 200, 404),
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(200, 200, 404),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
        ),
    ),
    "POST /reps": Entry(
        new_rep,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(201, 201, 403),
            auditor=FORBIDDEN,
            admin=(201, 201, 201),
        ),
    ),
    "GET /reps": Entry(
        list_reps,
        roles(
            practitioner=(LISTED, LISTED, HIDDEN),
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(LISTED, LISTED, HIDDEN),
            auditor=FORBIDDEN,
            admin=(LISTED, LISTED, LISTED),
        ),
    ),
    "GET /reps/{rep_id}": Entry(
        a_rep,
        roles(
            practitioner=(200, 200, 404),
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(200, 200, 404),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
        ),
    ),
    "PATCH /reps/{rep_id}": Entry(
        a_rep,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(200, 200, 404),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
        ),
    ),
    "GET /tasks": Entry(
        list_tasks,
        roles(
            practitioner=(LISTED, LISTED, HIDDEN),
            rep=(LISTED, HIDDEN, HIDDEN),
            referrer=FORBIDDEN,
            manager=(LISTED, LISTED, HIDDEN),
            auditor=FORBIDDEN,
            admin=(LISTED, LISTED, LISTED),
        ),
    ),
    "POST /tasks/{task_id}/complete": Entry(
        complete_task,
        roles(
            practitioner=(200, 200, 404),
            rep=(200, 404, 404),
            referrer=FORBIDDEN,
            manager=FORBIDDEN,
            auditor=FORBIDDEN,
            admin=FORBIDDEN,
        ),
    ),
    "GET /audit": Entry(
        list_audit,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=FORBIDDEN,
            auditor=(LISTED, LISTED, HIDDEN),
            admin=(LISTED, LISTED, LISTED),
        ),
    ),
    "GET /audit/verify": Entry(
        no_input,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=FORBIDDEN,
            auditor=(200, 200, 200),
            admin=(200, 200, 200),
        ),
    ),
}


def app_routes() -> dict[str, RouteContext]:
    """Every operation the app serves, as "METHOD /path"."""
    app = create_app(Settings(database_url="sqlite+aiosqlite://"))
    found: dict[str, RouteContext] = {}
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute):
            for method in sorted((route.methods or set()) - {"HEAD", "OPTIONS"}):
                found[f"{method} {route.path}"] = route
    return found


ROUTES = app_routes()
CELLS = [
    pytest.param(op, role, scope, id=f"{op} {role} {scope}")
    for op in sorted(ROUTES)
    for role in ROLES
    for scope in SCOPES
    if not isinstance(MATRIX.get(op, Entry(None, {})).expect, str)
]


# --- the world every cell runs in: seeded once for the module ------------------------------------


class World:
    """Three prisons' worth of objects as seen from MDI callers, and a key per role."""

    prison = {"mine": "MDI", "prison": "MDI", "elsewhere": "LEI"}

    def __init__(self, client: httpx.AsyncClient, db: Database) -> None:
        self.client = client
        self.db = db
        self.keys: dict[str, Key] = {}
        self.reps: dict[str, str] = {}
        self._cases: dict[str, dict[str, Any]] = {}
        self._tasks: dict[str, str] = {}
        self._numbers = 0

    def next_number(self) -> str:
        """A prisoner number no one has used yet."""
        self._numbers += 1
        return f"K{self._numbers:04d}MX"

    async def seed(self) -> None:
        """Keys, reps, and one case with tasks per scope."""
        for name, role, prisons in [
            ("practitioner", "practitioner", ["MDI"]),
            ("referrer", "referrer", ["MDI"]),
            ("manager", "manager", ["MDI"]),
            ("auditor", "auditor", ["MDI"]),
            ("admin", "admin", []),
            ("practitioner_lei", "practitioner", ["LEI"]),
        ]:
            self.keys[name] = await make_key(self.db, role=role, prisons=prisons, name=f"matrix {name}")
        for scope in SCOPES:
            r = await self.client.post(
                "/reps",
                json={
                    "prisonerNumber": self.next_number(),
                    "firstName": "Andre",
                    "lastName": f"Rep {scope}",
                    "prisonId": self.prison[scope],
                    "status": "active",
                    "maxActiveCases": 50,
                },
                headers=self.keys["admin"].headers,
            )
            assert r.status_code == 201, r.text
            self.reps[scope] = r.json()["id"]
        self.keys["rep"] = await make_key(
            self.db, role="rep", prisons=["MDI"], rep_id=uuid.UUID(self.reps["mine"]), name="matrix rep"
        )
        for scope in SCOPES:
            await self.case(scope, False)

    async def case(self, scope: str, fresh: bool) -> dict[str, Any]:
        """The scope's case, accepted with its rep assigned (a new one when `fresh`)."""
        if not fresh and scope in self._cases:
            return self._cases[scope]
        practitioner = self.keys["practitioner_lei" if scope == "elsewhere" else "practitioner"]
        creator = {"mine": self.keys["referrer"], "prison": practitioner, "elsewhere": practitioner}[scope]
        body = referral_body(
            prison=self.prison[scope],
            parties=[
                (self.next_number(), "Dean", "Walsh", "harmed"),
                (self.next_number(), "Marcus", "Okoye", "harmer"),
            ],
        )
        r = await self.client.post("/referrals", json=body, headers=creator.headers)
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        r = await self.client.put(
            f"/cases/{case_id}/assignment", json={"repIds": [self.reps[scope]]}, headers=practitioner.headers
        )
        assert r.status_code == 200, r.text
        r = await self.client.post(
            f"/cases/{case_id}/transitions", json={"trigger": "accept"}, headers=practitioner.headers
        )
        assert r.status_code == 200, r.text
        case: dict[str, Any] = r.json()
        if not fresh:
            self._cases[scope] = case
        return case

    async def task(self, scope: str, fresh: bool) -> str:
        """An open task of the scope's case, assigned to the scope's rep."""
        if not fresh and scope in self._tasks:
            return self._tasks[scope]
        case = await self.case(scope, fresh)
        admin = self.keys["admin"]
        r = await self.client.get(
            "/tasks", params={"caseId": case["id"], "status": "open"}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
        task: str = r.json()["content"][0]["id"]
        assert r.json()["content"][0]["assignee"]["id"] == self.reps[scope]
        if not fresh:
            self._tasks[scope] = task
        return task


@pytest.fixture(scope="module")
async def world(database_url: str) -> AsyncIterator[World]:
    """One app and one seeded database for every cell of the module (cells that change
    objects get objects of their own)."""
    settings = Settings(database_url=database_url, base_url="http://rj.test")
    db = Database(settings)
    await _empty(db)
    app = create_app(settings, database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rj.test") as client:
        w = World(client, db)
        await w.seed()
        yield w
    await db.dispose()


async def audit_count(db: Database) -> int:
    """How many audit records there are."""
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(AuditRecord))).scalar_one())


def is_success(outcome: Outcome) -> bool:
    """Whether a cell is expected to go through."""
    return outcome in (LISTED, HIDDEN) or (isinstance(outcome, int) and outcome < 400)


class TestMatrix:
    def test_every_route_has_an_entry(self) -> None:
        missing = sorted(set(ROUTES) - set(MATRIX))
        assert not missing, f"routes with no entry in MATRIX: {missing}"

    def test_every_entry_names_a_route(self) -> None:
        stale = sorted(set(MATRIX) - set(ROUTES))
        assert not stale, f"MATRIX entries for routes the app no longer has: {stale}"

    @pytest.mark.parametrize("op", sorted(ROUTES))
    async def test_without_a_token(self, world: World, op: str) -> None:
        entry = MATRIX.get(op)
        assert entry is not None, f"{op} has no entry in MATRIX"
        method, path = op.split(" ", 1)
        req = await entry.recipe(world, "mine", False) if entry.recipe else Req()
        body = req.body if method != "GET" else None
        r = await world.client.request(method, path.format(**req.path), params=req.query, json=body)
        if entry.expect == PUBLIC:
            assert r.status_code == 200, r.text
        else:
            assert r.status_code == 401, r.text
            assert r.json()["errorCode"] == "UNAUTHENTICATED"

    @pytest.mark.parametrize(("op", "role", "scope"), CELLS)
    async def test_cell(self, world: World, op: str, role: str, scope: str) -> None:
        entry = MATRIX.get(op)
        assert entry is not None, f"{op} has no entry in MATRIX: declare what each role gets"
        assert entry.recipe is not None and isinstance(entry.expect, dict)
        expected = entry.expect[role][SCOPES.index(scope)]
        method, path = op.split(" ", 1)
        req = await entry.recipe(world, scope, is_success(expected) and method != "GET")
        before = await audit_count(world.db)
        r = await world.client.request(
            method,
            path.format(**req.path),
            params=req.query,
            json=req.body if method != "GET" else None,
            headers={**world.keys[role].headers, **req.headers},
        )
        if expected in (LISTED, HIDDEN):
            assert r.status_code == 200, r.text
            seen = {item.get(req.probe_field) for item in r.json()["content"]}
            assert (req.probe in seen) == (expected == LISTED), f"{req.probe} should be {expected}"
            return
        assert r.status_code == expected, r.text
        if expected >= 400:
            assert r.headers["content-type"] == "application/problem+json"
            assert await audit_count(world.db) == before, "a refused request left an audit record"
