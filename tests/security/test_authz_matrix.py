"""The authorisation matrix: every route of the app, crossed with every role and with objects
in and out of the caller's prison and assignment (OWASP API1 and API5: broken object-level and
function-level authorisation).

The expected outcome of every cell is declared in MATRIX below. The routes come from the app
itself, so a route added without an entry fails `test_every_route_has_an_entry` and its cells.

Every key's caseload is MDI but `admin`'s, which is every prison. So each route a manager, an
auditor or an admin may call is tried with a key of MDI alone (`manager`, `auditor`, `admin_mdi`)
on objects of MDI (the answer an admin of every prison gets) and of LEI (404 for an object, 403 for
a prison named in the request, left out of a list).
"""

import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy import func, select

from app import clock
from app.api.app import create_app
from app.config import Settings
from app.db import Database
from app.models.audit import AuditRecord
from app.models.events import InboundEvent, OutboxEvent
from app.models.webhooks import WebhookDelivery
from tests.conftest import FIXTURES, _empty
from tests.servers import load_fixture
from tests.support import Key, make_key, referral_body, until

ROLES = ("practitioner", "rep", "referrer", "manager", "auditor", "admin", "admin_mdi")
# mine:      in the caller's prison and the caller's own (a rep: assigned to it; a referrer: its referral)
# prison:    in the caller's prison, not the caller's own
# elsewhere: in another prison
SCOPES = ("mine", "prison", "elsewhere")
LISTED, HIDDEN = "listed", "hidden"
# Nothing of the object: 204, or 200 with a body that does not name it.
NOTHING = "nothing"
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


async def withdrawal(w: "World", scope: str, fresh: bool) -> Req:
    req = await consent(w, scope, fresh)
    req.body = {"scope": "direct", "given": False, "recordedBy": "Rep Lewis", "method": "via_rep"}
    return req


async def withdrawals(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.case(scope, fresh)
    return Req(
        path={"case_id": case["id"]},
        body={
            "entries": [
                {
                    "partyId": p["id"],
                    "scope": "direct",
                    "given": False,
                    "recordedBy": "Rep Lewis",
                    "method": "via_rep",
                }
                for p in case["parties"]
            ]
        },
    )


async def a_party(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.case(scope, fresh)
    return Req(
        path={"case_id": case["id"], "party_id": case["parties"][0]["id"]},
        headers={"If-Match": f'"{case["version"]}"'},
        body={"followUp": "practitioner_only"},
    )


async def retraction(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.case(scope, fresh)
    harmer = next(p for p in case["parties"] if p["role"] == "harmer")
    return Req(
        path={"case_id": case["id"], "party_id": harmer["id"]},
        body={"acknowledged": False, "method": "in_person", "recordedBy": "Rep Lewis"},
    )


async def feedback(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.ended(scope, fresh)
    return Req(
        path={"case_id": case["id"], "party_id": case["parties"][1]["id"]},
        body={"stage": "conclusion", "feltHeard": 4, "feltSafe": 5, "wouldRecommend": 4},
    )


async def assignment(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_case(w, scope, fresh)
    req.body = {"repIds": [w.reps[scope]], "keepApartCheckedByHand": True}
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


async def supervise(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(
        path={"rep_id": w.reps[scope]}, body={"on": clock.now().date().isoformat(), "supervisor": "Helen"}
    )


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


async def incident_report(w: "World", scope: str, _fresh: bool) -> Req:
    report = load_fixture(FIXTURES, "incident-reporting/report-with-details.json")
    report["location"] = w.prison[scope]
    report["reportReference"] = str(90000000 + w.next_serial())
    return Req(body=report)


async def contact(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.case(scope, fresh)
    return Req(
        path={"case_id": case["id"]},
        body={
            "kind": "support",
            "partyId": case["parties"][0]["id"],
            "repId": w.reps[scope],
            "occurredAt": (clock.now() - timedelta(hours=2)).isoformat(),
            "durationMinutes": 30,
            "summary": "Talked through how the week went.",
        },
    )


async def new_letter(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.staged(scope, fresh, "letter_exchange")
    parties = case["parties"]
    return Req(
        path={"case_id": case["id"]},
        body={
            "authorPartyId": parties[0]["id"],
            "recipientPartyId": parties[1]["id"],
            "body": "I want to say sorry for what happened on the landing.",
        },
    )


async def void_contact(w: "World", scope: str, fresh: bool) -> Req:
    """A contact recorded for the scope's case just now, to void."""
    made = await contact(w, scope, fresh)
    r = await w.client.post(
        f"/cases/{made.path['case_id']}/contacts", json=made.body, headers=w.practitioner(scope).headers
    )
    assert r.status_code == 201, r.text
    return Req(
        path={**made.path, "contact_id": r.json()["id"]}, body={"reason": "recorded on the wrong case"}
    )


def a_letter(status: str, body: Any = None) -> Recipe:
    """A letter of the scope's case in `status`."""

    async def recipe(w: "World", scope: str, fresh: bool) -> Req:
        case_id, letter_id = await w.letter(scope, fresh, status)
        return Req(path={"case_id": case_id, "letter_id": letter_id}, body=body)

    return recipe


async def list_letters(w: "World", scope: str, _fresh: bool) -> Req:
    case_id, letter_id = await w.letter(scope, False, "approved")
    return Req(path={"case_id": case_id}, probe=letter_id)


async def a_conference(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.staged(scope, fresh, "conference")
    return Req(path={"case_id": case["id"]})


async def arrange_conference(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_conference(w, scope, fresh)
    req.body = w.conference_details(scope, location="MDI visits hall")
    return req


async def conference_outcome(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.staged(scope, fresh, "conference")
    return Req(path={"case_id": case["id"]}, body=w.outcome(case))


async def new_agreement(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.staged(scope, fresh, "letter_exchange")
    return Req(path={"case_id": case["id"]}, body=w.carried_agreement(case))


async def list_agreements(w: "World", scope: str, _fresh: bool) -> Req:
    case_id, agreement_id = await w.agreement(scope)
    return Req(path={"case_id": case_id}, probe=agreement_id)


async def agreement_item(w: "World", scope: str, fresh: bool) -> Req:
    case_id, item_id = await w.agreement_item(scope, fresh)
    return Req(path={"case_id": case_id, "item_id": item_id}, body={"status": "kept"})


async def legal_hold(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_case(w, scope, fresh)
    req.body = {"hold": True, "reason": "Civil claim pending"}
    return req


async def new_task(w: "World", scope: str, _fresh: bool) -> Req:
    case = await w.case(scope, False)
    return Req(
        body={
            "caseId": case["id"],
            "kind": "shuttle_visit",
            "dueAt": until(days=2),
            "assignee": {"type": "rep", "id": w.reps[scope]},
            "instructions": "Visit Dean on the wing before Friday.",
        }
    )


async def a_task(w: "World", scope: str, fresh: bool) -> Req:
    return Req(path={"task_id": await w.task(scope, fresh)})


async def reassign_task(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_task(w, scope, fresh)
    req.body = {
        "assignee": {"type": "practitioner", "id": str(w.practitioner(scope).client_id)},
        "reason": "The rep is on a course this week",
    }
    return req


async def reschedule_task(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_task(w, scope, fresh)
    req.body = {"dueAt": until(days=3), "reason": "The wing is locked down today"}
    return req


async def cancel_task(w: "World", scope: str, fresh: bool) -> Req:
    req = await a_task(w, scope, fresh)
    req.body = {"reason": "The visit is no longer needed"}
    return req


async def a_rep_alone(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(path={"rep_id": w.reps[scope]})


async def new_concern(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.staged(scope, fresh, "assessment")
    return Req(
        body={
            "prisonerNumber": case["parties"][0]["prisonerNumber"],
            "caseId": case["id"],
            "category": "self_harm",
            "detail": "Said he has been thinking about hurting himself.",
        }
    )


async def a_concern(w: "World", scope: str, fresh: bool) -> Req:
    return Req(
        path={"concern_id": await w.concern(scope, fresh)},
        body={"acknowledgedBy": "Duty officer Hale", "externalReference": "ACCT-1"},
    )


async def list_concerns(w: "World", scope: str, _fresh: bool) -> Req:
    concern = await w.concern(scope, False)
    return Req(query={"size": "100"}, probe=concern)


async def a_prison(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(
        path={"prison_id": w.prison[scope]},
        body={"practitionerId": str(w.practitioner(scope).client_id)},
    )


async def report_summary(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(query={"prisonId": w.prison[scope]})


async def a_note(w: "World", scope: str, fresh: bool) -> Req:
    case = await w.case(scope, fresh)
    return Req(path={"case_id": case["id"]}, body={"text": "Both men keen to talk."})


async def practitioners_of(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(query={"prisonId": w.prison[scope]})


async def no_request(_w: "World", _scope: str, _fresh: bool) -> Req:
    return Req()


async def subject_access(w: "World", scope: str, _fresh: bool) -> Req:
    case = await w.case(scope, False)
    return Req(query={"prn": case["parties"][0]["prisonerNumber"]}, probe=case["id"])


async def events_feed(w: "World", scope: str, _fresh: bool) -> Req:
    event_id, seq = await w.feed_event(scope)
    return Req(query={"after": str(seq - 1), "limit": "500"}, probe=event_id, probe_field="eventId")


async def inbound_event(w: "World", _scope: str, _fresh: bool) -> Req:
    return Req(body=w.domain_event())


async def list_inbound(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(query={"size": "100"}, probe=w.inbound[scope])


async def an_inbound_event(w: "World", scope: str, fresh: bool) -> Req:
    return Req(path={"inbound_id": await w.rejected_inbound(scope) if fresh else w.inbound[scope]})


async def new_subscription(_w: "World", _scope: str, _fresh: bool) -> Req:
    return Req(body=SUBSCRIPTION)


async def list_subscriptions(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(query={"size": "100"}, probe=w.subscriptions[scope])


async def a_subscription(w: "World", scope: str, fresh: bool) -> Req:
    return Req(path={"subscription_id": await w.subscribe(scope) if fresh else w.subscriptions[scope]})


async def list_deliveries(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(path={"subscription_id": w.subscriptions[scope]}, probe=w.deliveries[scope])


async def a_delivery(w: "World", scope: str, fresh: bool) -> Req:
    subscription = await w.subscribe(scope) if fresh else w.subscriptions[scope]
    delivery = await w.dead_delivery(subscription) if fresh else w.deliveries[scope]
    return Req(path={"subscription_id": subscription, "delivery_id": delivery})


async def list_clients(w: "World", scope: str, _fresh: bool) -> Req:
    return Req(query={"size": "100"}, probe=w.clients[scope])


def a_client(body: Any = None) -> Recipe:
    """An API client of the scope's prison (a new one when `fresh`)."""

    async def recipe(w: "World", scope: str, fresh: bool) -> Req:
        client_id = await w.new_client(scope) if fresh else w.clients[scope]
        return Req(path={"client_id": client_id}, body=body)

    return recipe


SUBSCRIPTION = {
    # An address literal: public, and checked without a DNS lookup.
    "url": "https://93.184.216.34/rj-hooks",
    "eventTypes": ["restorative-justice.case.created"],
    "secret": "whsec_" + base64.b64encode(b"the matrix receiver's secret!!!!").decode(),
}


# --- the matrix --------------------------------------------------------------------------------

CASE_READERS = roles(
    practitioner=(200, 200, 404),
    rep=(200, 404, 404),
    referrer=(200, 404, 404),
    manager=(200, 200, 404),
    auditor=FORBIDDEN,
    admin=(200, 200, 200),
    admin_mdi=(200, 200, 404),
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
        admin_mdi=FORBIDDEN,
    )


# Roles that read a case's working records (contacts, letters, conferences, tasks): as for the
# case itself, but never a referrer, who reads only the state of their referrals.
CASE_CONTENT_READERS = roles(
    practitioner=(200, 200, 404),
    rep=(200, 404, 404),
    referrer=FORBIDDEN,
    manager=(200, 200, 404),
    auditor=FORBIDDEN,
    admin=(200, 200, 200),
    admin_mdi=(200, 200, 404),
)


def practitioner_and_rep(ok: int) -> dict[str, Row]:
    """A practitioner on cases of its prisons, and the rep assigned to the case."""
    return roles(
        practitioner=(ok, ok, 404),
        rep=(ok, 404, 404),
        referrer=FORBIDDEN,
        manager=FORBIDDEN,
        auditor=FORBIDDEN,
        admin=FORBIDDEN,
        admin_mdi=FORBIDDEN,
    )


def admin_only(national: Row, mdi: Row) -> dict[str, Row]:
    """Only an admin: of every prison, and of MDI alone."""
    return roles(
        practitioner=FORBIDDEN,
        rep=FORBIDDEN,
        referrer=FORBIDDEN,
        manager=FORBIDDEN,
        auditor=FORBIDDEN,
        admin=national,
        admin_mdi=mdi,
    )


# A rep's own records: staff of the rep's prison, and the rep themself.
REP_RECORD_READERS = roles(
    practitioner=(200, 200, 404),
    rep=(200, 404, 404),
    referrer=FORBIDDEN,
    manager=(200, 200, 404),
    auditor=FORBIDDEN,
    admin=(200, 200, 200),
    admin_mdi=(200, 200, 404),
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
            admin_mdi=FORBIDDEN,
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
            admin_mdi=(LISTED, LISTED, HIDDEN),
        ),
    ),
    "GET /cases/{case_id}": Entry(a_case_reference, CASE_READERS),
    "PATCH /cases/{case_id}": Entry(patch_case, practitioner_only(200)),
    "POST /cases/{case_id}/parties": Entry(add_party, practitioner_only(201)),
    "PATCH /cases/{case_id}/parties/{party_id}": Entry(a_party, practitioner_only(200)),
    # A rep records withdrawals of consent and retractions they hear, never a grant (tested apart).
    "POST /cases/{case_id}/parties/{party_id}/consents": Entry(withdrawal, practitioner_and_rep(201)),
    "POST /cases/{case_id}/consents": Entry(withdrawals, practitioner_and_rep(201)),
    "GET /cases/{case_id}/parties/{party_id}/consents": Entry(consent, practitioner_only(200)),
    "POST /cases/{case_id}/parties/{party_id}/responsibility": Entry(retraction, practitioner_and_rep(201)),
    "GET /cases/{case_id}/parties/{party_id}/responsibility": Entry(retraction, practitioner_only(200)),
    "POST /cases/{case_id}/parties/{party_id}/feedback": Entry(feedback, practitioner_and_rep(201)),
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
            admin_mdi=FORBIDDEN,
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
            admin_mdi=(200, 200, 404),
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
            admin_mdi=(201, 201, 403),
        ),
    ),
    "GET /reps": Entry(
        list_reps,
        roles(
            practitioner=(LISTED, LISTED, HIDDEN),
            rep=(LISTED, HIDDEN, HIDDEN),
            referrer=FORBIDDEN,
            manager=(LISTED, LISTED, HIDDEN),
            auditor=FORBIDDEN,
            admin=(LISTED, LISTED, LISTED),
            admin_mdi=(LISTED, LISTED, HIDDEN),
        ),
    ),
    "GET /reps/{rep_id}": Entry(
        a_rep,
        roles(
            practitioner=(200, 200, 404),
            rep=(200, 404, 404),
            referrer=FORBIDDEN,
            manager=(200, 200, 404),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
            admin_mdi=(200, 200, 404),
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
            admin_mdi=(200, 200, 404),
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
            admin_mdi=(LISTED, LISTED, HIDDEN),
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
            admin_mdi=FORBIDDEN,
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
            admin_mdi=(LISTED, LISTED, HIDDEN),
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
            admin_mdi=(200, 200, 200),
        ),
    ),
    "POST /referrals/incident-reports": Entry(
        incident_report,
        roles(
            practitioner=(201, 201, 403),
            rep=FORBIDDEN,
            referrer=(201, 201, 403),
            manager=FORBIDDEN,
            auditor=FORBIDDEN,
            admin=FORBIDDEN,
            admin_mdi=FORBIDDEN,
        ),
    ),
    "GET /cases/{case_id}/contacts": Entry(a_case, CASE_CONTENT_READERS),
    "POST /cases/{case_id}/contacts": Entry(contact, practitioner_and_rep(201)),
    "POST /cases/{case_id}/contacts/{contact_id}/void": Entry(void_contact, practitioner_only(200)),
    "GET /cases/{case_id}/letters": Entry(
        list_letters,
        roles(
            practitioner=(LISTED, LISTED, 404),
            rep=(LISTED, 404, 404),
            referrer=FORBIDDEN,
            manager=(LISTED, LISTED, 404),
            auditor=FORBIDDEN,
            admin=(LISTED, LISTED, LISTED),
            admin_mdi=(LISTED, LISTED, 404),
        ),
    ),
    "POST /cases/{case_id}/letters": Entry(new_letter, practitioner_only(201)),
    "GET /cases/{case_id}/letters/{letter_id}": Entry(a_letter("approved"), CASE_CONTENT_READERS),
    "PATCH /cases/{case_id}/letters/{letter_id}": Entry(
        a_letter("draft", {"body": "I am sorry, and I want it to stop."}), practitioner_only(200)
    ),
    "POST /cases/{case_id}/letters/{letter_id}/submit": Entry(a_letter("draft"), practitioner_only(200)),
    "POST /cases/{case_id}/letters/{letter_id}/approve": Entry(a_letter("submitted"), practitioner_only(200)),
    "POST /cases/{case_id}/letters/{letter_id}/return": Entry(
        a_letter("submitted", {"comments": "Leave out the names of other prisoners."}), practitioner_only(200)
    ),
    "POST /cases/{case_id}/letters/{letter_id}/deliver": Entry(
        a_letter("approved", {"durationMinutes": 15}), practitioner_and_rep(200)
    ),
    "GET /cases/{case_id}/conference": Entry(a_conference, CASE_CONTENT_READERS),
    "POST /cases/{case_id}/conference": Entry(arrange_conference, practitioner_only(200)),
    "POST /cases/{case_id}/conference/outcome": Entry(conference_outcome, practitioner_only(200)),
    "PATCH /cases/{case_id}/agreement-items/{item_id}": Entry(agreement_item, practitioner_only(200)),
    "POST /cases/{case_id}/agreement": Entry(new_agreement, practitioner_only(201)),
    "GET /cases/{case_id}/agreements": Entry(
        list_agreements,
        roles(
            practitioner=(LISTED, LISTED, 404),
            rep=(LISTED, 404, 404),
            referrer=FORBIDDEN,
            manager=(LISTED, LISTED, 404),
            auditor=FORBIDDEN,
            admin=(LISTED, LISTED, LISTED),
            admin_mdi=(LISTED, LISTED, 404),
        ),
    ),
    "PUT /cases/{case_id}/legal-hold": Entry(legal_hold, admin_only((200, 200, 200), (200, 200, 404))),
    "GET /reps/me/tasks": Entry(
        no_input,
        roles(
            practitioner=FORBIDDEN,
            rep=(200, 200, 200),
            referrer=FORBIDDEN,
            manager=FORBIDDEN,
            auditor=FORBIDDEN,
            admin=FORBIDDEN,
            admin_mdi=FORBIDDEN,
        ),
    ),
    "GET /reps/{rep_id}/tasks": Entry(a_rep_alone, REP_RECORD_READERS),
    "GET /reps/{rep_id}/activity": Entry(a_rep_alone, REP_RECORD_READERS),
    "GET /reps/{rep_id}/supervisions": Entry(a_rep_alone, REP_RECORD_READERS),
    "POST /reps/{rep_id}/supervisions": Entry(
        supervise,
        roles(
            practitioner=(201, 201, 404),
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(201, 201, 404),
            auditor=FORBIDDEN,
            admin=FORBIDDEN,
            admin_mdi=FORBIDDEN,
        ),
    ),
    "POST /tasks": Entry(new_task, practitioner_only(201)),
    "GET /tasks/{task_id}": Entry(a_task, CASE_CONTENT_READERS),
    "POST /tasks/{task_id}/reassign": Entry(reassign_task, practitioner_only(200)),
    "POST /tasks/{task_id}/reschedule": Entry(reschedule_task, practitioner_only(200)),
    "POST /tasks/{task_id}/cancel": Entry(cancel_task, practitioner_only(200)),
    "POST /safeguarding-concerns": Entry(new_concern, practitioner_and_rep(201)),
    "GET /safeguarding-concerns": Entry(
        list_concerns,
        roles(
            practitioner=(LISTED, LISTED, HIDDEN),
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(LISTED, LISTED, HIDDEN),
            auditor=FORBIDDEN,
            admin=(LISTED, LISTED, LISTED),
            admin_mdi=(LISTED, LISTED, HIDDEN),
        ),
    ),
    "GET /safeguarding-concerns/{concern_id}": Entry(a_concern, CASE_CONTENT_READERS),
    "POST /safeguarding-concerns/{concern_id}/acknowledge": Entry(a_concern, practitioner_only(200)),
    "GET /prisons/{prison_id}/duty-practitioner": Entry(
        a_prison,
        roles(
            practitioner=(200, 200, 403),
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(200, 200, 403),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
            admin_mdi=(200, 200, 403),
        ),
    ),
    "PUT /prisons/{prison_id}/duty-practitioner": Entry(
        a_prison,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(200, 200, 403),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
            admin_mdi=(200, 200, 403),
        ),
    ),
    "GET /reports/summary": Entry(
        report_summary,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(200, 200, 403),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
            admin_mdi=(200, 200, 403),
        ),
    ),
    "POST /cases/{case_id}/notes": Entry(a_note, practitioner_only(201)),
    "GET /cases/{case_id}/notes": Entry(a_note, CASE_CONTENT_READERS),
    "GET /me": Entry(no_request, roles(**{role: (200, 200, 200) for role in ROLES})),
    "GET /practitioners": Entry(
        practitioners_of,
        roles(
            practitioner=(200, 200, 403),
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(200, 200, 403),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
            admin_mdi=(200, 200, 403),
        ),
    ),
    "GET /reports/outcomes": Entry(
        report_summary,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=FORBIDDEN,
            manager=(200, 200, 403),
            auditor=FORBIDDEN,
            admin=(200, 200, 200),
            admin_mdi=(200, 200, 403),
        ),
    ),
    "GET /subject-access-request": Entry(subject_access, admin_only((200, 200, 200), (200, 200, NOTHING))),
    "GET /events": Entry(
        events_feed,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=(LISTED, LISTED, HIDDEN),
            manager=(LISTED, LISTED, HIDDEN),
            auditor=FORBIDDEN,
            admin=(LISTED, LISTED, LISTED),
            admin_mdi=(LISTED, LISTED, HIDDEN),
        ),
    ),
    "POST /events/inbound": Entry(
        inbound_event,
        roles(
            practitioner=FORBIDDEN,
            rep=FORBIDDEN,
            referrer=(202, 202, 202),
            manager=FORBIDDEN,
            auditor=FORBIDDEN,
            admin=(202, 202, 202),
            admin_mdi=(202, 202, 202),
        ),
    ),
    "GET /events/inbound": Entry(
        list_inbound, admin_only((LISTED, LISTED, LISTED), (LISTED, LISTED, HIDDEN))
    ),
    "GET /events/inbound/{inbound_id}": Entry(an_inbound_event, admin_only((200, 200, 200), (200, 200, 404))),
    "POST /events/inbound/{inbound_id}/replay": Entry(
        an_inbound_event, admin_only((200, 200, 200), (200, 200, 404))
    ),
    "POST /webhook-subscriptions": Entry(new_subscription, admin_only((201, 201, 201), (201, 201, 201))),
    "GET /webhook-subscriptions": Entry(
        list_subscriptions, admin_only((LISTED, LISTED, LISTED), (LISTED, LISTED, HIDDEN))
    ),
    "GET /webhook-subscriptions/{subscription_id}": Entry(
        a_subscription, admin_only((200, 200, 200), (200, 200, 404))
    ),
    "DELETE /webhook-subscriptions/{subscription_id}": Entry(
        a_subscription, admin_only((204, 204, 204), (204, 204, 404))
    ),
    "GET /webhook-subscriptions/{subscription_id}/deliveries": Entry(
        list_deliveries, admin_only((LISTED, LISTED, LISTED), (LISTED, LISTED, 404))
    ),
    "POST /webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver": Entry(
        a_delivery, admin_only((202, 202, 202), (202, 202, 404))
    ),
    "GET /clients": Entry(list_clients, admin_only((LISTED, LISTED, LISTED), (LISTED, LISTED, HIDDEN))),
    "POST /clients/{client_id}/revoke": Entry(a_client(), admin_only((200, 200, 200), (200, 200, 404))),
    "POST /clients/{client_id}/rotate": Entry(
        a_client({"overlapHours": 1}), admin_only((200, 200, 200), (200, 200, 404))
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
        self.clients: dict[str, str] = {}
        self._cases: dict[str, dict[str, Any]] = {}
        self._tasks: dict[str, str] = {}
        self._staged: dict[tuple[str, str], dict[str, Any]] = {}
        self._letters: dict[tuple[str, str], tuple[str, str]] = {}
        self._items: dict[str, tuple[str, str]] = {}
        self._concerns: dict[str, str] = {}
        self._released: dict[str, str] = {}
        self._numbers = 0
        self.inbound: dict[str, str] = {}
        self.subscriptions: dict[str, str] = {}
        self.deliveries: dict[str, str] = {}

    def next_serial(self) -> int:
        """A number no one has used yet."""
        self._numbers += 1
        return self._numbers

    def practitioner(self, scope: str) -> Key:
        """A practitioner of the scope's prison."""
        return self.keys["practitioner_lei" if scope == "elsewhere" else "practitioner"]

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
            ("admin_mdi", "admin", ["MDI"]),
            ("practitioner_lei", "practitioner", ["LEI"]),
            # Who made, or sent, the objects of each scope that belong to no case.
            ("admin_mdi_other", "admin", ["MDI"]),
            ("admin_lei", "admin", ["LEI"]),
            ("referrer_lei", "referrer", ["LEI"]),
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
            await self.task(scope, False)
        for scope in SCOPES:
            r = await self.client.post(
                "/events/inbound", json=await self.release(scope), headers=self.sender(scope).headers
            )
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "processed" and r.json()["caseIds"], r.text
            self.inbound[scope] = r.json()["id"]
            self.subscriptions[scope] = await self.subscribe(scope)
            self.deliveries[scope] = await self.dead_delivery(self.subscriptions[scope])
            self.clients[scope] = await self.new_client(scope)

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
            f"/cases/{case_id}/assignment",
            json={"repIds": [self.reps[scope]], "keepApartCheckedByHand": True},
            headers=practitioner.headers,
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

    async def ended(self, scope: str, fresh: bool) -> dict[str, Any]:
        """A case of the scope's own (a new one when `fresh`) after its work ended: one party
        withdrew, so the case is in follow_up with its rep still assigned."""
        if not fresh and (scope, "follow_up") in self._staged:
            return self._staged[(scope, "follow_up")]
        case = await self.case(scope, True)
        r = await self.client.post(
            f"/cases/{case['id']}/transitions",
            json={"trigger": "withdraw", "partyId": case["parties"][0]["id"]},
            headers=self.practitioner(scope).headers,
        )
        assert r.status_code == 200, r.text
        ended: dict[str, Any] = r.json()
        assert ended["state"] == "follow_up", ended["state"]
        if not fresh:
            self._staged[(scope, "follow_up")] = ended
        return ended

    async def staged(self, scope: str, fresh: bool, state: str) -> dict[str, Any]:
        """A case of its own for the scope, ready for every intervention and moved to `state`."""
        if not fresh and (scope, state) in self._staged:
            return self._staged[(scope, state)]
        case = await self.case(scope, True)
        cid = case["id"]
        practitioner = self.practitioner(scope)
        r = await self.client.patch(
            f"/cases/{cid}",
            json={"riskLevel": "low", "facilitator": "practitioner"},
            headers={**practitioner.headers, "If-Match": f'"{case["version"]}"'},
        )
        assert r.status_code == 200, r.text
        for party in case["parties"]:
            for consent_scope in ("indirect", "letters_send", "letters_receive", "direct"):
                r = await self.client.post(
                    f"/cases/{cid}/parties/{party['id']}/consents",
                    json={
                        "scope": consent_scope,
                        "given": True,
                        "recordedBy": "Rep Lewis",
                        "method": "in_person",
                    },
                    headers=practitioner.headers,
                )
                assert r.status_code == 201, r.text
        harmer = next(p for p in case["parties"] if p["role"] == "harmer")
        r = await self.client.post(
            f"/cases/{cid}/parties/{harmer['id']}/responsibility",
            json={"acknowledged": True, "method": "in_person", "recordedBy": "Helen Ashworth"},
            headers=practitioner.headers,
        )
        assert r.status_code == 201, r.text
        moves: dict[str, dict[str, Any]] = {
            "letter_exchange": {"trigger": "start_letters", "partyId": case["parties"][0]["id"]},
            "conference": {"trigger": "schedule_conference", "conference": self.conference_details(scope)},
        }
        if state in moves:
            r = await self.client.post(
                f"/cases/{cid}/transitions", json=moves[state], headers=practitioner.headers
            )
            assert r.status_code == 200, r.text
        r = await self.client.get(f"/cases/{cid}", headers=practitioner.headers)
        assert r.status_code == 200, r.text
        staged: dict[str, Any] = r.json()
        assert staged["state"] == state
        if not fresh:
            self._staged[(scope, state)] = staged
        return staged

    def conference_details(self, scope: str, **kw: Any) -> dict[str, Any]:
        """Conference details with the prison's practitioner facilitating, checked by hand."""
        return {
            "scheduledAt": until(days=3),
            "location": f"{self.prison[scope]} chapel meeting room",
            "facilitatorId": str(self.practitioner(scope).client_id),
            "keepApartCheckedByHand": True,
            **kw,
        }

    def outcome(self, case: dict[str, Any]) -> dict[str, Any]:
        """A held conference's outcome with one commitment, agreed by both parties."""
        return {
            "held": True,
            "attendees": ["Dean Walsh", "Marcus Okoye"],
            "attendedPartyIds": [p["id"] for p in case["parties"]],
            "agreement": self.carried_agreement(case)["items"],
            "agreedBy": self.carried_agreement(case)["agreedBy"],
        }

    def carried_agreement(self, case: dict[str, Any]) -> dict[str, Any]:
        """An agreement of one commitment, agreed by both parties."""
        return {
            "items": [
                {
                    "description": "Keep to his own landing at association",
                    "ownerPartyId": case["parties"][1]["id"],
                    "dueOn": (clock.now() + timedelta(days=14)).date().isoformat(),
                }
            ],
            "agreedBy": [{"partyId": p["id"], "method": "in_person"} for p in case["parties"]],
        }

    async def agreement(self, scope: str) -> tuple[str, str]:
        """(case id, agreement id) of the agreement made at the scope's held conference."""
        case_id, _item = await self.agreement_item(scope, False)
        r = await self.client.get(f"/cases/{case_id}/agreements", headers=self.practitioner(scope).headers)
        assert r.status_code == 200, r.text
        return case_id, r.json()[0]["id"]

    async def letter(self, scope: str, fresh: bool, status: str) -> tuple[str, str]:
        """(case id, letter id) of a letter in `status` ("draft", "submitted" or "approved")."""
        if not fresh and (scope, status) in self._letters:
            return self._letters[(scope, status)]
        case = await self.staged(scope, True, "letter_exchange")
        practitioner = self.practitioner(scope)
        r = await self.client.post(
            f"/cases/{case['id']}/letters",
            json={
                "authorPartyId": case["parties"][0]["id"],
                "recipientPartyId": case["parties"][1]["id"],
                "body": "I want to say sorry for what happened on the landing.",
            },
            headers=practitioner.headers,
        )
        assert r.status_code == 201, r.text
        letter = (case["id"], r.json()["id"])
        for action in {"draft": [], "submitted": ["submit"], "approved": ["submit", "approve"]}[status]:
            r = await self.client.post(
                f"/cases/{letter[0]}/letters/{letter[1]}/{action}", headers=practitioner.headers
            )
            assert r.status_code == 200, r.text
        if not fresh:
            self._letters[(scope, status)] = letter
        return letter

    async def agreement_item(self, scope: str, fresh: bool) -> tuple[str, str]:
        """(case id, item id) of a commitment made at a held conference."""
        if not fresh and scope in self._items:
            return self._items[scope]
        case = await self.staged(scope, True, "conference")
        r = await self.client.post(
            f"/cases/{case['id']}/conference/outcome",
            json=self.outcome(case),
            headers=self.practitioner(scope).headers,
        )
        assert r.status_code == 200, r.text
        item = (case["id"], r.json()["agreement"][0]["id"])
        if not fresh:
            self._items[scope] = item
        return item

    async def concern(self, scope: str, fresh: bool) -> str:
        """An open safeguarding concern on a case of the scope the scope's rep is assigned to."""
        if not fresh and scope in self._concerns:
            return self._concerns[scope]
        case = await self.staged(scope, fresh, "assessment")
        r = await self.client.post(
            "/safeguarding-concerns",
            json={
                "prisonerNumber": case["parties"][0]["prisonerNumber"],
                "caseId": case["id"],
                "category": "self_harm",
                "detail": "Said he has been thinking about hurting himself.",
            },
            headers=self.practitioner(scope).headers,
        )
        assert r.status_code == 201, r.text
        concern: str = r.json()["id"]
        if not fresh:
            self._concerns[scope] = concern
        return concern

    async def feed_event(self, scope: str) -> tuple[str, int]:
        """(event id, cursor) of the latest published event of the scope's case."""
        case = await self.case(scope, False)
        r = await self.client.get("/events", params={"limit": "1"}, headers=self.keys["admin"].headers)
        assert r.status_code == 200, r.text  # reading the feed publishes what waits
        async with self.db.transaction() as session:
            event = (
                await session.execute(
                    select(OutboxEvent)
                    .where(OutboxEvent.case_id == uuid.UUID(case["id"]))  # type: ignore[arg-type]
                    .order_by(OutboxEvent.position.desc())  # type: ignore[union-attr]
                    .limit(1)
                )
            ).scalar_one()
        assert event.feed_seq is not None
        return str(event.event_id), event.feed_seq

    def domain_event(self) -> dict[str, Any]:
        """A prison domain event of a type this service does not act on."""
        return {
            "eventId": f"matrix-{self.next_serial()}",
            "eventType": "prison-offender-events.prisoner.merged",
            "version": 1,
            "occurredAt": "2026-11-20T10:00:00+00:00",
            "description": "Two prisoner records were merged",
            "additionalInformation": {},
        }

    def sender(self, scope: str) -> Key:
        """The incident system of the scope's prison, which sends its prison events."""
        return self.keys["referrer_lei" if scope == "elsewhere" else "referrer"]

    async def release(self, scope: str) -> dict[str, Any]:
        """A release from the scope's prison of a party to a case of its own there: an inbound
        event of that prison whichever way it is judged (its sender, its prison, its cases)."""
        if scope not in self._released:
            self._released[scope] = (await self.case(scope, True))["parties"][0]["prisonerNumber"]
        number = self._released[scope]
        return {
            "eventId": f"matrix-{self.next_serial()}",
            "eventType": "prison-offender-events.prisoner.released",
            "version": 1,
            "occurredAt": "2026-11-21T09:05:00+00:00",
            "description": "A prisoner has been released from prison",
            "additionalInformation": {
                "nomsNumber": number,
                "prisonId": self.prison[scope],
                "reason": "RELEASED",
            },
            "personReference": {"identifiers": [{"type": "NOMS", "value": number}]},
        }

    async def rejected_inbound(self, scope: str) -> str:
        """A received event of the scope's prison that could not be acted on (what an admin replays)."""
        event = await self.release(scope)
        record = InboundEvent(
            dedupe_key=f"matrix:{event['eventId']}",
            event_id=event["eventId"],
            event_type=event["eventType"],
            occurred_at=clock.now(),
            payload=event,
            prison_id=self.prison[scope],
            sender_client_id=self.sender(scope).client_id,
            status="rejected",
            attempts=1,
            error="the matrix's rejected event",
            received_at=clock.now(),
        )
        async with self.db.transaction() as session:
            session.add(record)
        return str(record.id)

    async def new_client(self, scope: str) -> str:
        """A new API client of the scope's prison."""
        key = await make_key(self.db, role="referrer", prisons=[self.prison[scope]], name=f"matrix {scope}")
        return str(key.client_id)

    async def subscribe(self, scope: str) -> str:
        """A new webhook subscription, made by an admin of the scope's prison (of MDI: the admin
        whose cells these are, for "mine", another one for "prison")."""
        creator = {"mine": "admin_mdi", "prison": "admin_mdi_other", "elsewhere": "admin_lei"}[scope]
        r = await self.client.post(
            "/webhook-subscriptions", json=SUBSCRIPTION, headers=self.keys[creator].headers
        )
        assert r.status_code == 201, r.text
        subscription: str = r.json()["id"]
        return subscription

    async def dead_delivery(self, subscription: str) -> str:
        """A delivery to `subscription` given up on."""
        delivery = WebhookDelivery(
            subscription_id=uuid.UUID(subscription),
            event_id=uuid.uuid4(),
            event_type="restorative-justice.case.created",
            status="dead",
            attempts=8,
            next_attempt_at=clock.now(),
            last_status_code=500,
            created_at=clock.now(),
        )
        async with self.db.transaction() as session:
            session.add(delivery)
        return str(delivery.id)


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
    return outcome in (LISTED, HIDDEN, NOTHING) or (isinstance(outcome, int) and outcome < 400)


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
        fresh = method != "GET" and is_success(expected)
        req = await entry.recipe(world, scope, fresh)
        before = await audit_count(world.db)
        r = await world.client.request(
            method,
            path.format(**req.path),
            params=req.query,
            json=req.body if method != "GET" else None,
            headers={**world.keys[role].headers, **req.headers},
        )
        if expected == NOTHING:
            assert r.status_code in (200, 204), r.text
            assert r.status_code == 204 or str(req.probe) not in r.text, f"{req.probe} should not be shown"
            return
        if expected in (LISTED, HIDDEN):
            assert r.status_code == 200, r.text
            body = r.json()
            seen = {
                item.get(req.probe_field) for item in (body["content"] if isinstance(body, dict) else body)
            }
            assert (req.probe in seen) == (expected == LISTED), f"{req.probe} should be {expected}"
            return
        assert r.status_code == expected, r.text
        if expected >= 400:
            assert r.headers["content-type"] == "application/problem+json"
            assert await audit_count(world.db) == before, "a refused request left an audit record"
