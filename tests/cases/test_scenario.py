"""A referral walked from intake to closure; the timeline and the audit verification agree with it."""

import uuid
from datetime import datetime
from typing import Any

from tests.records import audit_records, count_audit_records, events, tasks_of
from tests.support import Api, referral_body


class TestShuttleMediationCase:
    async def test_referral_to_closure_is_told_by_the_timeline_and_verifies(self, api: Api) -> None:
        client, keys = api.client, api.keys
        practitioner = keys.practitioner.headers

        # Intake, from the incident system.
        r = await client.post(
            "/referrals",
            json=referral_body(reference="IR-2026-000417"),
            headers={**keys.referrer.headers, "X-Request-ID": "scenario-referral"},
        )
        assert r.status_code == 201, r.text
        case_id = r.json()["id"]
        expected: list[tuple[str, str]] = [
            (
                "case.referred",
                "Referred by Officer Smith from TEST (IR-2026-000417): assault in MDI, involving "
                "Dean Walsh (harmed), Marcus Okoye (harmer).",
            )
        ]

        case = await api.must_fire(case_id, "accept")
        assert case["assignment"]["practitionerId"] == str(keys.practitioner.client_id)
        expected.append(("case.accept", "Accepted for assessment: referred to assessment."))

        rep = await api.rep()
        r = await api.assign(case_id, [rep["id"]])
        assert r.status_code == 200, r.text
        expected.append(("assignment.changed", "Assignment changed: a practitioner and 1 rep assigned."))

        # The rep meets each party; both agree to messages through a rep.
        harmed, harmer = case["parties"]
        for party in (harmed, harmer):
            await api.consent(case_id, party["id"], "indirect")
            expected.append(
                (
                    "consent.recorded",
                    f"{party['firstName']} {party['lastName']} consented to indirect contact (messages "
                    "through a rep), recorded by Rep Lewis (in person).",
                )
            )

        # The person who caused harm acknowledges it to the practitioner.
        r = await api.acknowledge(case_id, harmer["id"])
        assert r.status_code == 201, r.text
        expected.append(
            (
                "responsibility.recorded",
                f"{harmer['firstName']} {harmer['lastName']} acknowledged their part in the harm, "
                "recorded by Helen Ashworth (in person).",
            )
        )

        # Risk assessment, with optimistic concurrency.
        current = await api.case(case_id)
        r = await client.patch(
            f"/cases/{case_id}",
            json={"riskLevel": "low", "riskNotes": "No weapons involved.", "facilitator": "rep"},
            headers={**practitioner, "If-Match": f'"{current["version"]}"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["version"] == current["version"] + 1
        expected.append(
            ("case.updated", "Case details changed: risk level, risk notes, facilitator. Risk level now low.")
        )

        await api.must_fire(case_id, "start_shuttle")
        expected.append(("case.start_shuttle", "Shuttle mediation started: assessment to shuttle mediation."))

        case = await api.must_fire(case_id, "conclude", outcome="resolved")
        assert case["state"] == "follow_up"
        expected.append(
            ("case.conclude", "Intervention concluded: shuttle mediation to follow up (outcome: resolved).")
        )

        # Follow-up: the rep does every wellbeing check.
        rep_key = await keys.rep(uuid.UUID(rep["id"]))
        checks = await tasks_of(api.db, case_id, kind="wellbeing_check")
        assert len(checks) == 8
        assert {(t.assignee_type, str(t.assignee_id)) for t in checks} == {("rep", rep["id"])}
        for task in checks:
            r = await client.post(
                f"/tasks/{task.id}/complete",
                json={"outcome": "Seen on the wing, settled", "durationMinutes": 20},
                headers=rep_key.headers,
            )
            assert r.status_code == 200, r.text
            expected.append(
                ("task.completed", "Wellbeing check done: Seen on the wing, settled (20 minutes).")
            )
            # The visit also counts as a contact with the party (the rep's hours come from contacts).
            expected.append(("contact.recorded", "Wellbeing visit recorded (20 minutes)."))

        case = await api.must_fire(case_id, "close")
        assert case["state"] == "closed"
        assert case["outcome"] == "resolved"
        expected.append(("case.close", "Closed: follow up to closed."))

        # The timeline tells exactly that story, oldest first.
        r = await client.get(f"/cases/{case_id}/timeline", headers=practitioner)
        assert r.status_code == 200
        timeline: list[dict[str, Any]] = r.json()
        assert [(e["action"], e["text"]) for e in timeline] == expected
        moments = [datetime.fromisoformat(e["at"]) for e in timeline]
        assert moments == sorted(moments)
        assert timeline[0]["actor"] == "test referrer (referrer)"
        assert timeline[0]["requestId"] == "scenario-referral"
        assert timeline[1]["actor"] == "test practitioner (practitioner)"
        assert {e["actor"] for e in timeline if e["action"] == "task.completed"} == {"test rep (rep)"}
        records = await audit_records(api.db, case_id)
        assert [r.seq for r in records] == list(range(1, len(expected) + 1))

        # One event per change of state, in order.
        assert [e.event_type for e in await events(api.db, case_id)] == [
            "restorative-justice.case.created",
            "restorative-justice.case.state-changed",
            "restorative-justice.case.state-changed",
            "restorative-justice.case.state-changed",
            "restorative-justice.case.closed",
        ]

        # And the whole trail verifies, every record checked.
        r = await client.get("/audit/verify", headers=keys.auditor.headers)
        assert r.status_code == 200
        assert r.json() == {"valid": True, "checked": await count_audit_records(api.db), "redacted": 0}
