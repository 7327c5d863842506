"""Every kind of task the workflow makes by itself, with its assignee, party and due time."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app import clock
from app.models.safeguarding import SafeguardingConcern
from tests.mediation import audit_of, case_with_rep, events_of, rep_key, tasks_of
from tests.support import Api

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class TestGeneratedTasks:
    async def test_accepting_a_case_sets_an_assessment_visit_per_party(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [a, b] = await case_with_rep(api, state="referred", reps=2)
        await api.must_fire(case["id"], "accept")
        visits = await tasks_of(api, case["id"], "assessment_visit")
        # One visit per party, shared out between the reps.
        assert sorted(str(t.party_id) for t in visits) == sorted(p["id"] for p in case["parties"])
        assert {str(t.assignee_id) for t in visits} == {a["id"], b["id"]}
        assert {t.due_at for t in visits} == {NOW + timedelta(days=2)}
        assert all(t.status == "open" and t.assignee_type == "rep" for t in visits)

    async def test_approving_a_letter_sets_a_delivery(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="letter_exchange")
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={
                "authorPartyId": case["parties"][0]["id"],
                "recipientPartyId": case["parties"][1]["id"],
                "body": "x",
            },
            headers=api.keys.practitioner.headers,
        )
        letter = r.json()["id"]
        for action in ("submit", "approve"):
            r = await api.client.post(
                f"/cases/{case['id']}/letters/{letter}/{action}", headers=api.keys.practitioner.headers
            )
            assert r.status_code == 200, r.text
        [task] = await tasks_of(api, case["id"], "letter_delivery")
        assert (str(task.assignee_id), str(task.party_id), task.due_at) == (
            rep["id"],
            case["parties"][1]["id"],
            NOW + timedelta(days=1),
        )

    async def test_entering_follow_up_sets_four_wellbeing_checks_per_party(self, api: Api) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="follow_up")
        checks = await tasks_of(api, case["id"], "wellbeing_check")
        offsets = [timedelta(hours=4), timedelta(days=1), timedelta(days=7), timedelta(days=28)]
        for party in case["parties"]:
            mine = [t for t in checks if str(t.party_id) == party["id"]]
            assert [t.due_at - NOW for t in mine] == offsets
            assert {str(t.assignee_id) for t in mine} == {rep["id"]}

    async def test_a_concern_found_at_a_wellbeing_check_sets_a_check_within_four_hours(
        self, api: Api
    ) -> None:
        clock.freeze(NOW)
        case, [rep] = await case_with_rep(api, state="follow_up")
        first = (await tasks_of(api, case["id"], "wellbeing_check"))[0]
        clock.freeze(NOW + timedelta(hours=3))
        r = await api.client.post(
            f"/tasks/{first.id}/complete",
            json={
                "outcome": "concern found",
                "durationMinutes": 20,
                "concern": {"category": "self_harm", "detail": "Fresh cuts on his forearm."},
            },
            headers=(await rep_key(api, rep)).headers,
        )
        assert r.status_code == 200, r.text
        # The concern brings an urgent task for the practitioner and a wellbeing check within 4 hours.
        [urgent] = await tasks_of(api, case["id"], "safeguarding_check")
        assert (urgent.party_id, urgent.assignee_type) == (first.party_id, "practitioner")
        [check] = [
            t
            for t in await tasks_of(api, case["id"], "wellbeing_check")
            if t.due_at == NOW + timedelta(hours=7)
        ]
        assert check.party_id == first.party_id
        assert check.assignee_id == api.keys.practitioner.client_id

    async def test_scheduling_a_conference_sets_its_preparation(self, api: Api) -> None:
        clock.freeze(NOW)
        case, _ = await case_with_rep(api, state="conference")
        [prep] = await tasks_of(api, case["id"], "conference_preparation")
        assert (prep.assignee_type, prep.assignee_id) == ("practitioner", api.keys.practitioner.client_id)
        assert prep.due_at == NOW + timedelta(days=2)

    async def test_a_broken_agreement_item_sets_a_practitioner_review(self, api: Api) -> None:
        clock.freeze(NOW)
        case, _ = await case_with_rep(api, state="conference")
        r = await api.client.post(
            f"/cases/{case['id']}/conference/outcome",
            json={
                "held": True,
                "agreement": [
                    {
                        "description": "Repay two phone credits",
                        "ownerPartyId": case["parties"][1]["id"],
                        "dueOn": str(date(2026, 3, 9)),
                    }
                ],
                "attendedPartyIds": [p["id"] for p in case["parties"]],
                "agreedBy": [{"partyId": p["id"], "method": "written"} for p in case["parties"]],
            },
            headers=api.keys.practitioner.headers,
        )
        [item] = r.json()["agreement"]
        r = await api.client.patch(
            f"/cases/{case['id']}/agreement-items/{item['id']}",
            json={"status": "broken"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        [review] = await tasks_of(api, case["id"], "practitioner_review")
        assert (review.assignee_type, review.due_at) == ("practitioner", NOW + timedelta(days=1))
        assert "Repay two phone credits" in review.instructions


class TestConcernAtWellbeingCheck:
    async def test_one_step_opens_the_concern_with_its_audit_record_and_event(self, api: Api) -> None:
        case, [rep] = await case_with_rep(api, state="follow_up")
        check = (await tasks_of(api, case["id"], "wellbeing_check"))[0]
        r = await api.client.post(
            f"/tasks/{check.id}/complete",
            json={
                "outcome": "concern found",
                "notes": "Talked for a while.",
                "durationMinutes": 25,
                "concern": {"category": "suicide_risk", "detail": "Says he has nothing left to live for."},
            },
            headers=(await rep_key(api, rep)).headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "done" and r.json()["outcome"] == "concern found"
        async with api.db.transaction() as session:
            [concern] = (await session.execute(select(SafeguardingConcern))).scalars().all()
        party = next(p for p in case["parties"] if p["id"] == str(check.party_id))
        assert concern.prisoner_number == party["prisonerNumber"]
        assert (concern.category, concern.status, str(concern.case_id)) == (
            "suicide_risk",
            "open",
            case["id"],
        )
        [record] = await audit_of(api, case["id"], "concern.raised")
        assert record.entity_id == str(concern.id)
        assert record.after is not None and record.after["detail"] == "Says he has nothing left to live for."
        [event] = await events_of(api, "restorative-justice.safeguarding.raised")
        assert event.payload["personReference"]["identifiers"] == [
            {"type": "NOMS", "value": party["prisonerNumber"]}
        ]
        assert event.payload["additionalInformation"]["concernId"] == str(concern.id)
        assert "nothing left" not in str(event.payload)
        [completed] = await audit_of(api, case["id"], "task.completed")
        assert completed.after is not None and completed.after["concernId"] == str(concern.id)
        # The open concern now keeps the case from closing.
        r = await api.client.get(f"/cases/{case['id']}/transitions", headers=api.keys.practitioner.headers)
        close = next(t for t in r.json()["triggers"] if t["trigger"] == "close")
        assert "no_open_safeguarding_concern" in [g["name"] for g in close["unmetGuards"]]
