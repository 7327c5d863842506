"""Letters: only an approved letter is delivered; withdrawal withholds the rest; replies link."""

import uuid
from typing import Any

import httpx

from app.models.letters import Letter
from tests.mediation import audit_of, case_with_rep, rep_key, tasks_of
from tests.support import Api, Key, until


async def _letter_case(api: Api, reps: int = 1) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return await case_with_rep(api, state="letter_exchange", reps=reps)


async def _draft(api: Api, case: dict[str, Any], author: int = 0, **kw: Any) -> dict[str, Any]:
    r = await api.client.post(
        f"/cases/{case['id']}/letters",
        json={
            "authorPartyId": case["parties"][author]["id"],
            "recipientPartyId": case["parties"][1 - author]["id"],
            "body": "I am sorry for what happened on the landing.",
            **kw,
        },
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _move(
    api: Api, case: dict[str, Any], letter: dict[str, Any], action: str, key: Key | None = None, **body: Any
) -> httpx.Response:
    return await api.client.post(
        f"/cases/{case['id']}/letters/{letter['id']}/{action}",
        json=body or None,
        headers=(key or api.keys.practitioner).headers,
    )


async def _approved(api: Api, case: dict[str, Any], author: int = 0, **kw: Any) -> dict[str, Any]:
    letter = await _draft(api, case, author, **kw)
    assert (await _move(api, case, letter, "submit")).status_code == 200
    r = await _move(api, case, letter, "approve")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _row(api: Api, letter_id: str) -> Letter:
    async with api.db.transaction() as session:
        letter = await session.get(Letter, uuid.UUID(letter_id))
        assert letter is not None
        return letter


class TestDraft:
    async def test_a_draft_is_created_and_audited_without_a_copy_of_the_text(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        letter = await _draft(api, case)
        assert letter["status"] == "draft"
        assert letter["authorPartyId"] == case["parties"][0]["id"]
        assert letter["inReplyTo"] is None and letter["replies"] == []
        assert (await _row(api, letter["id"])).body == "I am sorry for what happened on the landing."
        [record] = await audit_of(api, case["id"], "letter.drafted")
        assert record.after is not None
        assert record.after["bodyLength"] == len("I am sorry for what happened on the landing.")
        assert "body" not in record.after and "sorry" not in str(record.after)

    async def test_letters_are_written_only_in_letter_exchange(self, api: Api) -> None:
        case, _ = await case_with_rep(api, state="shuttle_mediation")
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={
                "authorPartyId": case["parties"][0]["id"],
                "recipientPartyId": case["parties"][1]["id"],
                "body": "x",
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"
        assert r.json()["allowedStates"] == ["letter_exchange"]

    async def test_a_recipient_who_refused_letters_gets_none(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        await api.consent(case["id"], case["parties"][1]["id"], "letters_receive", given=False)
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={
                "authorPartyId": case["parties"][0]["id"],
                "recipientPartyId": case["parties"][1]["id"],
                "body": "x",
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "CONSENT_MISSING"

    async def test_a_party_cannot_write_to_themself(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        party = case["parties"][0]["id"]
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={"authorPartyId": party, "recipientPartyId": party, "body": "x"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text

    async def test_a_rep_cannot_draft(self, api: Api) -> None:
        case, [rep] = await _letter_case(api)
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={
                "authorPartyId": case["parties"][0]["id"],
                "recipientPartyId": case["parties"][1]["id"],
                "body": "x",
            },
            headers=(await rep_key(api, rep)).headers,
        )
        assert r.status_code == 403, r.text


class TestApprove:
    async def test_approval_sets_a_delivery_task_for_the_assigned_rep(self, api: Api) -> None:
        case, [rep] = await _letter_case(api)
        letter = await _approved(api, case)
        assert letter["status"] == "approved" and letter["approvedAt"]
        [task] = await tasks_of(api, case["id"], "letter_delivery")
        assert (task.assignee_type, str(task.assignee_id)) == ("rep", rep["id"])
        assert str(task.letter_id) == letter["id"]
        assert str(task.party_id) == case["parties"][1]["id"]
        assert task.status == "open"
        [record] = await audit_of(api, case["id"], "letter.approved")
        assert record.after is not None and record.after["deliveryTaskId"] == str(task.id)

    async def test_a_rep_cannot_approve(self, api: Api) -> None:
        case, [rep] = await _letter_case(api)
        letter = await _draft(api, case)
        assert (await _move(api, case, letter, "submit")).status_code == 200
        r = await _move(api, case, letter, "approve", await rep_key(api, rep))
        assert r.status_code == 403, r.text
        assert (await _row(api, letter["id"])).status == "submitted"

    async def test_a_draft_must_be_submitted_before_approval(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        letter = await _draft(api, case)
        r = await _move(api, case, letter, "approve")
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "LETTER_MOVE_NOT_ALLOWED"
        assert r.json()["allowedActions"] == ["submit"]


class TestReturn:
    async def test_returned_with_comments_then_reworked_and_resubmitted(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        letter = await _draft(api, case)
        assert (await _move(api, case, letter, "submit")).status_code == 200
        r = await _move(api, case, letter, "return", comments="Leave out the part about his family.")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "returned"
        assert r.json()["practitionerComments"] == "Leave out the part about his family."
        r = await api.client.patch(
            f"/cases/{case['id']}/letters/{letter['id']}",
            json={"body": "I am sorry."},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        r = await _move(api, case, letter, "submit")
        assert r.status_code == 200 and r.json()["status"] == "submitted"
        actions = [a.action for a in await audit_of(api, case["id"]) if a.action.startswith("letter.")]
        assert actions == [
            "letter.drafted",
            "letter.submitted",
            "letter.returned",
            "letter.edited",
            "letter.submitted",
        ]

    async def test_a_return_needs_comments(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        letter = await _draft(api, case)
        assert (await _move(api, case, letter, "submit")).status_code == 200
        r = await _move(api, case, letter, "return")
        assert r.status_code == 422, r.text
        assert (await _row(api, letter["id"])).status == "submitted"

    async def test_an_approved_letter_cannot_be_rewritten(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        letter = await _approved(api, case)
        r = await api.client.patch(
            f"/cases/{case['id']}/letters/{letter['id']}",
            json={"body": "changed"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 409, r.text
        assert (await _row(api, letter["id"])).body.startswith("I am sorry for what")


class TestDeliver:
    async def test_the_assigned_rep_delivers_an_approved_letter_and_the_task_is_done(self, api: Api) -> None:
        case, [rep] = await _letter_case(api)
        letter = await _approved(api, case)
        r = await _move(api, case, letter, "deliver", await rep_key(api, rep), durationMinutes=15)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "delivered"
        assert r.json()["deliveredByRepId"] == rep["id"]
        [task] = await tasks_of(api, case["id"], "letter_delivery")
        assert task.status == "done" and task.duration_minutes == 15
        assert str(task.completed_by_rep_id) == rep["id"]
        assert [a.action for a in await audit_of(api, case["id"])][-2:] == [
            "letter.delivered",
            "task.completed",
        ]

    async def test_no_delivery_before_approval(self, api: Api) -> None:
        case, [rep] = await _letter_case(api)
        key = await rep_key(api, rep)
        letter = await _draft(api, case)
        # A rep cannot even see an unapproved letter, let alone deliver it.
        assert (await _move(api, case, letter, "deliver", key)).status_code == 404
        for step in (None, "submit", "return"):
            if step:
                extra = {"comments": "Rewrite it."} if step == "return" else {}
                assert (await _move(api, case, letter, step, **extra)).status_code == 200
            r = await _move(api, case, letter, "deliver")
            assert r.status_code == 409, r.text
            assert r.json()["errorCode"] == "LETTER_MOVE_NOT_ALLOWED"
        row = await _row(api, letter["id"])
        assert row.status == "returned" and row.delivered_at is None
        assert await audit_of(api, case["id"], "letter.delivered") == []

    async def test_a_delivered_letter_is_not_delivered_twice(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        letter = await _approved(api, case)
        assert (await _move(api, case, letter, "deliver")).status_code == 200
        assert (await _move(api, case, letter, "deliver")).status_code == 409

    async def test_completing_the_delivery_task_delivers_the_letter(self, api: Api) -> None:
        case, [rep] = await _letter_case(api)
        letter = await _approved(api, case)
        [task] = await tasks_of(api, case["id"], "letter_delivery")
        r = await api.client.post(
            f"/tasks/{task.id}/complete",
            json={"outcome": "handed over at his cell door", "durationMinutes": 10},
            headers=(await rep_key(api, rep)).headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "done"
        row = await _row(api, letter["id"])
        assert row.status == "delivered" and str(row.delivered_by_rep_id) == rep["id"]

    async def test_a_recipient_who_withdrew_consent_is_not_given_the_letter(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        letter = await _approved(api, case)
        await api.consent(case["id"], case["parties"][1]["id"], "letters_receive", given=False)
        r = await _move(api, case, letter, "deliver")
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "GUARD_FAILED"
        assert [g["name"] for g in r.json()["unmetGuards"]] == ["recipient_consents_letters"]
        assert (await _row(api, letter["id"])).status == "approved"

    async def test_no_delivery_while_cooling_off(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        letter = await _approved(api, case)
        await api.must_fire(case["id"], "pause", until=until(hours=12), reason="tempers high")
        r = await _move(api, case, letter, "deliver")
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "INVALID_STATE"


class TestWithdrawal:
    async def test_withdrawal_withholds_undelivered_letters_and_cancels_their_delivery(
        self, api: Api
    ) -> None:
        case, _ = await _letter_case(api)
        delivered = await _approved(api, case)
        assert (await _move(api, case, delivered, "deliver")).status_code == 200
        approved = await _approved(api, case)
        draft = await _draft(api, case)
        await api.must_fire(case["id"], "withdraw", partyId=case["parties"][1]["id"])
        assert (await _row(api, delivered["id"])).status == "delivered"
        assert (await _row(api, approved["id"])).status == "withheld"
        assert (await _row(api, draft["id"])).status == "withheld"
        statuses = sorted(t.status for t in await tasks_of(api, case["id"], "letter_delivery"))
        assert statuses == ["cancelled", "done"]
        assert len(await audit_of(api, case["id"], "letter.withheld")) == 2
        r = await _move(api, case, approved, "deliver")
        assert r.status_code == 409, r.text
        assert r.json()["errorCode"] == "LETTER_MOVE_NOT_ALLOWED"


class TestReplies:
    async def test_a_reply_links_to_the_letter_it_answers(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        first = await _approved(api, case)
        assert (await _move(api, case, first, "deliver")).status_code == 200
        reply = await _draft(api, case, author=1, inReplyTo=first["id"])
        assert reply["inReplyTo"] == first["id"]
        r = await api.client.get(
            f"/cases/{case['id']}/letters/{first['id']}", headers=api.keys.practitioner.headers
        )
        assert r.json()["replies"] == [reply["id"]]

    async def test_an_undelivered_letter_cannot_be_answered(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        first = await _approved(api, case)
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={
                "authorPartyId": case["parties"][1]["id"],
                "recipientPartyId": case["parties"][0]["id"],
                "body": "Thank you.",
                "inReplyTo": first["id"],
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 409, r.text

    async def test_a_reply_goes_back_to_the_author(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        first = await _approved(api, case)
        assert (await _move(api, case, first, "deliver")).status_code == 200
        r = await api.client.post(
            f"/cases/{case['id']}/letters",
            json={
                "authorPartyId": case["parties"][0]["id"],
                "recipientPartyId": case["parties"][1]["id"],
                "body": "And another thing.",
                "inReplyTo": first["id"],
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 422, r.text


class TestReadLetters:
    async def test_a_rep_sees_only_approved_and_delivered_letters_without_comments(self, api: Api) -> None:
        case, [rep] = await _letter_case(api)
        approved = await _approved(api, case)
        returned = await _draft(api, case)
        assert (await _move(api, case, returned, "submit")).status_code == 200
        assert (await _move(api, case, returned, "return", comments="Too angry.")).status_code == 200
        key = await rep_key(api, rep)
        r = await api.client.get(f"/cases/{case['id']}/letters", headers=key.headers)
        assert r.status_code == 200
        assert [(item["id"], item["practitionerComments"]) for item in r.json()] == [(approved["id"], None)]
        assert r.json()[0]["body"].startswith("I am sorry")
        r = await api.client.get(f"/cases/{case['id']}/letters/{returned['id']}", headers=key.headers)
        assert r.status_code == 404
        r = await api.client.get(f"/cases/{case['id']}/letters", headers=api.keys.practitioner.headers)
        assert len(r.json()) == 2


class TestRetraction:
    async def test_a_retraction_withholds_the_letters_the_party_wrote(self, api: Api) -> None:
        case, _ = await _letter_case(api)
        harmer = next(i for i, p in enumerate(case["parties"]) if p["role"] in ("harmer", "both"))
        theirs = await _approved(api, case, author=harmer)
        to_them = await _approved(api, case, author=1 - harmer)
        r = await api.acknowledge(case["id"], case["parties"][harmer]["id"], acknowledged=False)
        assert r.status_code == 201, r.text
        assert (await _row(api, theirs["id"])).status == "withheld"
        assert (await _row(api, to_them["id"])).status == "approved"
        reviews = [t for t in await tasks_of(api, case["id"], "practitioner_review") if t.status == "open"]
        assert len(reviews) == 1
