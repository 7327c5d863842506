"""Helpers shared by tests: keys for each role and an API driver."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from app import clock
from app.auth.service import create_client
from app.context import SYSTEM_CONTEXT
from app.db import Database
from app.models.reps import Rep


@dataclass
class Key:
    """A bearer key with the client id behind it."""

    token: str
    client_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Keys:
    """Keys for each role: MDI-scoped unless named otherwise."""

    db: Database
    practitioner: Key
    practitioner_lei: Key
    referrer: Key
    manager: Key
    auditor: Key
    admin: Key
    reps: dict[uuid.UUID, Key] = field(default_factory=dict)

    @classmethod
    async def create(cls, db: Database) -> "Keys":
        """One key per role."""
        made = {}
        for name, role, prisons in [
            ("practitioner", "practitioner", ["MDI"]),
            ("practitioner_lei", "practitioner", ["LEI"]),
            ("referrer", "referrer", ["MDI", "LEI"]),
            ("manager", "manager", ["MDI"]),
            ("auditor", "auditor", []),
            ("admin", "admin", []),
        ]:
            made[name] = await make_key(db, role=role, prisons=prisons, name=f"test {name}")
        return cls(db=db, **made)

    async def rep(self, rep_id: uuid.UUID, prison: str = "MDI") -> Key:
        """A key bound to a rep record."""
        if rep_id not in self.reps:
            self.reps[rep_id] = await make_key(
                self.db, role="rep", prisons=[prison], rep_id=rep_id, name="test rep"
            )
        return self.reps[rep_id]


async def make_key(
    db: Database, *, role: str, prisons: list[str], rep_id: uuid.UUID | None = None, name: str = "test"
) -> Key:
    """Issue a key straight through the service."""
    async with db.transaction() as session:
        client, token = await create_client(
            session,
            SYSTEM_CONTEXT,
            name=name,
            role=role,
            prisons=prisons,
            all_prisons=not prisons,
            rep_id=rep_id,
        )
    return Key(token=token, client_id=client.id)


_counter = 0


def referral_body(
    *,
    prison: str = "MDI",
    reference: str | None = None,
    parties: list[tuple[str, str, str, str]] | None = None,
    category: str = "assault",
) -> dict[str, Any]:
    """A valid native referral."""
    global _counter
    _counter += 1
    parties = parties or [("A1234BC", "Dean", "Walsh", "harmed"), ("B2345CD", "Marcus", "Okoye", "harmer")]
    return {
        "prisonId": prison,
        "source": {"system": "TEST", "reference": reference or f"REF-{uuid.uuid4().hex[:10]}"},
        "incident": {
            "occurredAt": "2026-11-20T10:00:00+00:00",
            "locationKey": f"{prison}-A-1-001",
            "category": category,
            "description": "A fight on the landing after association.",
        },
        "parties": [
            {
                "prisonerNumber": n,
                "firstName": f,
                "lastName": last,
                "role": r,
                "location": f"{prison}-A-1-00{i}",
            }
            for i, (n, f, last, r) in enumerate(parties, start=1)
        ],
        "referredBy": "Officer Smith",
    }


class Api:
    """Drives the API as a practitioner would, failing loudly on unexpected answers."""

    def __init__(self, client: httpx.AsyncClient, keys: Keys, db: Database) -> None:
        self.client = client
        self.keys = keys
        self.db = db

    async def refer(self, key: Key | None = None, **kw: Any) -> dict[str, Any]:
        """Create a case from a native referral (as the practitioner unless told)."""
        r = await self.client.post(
            "/referrals", json=referral_body(**kw), headers=(key or self.keys.practitioner).headers
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def case(self, case_id: str, key: Key | None = None) -> dict[str, Any]:
        """Read a case."""
        r = await self.client.get(f"/cases/{case_id}", headers=(key or self.keys.practitioner).headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def fire(self, case_id: str, trigger: str, key: Key | None = None, **body: Any) -> httpx.Response:
        """Fire a trigger, returning the raw response."""
        return await self.client.post(
            f"/cases/{case_id}/transitions",
            json={"trigger": trigger, **body},
            headers=(key or self.keys.practitioner).headers,
        )

    async def must_fire(self, case_id: str, trigger: str, **body: Any) -> dict[str, Any]:
        """Fire a trigger that must succeed."""
        r = await self.fire(case_id, trigger, **body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def patch(self, case_id: str, **fields: Any) -> dict[str, Any]:
        """PATCH a case with the current version."""
        case = await self.case(case_id)
        r = await self.client.patch(
            f"/cases/{case_id}",
            json=fields,
            headers={**self.keys.practitioner.headers, "If-Match": f'"{case["version"]}"'},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def consent(self, case_id: str, party_id: str, scope: str, given: bool = True) -> None:
        """Record one consent."""
        r = await self.client.post(
            f"/cases/{case_id}/parties/{party_id}/consents",
            json={"scope": scope, "given": given, "recordedBy": "Rep Lewis", "method": "in_person"},
            headers=self.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text

    async def consent_all(
        self,
        case_id: str,
        scopes: tuple[str, ...] = ("indirect", "letters_send", "letters_receive", "direct"),
    ) -> None:
        """Every party consents to every scope given."""
        case = await self.case(case_id)
        for party in case["parties"]:
            for scope in scopes:
                await self.consent(case_id, party["id"], scope)

    async def acknowledge(
        self, case_id: str, party_id: str, acknowledged: bool = True, key: Key | None = None
    ) -> httpx.Response:
        """Record whether a party acknowledges their part in the harm (as the practitioner unless
        told), returning the raw response."""
        return await self.client.post(
            f"/cases/{case_id}/parties/{party_id}/responsibility",
            json={"acknowledged": acknowledged, "method": "in_person", "recordedBy": "Helen Ashworth"},
            headers=(key or self.keys.practitioner).headers,
        )

    async def acknowledge_all(self, case_id: str) -> None:
        """Every party whose role is harmer or both acknowledges their part."""
        case = await self.case(case_id)
        for party in case["parties"]:
            if party["role"] in ("harmer", "both"):
                r = await self.acknowledge(case_id, party["id"])
                assert r.status_code == 201, r.text

    async def rep(self, prison: str = "MDI", number: str | None = None, **kw: Any) -> dict[str, Any]:
        """Register an active rep."""
        global _counter
        _counter += 1
        body = {
            "prisonerNumber": number or f"G{_counter % 10000:04d}RR",
            "firstName": "Andre",
            "lastName": "Lewis",
            "prisonId": prison,
            "status": "active",
            "maxActiveCases": 5,
            **kw,
        }
        r = await self.client.post(
            "/reps",
            json=body,
            headers=self.keys.manager.headers if prison == "MDI" else self.keys.admin.headers,
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def assign(
        self, case_id: str, rep_ids: list[str], practitioner_id: uuid.UUID | None = None
    ) -> httpx.Response:
        """PUT the assignment (non-associations checked by hand: no service is configured in tests)."""
        body: dict[str, Any] = {"repIds": rep_ids, "keepApartCheckedByHand": True}
        if practitioner_id:
            body["practitionerId"] = str(practitioner_id)
        return await self.client.put(
            f"/cases/{case_id}/assignment", json=body, headers=self.keys.practitioner.headers
        )

    async def ready_for_intervention(
        self, case_id: str, risk: str = "low", facilitator: str = "practitioner"
    ) -> None:
        """Accept, assess risk, set a facilitator, record every consent and every acknowledgement
        of responsibility."""
        await self.must_fire(case_id, "accept")
        await self.patch(case_id, riskLevel=risk, facilitator=facilitator)
        await self.consent_all(case_id)
        await self.acknowledge_all(case_id)

    def conference(self, **kw: Any) -> dict[str, Any]:
        """Conference details with the practitioner as facilitator, checked by hand."""
        return {
            "scheduledAt": (clock.now() + timedelta(days=3)).isoformat(),
            "location": "MDI chapel meeting room",
            "facilitatorId": str(self.keys.practitioner.client_id),
            "keepApartCheckedByHand": True,
            **kw,
        }

    async def to_state(self, state: str) -> dict[str, Any]:
        """A new case brought to `state` along the usual path, guards satisfied."""
        case = await self.refer()
        cid = case["id"]
        if state == "referred":
            return await self.case(cid)
        await self.ready_for_intervention(cid)
        party = case["parties"][0]["id"]
        paths: dict[str, list[tuple[str, dict[str, Any]]]] = {
            "assessment": [],
            "shuttle_mediation": [("start_shuttle", {})],
            "letter_exchange": [("start_letters", {"partyId": party})],
            "conference": [("schedule_conference", {"conference": self.conference()})],
            "follow_up": [("start_shuttle", {}), ("conclude", {"outcome": "resolved"})],
            "on_hold": [("pause", {"until": until(hours=24), "reason": "cooling off"})],
            "closed": [("decline", {"reason": "unsuitable"})],
        }
        for trigger, body in paths[state]:
            await self.must_fire(cid, trigger, **body)
        return await self.case(cid)

    async def rep_row(self, rep_id: str) -> Rep:
        """The rep's row, straight from the database."""
        async with self.db.transaction() as session:
            rep = await session.get(Rep, uuid.UUID(rep_id))
            assert rep is not None
            return rep


def until(**delta: float) -> str:
    """An RFC 3339 time `delta` from now."""
    return (clock.now() + timedelta(**delta)).isoformat()


def aware(value: str) -> datetime:
    """Parse an RFC 3339 time."""
    return datetime.fromisoformat(value)
