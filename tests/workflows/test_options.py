"""GET /cases/{id}/transitions tells callers what they could do; roles that may not fire get 403."""

import uuid
from typing import Any

import pytest

from app.workflows.case_workflow import BY_TRIGGER, GUARDS
from tests.records import audit_records
from tests.support import Api, Key, until


def by_trigger(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["trigger"]: t for t in body["triggers"]}


class TestTransitionOptions:
    async def test_assessment_without_risk_or_consents_shows_what_blocks(self, api: Api) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "accept")

        r = await api.client.get(f"/cases/{case['id']}/transitions", headers=api.keys.practitioner.headers)

        assert r.status_code == 200
        body = r.json()
        assert body["state"] == "assessment"
        assert body["version"] == (await api.case(case["id"]))["version"]
        options = by_trigger(body)
        assert list(options) == [
            "decline",
            "start_shuttle",
            "start_letters",
            "schedule_conference",
            "withdraw",
            "pause",
        ]
        assert options["decline"] == {
            "trigger": "decline",
            "to": "closed",
            "allowed": True,
            "unmetGuards": [],
        }
        assert options["start_shuttle"]["allowed"] is False
        assert options["start_shuttle"]["unmetGuards"] == [
            {"name": name, "description": GUARDS[name].description}
            for name in (
                "risk_assessed",
                "two_parties_consent_indirect",
                "responsibility_acknowledged",
                "facilitator_set",
            )
        ]
        assert [g["name"] for g in options["start_letters"]["unmetGuards"]] == [
            "risk_assessed",
            "letter_writer_and_recipient_consent",
            "responsibility_acknowledged",
        ]
        # Guards on the request body (time, place, facilitator) cannot be judged before it is sent.
        assert [g["name"] for g in options["schedule_conference"]["unmetGuards"]] == [
            "risk_assessed",
            "every_party_consents_direct",
            "responsibility_acknowledged",
            "no_open_non_association",
        ]
        assert options["withdraw"]["allowed"] is True
        assert options["pause"]["allowed"] is True

    async def test_ready_case_shows_interventions_allowed(self, api: Api) -> None:
        case = await api.to_state("assessment")
        r = await api.client.get(f"/cases/{case['id']}/transitions", headers=api.keys.practitioner.headers)
        options = by_trigger(r.json())
        assert options["start_shuttle"]["allowed"] is True
        assert options["start_letters"]["allowed"] is True
        # Non-associations are not configured: a check by hand comes with the request.
        assert options["schedule_conference"]["allowed"] is False
        assert [g["name"] for g in options["schedule_conference"]["unmetGuards"]] == [
            "no_open_non_association"
        ]

    async def test_follow_up_names_open_checks(self, api: Api) -> None:
        case = await api.to_state("follow_up")
        r = await api.client.get(f"/cases/{case['id']}/transitions", headers=api.keys.practitioner.headers)
        options = by_trigger(r.json())
        assert list(options) == ["pause", "close"]
        assert options["close"]["allowed"] is False
        assert [g["name"] for g in options["close"]["unmetGuards"]] == ["no_open_wellbeing_check"]

    async def test_rep_sees_only_what_a_rep_may_fire(self, api: Api) -> None:
        case = await api.to_state("shuttle_mediation")
        rep = await api.rep()
        assert (await api.assign(case["id"], [rep["id"]])).status_code == 200
        rep_key = await api.keys.rep(uuid.UUID(rep["id"]))
        r = await api.client.get(f"/cases/{case['id']}/transitions", headers=rep_key.headers)
        assert r.status_code == 200
        assert r.json()["triggers"] == [
            {"trigger": "pause", "to": "on_hold", "allowed": True, "unmetGuards": []}
        ]

    async def test_manager_may_look_but_has_nothing_to_fire(self, api: Api) -> None:
        case = await api.to_state("assessment")
        r = await api.client.get(f"/cases/{case['id']}/transitions", headers=api.keys.manager.headers)
        assert r.status_code == 200
        assert r.json()["triggers"] == []


class TestRolesThatMayNotFire:
    async def rep_key(self, api: Api, case_id: str) -> Key:
        rep = await api.rep()
        assert (await api.assign(case_id, [rep["id"]])).status_code == 200
        return await api.keys.rep(uuid.UUID(rep["id"]))

    @pytest.mark.parametrize(
        ("state", "trigger", "body"),
        [
            ("assessment", "start_shuttle", {}),
            ("shuttle_mediation", "conclude", {"outcome": "resolved"}),
            ("follow_up", "close", {}),
            ("assessment", "decline", {"reason": "unsuitable"}),
        ],
    )
    async def test_rep_may_fire_only_pause(
        self, api: Api, state: str, trigger: str, body: dict[str, Any]
    ) -> None:
        assert BY_TRIGGER[trigger].who == {"practitioner"}
        case = await api.to_state(state)
        key = await self.rep_key(api, case["id"])
        records = len(await audit_records(api.db, case["id"]))
        r = await api.fire(case["id"], trigger, key=key, **body)
        assert r.status_code == 403, r.text
        assert r.json()["errorCode"] == "FORBIDDEN"
        assert (await api.case(case["id"]))["state"] == state
        assert len(await audit_records(api.db, case["id"])) == records

    async def test_rep_may_not_resume(self, api: Api) -> None:
        case = await api.to_state("assessment")
        key = await self.rep_key(api, case["id"])
        await api.must_fire(case["id"], "pause", until=until(hours=6), reason="cooling off")
        r = await api.fire(case["id"], "resume", key=key)
        assert r.status_code == 403
        assert r.json()["errorCode"] == "FORBIDDEN"

    @pytest.mark.parametrize("role", ["manager", "admin"])
    async def test_roles_without_transition_rights_are_refused(self, api: Api, role: str) -> None:
        case = await api.refer()
        r = await api.fire(case["id"], "accept", key=getattr(api.keys, role))
        assert r.status_code == 403
        assert r.json()["errorCode"] == "FORBIDDEN"
        assert (await api.case(case["id"]))["state"] == "referred"

    async def test_referrer_may_not_fire_on_its_own_referral(self, api: Api) -> None:
        case = await api.refer(key=api.keys.referrer)
        r = await api.fire(case["id"], "accept", key=api.keys.referrer)
        assert r.status_code == 403
        assert (await api.case(case["id"]))["state"] == "referred"
