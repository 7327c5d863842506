"""Safeguarding concerns: raised, told, acknowledged, escalated when nobody acknowledges."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app import clock
from app.audit.service import verify
from app.cases import repository as cases_repo
from app.common.enums import ConcernCategory
from app.config import get_settings
from app.context import RequestContext
from app.db import Database
from app.events.service import SAFEGUARDING_OVERDUE, SAFEGUARDING_RAISED
from app.models.audit import AuditRecord
from app.models.events import OutboxEvent
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task
from app.safeguarding.service import raise_concern
from app.timed_work.runner import run_once
from tests.conftest import FIXTURES
from tests.support import Api

SCHEMA = json.loads((FIXTURES / "events/domain-event.schema.json").read_text())
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def rows(db: Database, model: Any, *where: Any) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.execute(select(model).where(*where))).scalars())


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.transaction() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
        )


async def raise_on(api: Api, case: dict[str, Any], key: Any = None, **body: Any) -> Any:
    payload = {
        "prisonerNumber": case["parties"][0]["prisonerNumber"],
        "caseId": case["id"],
        "category": "self_harm",
        "detail": "Said he has been cutting himself since the fight.",
        **body,
    }
    return await api.client.post(
        "/safeguarding-concerns", json=payload, headers=(key or api.keys.practitioner).headers
    )


class TestRaiseConcern:
    async def test_on_a_case_makes_concern_event_tasks_and_audit_together(
        self, api: Api, db: Database
    ) -> None:
        clock.freeze(T0)
        case = await api.refer()
        await api.must_fire(case["id"], "accept")
        r = await raise_on(api, case)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["view"] == "full"
        assert body["status"] == "open"
        assert body["caseReference"] == case["reference"]
        assert body["detail"].startswith("Said he has")
        assert r.headers["location"] == f"/safeguarding-concerns/{body['id']}"
        concern = (await rows(db, SafeguardingConcern))[0]
        assert concern.prisoner_number == "A1234BC"
        urgent = (await rows(db, Task, col(Task.id) == concern.task_id))[0]
        check = (await rows(db, Task, col(Task.id) == concern.check_task_id))[0]
        assert urgent.kind == "safeguarding_check"
        assert urgent.assignee_type == "practitioner"
        assert urgent.assignee_id == api.keys.practitioner.client_id  # the case's practitioner
        assert urgent.due_at == T0 + timedelta(minutes=60)
        assert check.kind == "wellbeing_check"
        assert check.due_at == T0 + timedelta(hours=4)
        assert check.party_id == uuid.UUID(case["parties"][0]["id"])
        events = await rows(db, OutboxEvent, col(OutboxEvent.event_type) == SAFEGUARDING_RAISED)
        assert len(events) == 1
        envelope = events[0].payload
        jsonschema.validate(envelope, SCHEMA)
        assert envelope["personReference"]["identifiers"] == [{"type": "NOMS", "value": "A1234BC"}]
        assert envelope["detailUrl"] == f"http://rj.test/safeguarding-concerns/{concern.id}"
        assert envelope["additionalInformation"]["reference"] == case["reference"]
        assert "cutting" not in json.dumps(envelope)  # the detail is fetched, never broadcast
        records = await rows(db, AuditRecord, col(AuditRecord.action) == "concern.raised")
        assert len(records) == 1
        assert records[0].chain == case["id"]
        assert records[0].after is not None and records[0].after["category"] == "self_harm"
        async with db.transaction() as session:
            assert (await verify(session)).valid

    async def test_failure_after_raising_rolls_everything_back(self, api: Api, db: Database) -> None:
        case = await api.refer()
        before = {m: await count(db, m) for m in (SafeguardingConcern, Task, OutboxEvent, AuditRecord)}
        ctx = RequestContext(principal=await _principal(db, api))
        with pytest.raises(RuntimeError):
            async with db.transaction() as session:
                locked = await cases_repo.get_case(session, case["id"], lock=True)
                assert locked is not None
                await raise_concern(
                    session,
                    ctx,
                    prisoner_number="A1234BC",
                    prison_id="MDI",
                    case=locked,
                    category=ConcernCategory.SUICIDE_RISK,
                    detail="Talked about ending it.",
                )
                await session.flush()
                assert await _count_in(session, SafeguardingConcern) == before[SafeguardingConcern] + 1
                raise RuntimeError("the caller's later step failed")
        after = {m: await count(db, m) for m in before}
        assert after == before

    async def test_without_case_goes_to_the_duty_practitioner(self, api: Api, db: Database) -> None:
        duty = api.keys.practitioner.client_id
        r = await api.client.put(
            "/prisons/MDI/duty-practitioner",
            json={"practitionerId": str(duty)},
            headers=api.keys.manager.headers,
        )
        assert r.status_code == 200, r.text
        r = await api.client.post(
            "/safeguarding-concerns",
            json={
                "prisonerNumber": "C3456DE",
                "category": "violence_threat",
                "detail": "Threatened on the wing.",
            },
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        concern = (
            await rows(db, SafeguardingConcern, col(SafeguardingConcern.id) == uuid.UUID(r.json()["id"]))
        )[0]
        assert concern.prison_id == "MDI" and concern.case_id is None
        urgent = (await rows(db, Task, col(Task.id) == concern.task_id))[0]
        assert (urgent.assignee_type, urgent.assignee_id) == ("practitioner", duty)
        records = await rows(db, AuditRecord, col(AuditRecord.entity_id) == str(concern.id))
        assert [r.chain for r in records] == ["global"]

    async def test_without_case_or_duty_goes_to_the_prison_practitioners_as_a_group(
        self, api: Api, db: Database
    ) -> None:
        r = await api.client.post(
            "/safeguarding-concerns",
            json={"prisonerNumber": "C3456DE", "category": "bullying", "detail": "Being taxed for canteen."},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 201, r.text
        urgent = (await rows(db, Task, col(Task.kind) == "safeguarding_check"))[0]
        assert (urgent.assignee_type, urgent.assignee_id, urgent.prison_id) == ("practitioner", None, "MDI")
        r = await api.client.get("/tasks?kind=safeguarding_check", headers=api.keys.practitioner.headers)
        assert r.json()["content"][0]["assignee"] == {"type": "practitioner", "id": None}

    async def test_rep_on_own_case_gets_a_receipt_without_the_detail(self, api: Api, db: Database) -> None:
        case = await api.refer()
        rep = await api.rep()
        assert (await api.assign(case["id"], [rep["id"]])).status_code == 200
        key = await api.keys.rep(uuid.UUID(rep["id"]))
        r = await raise_on(api, case, key=key)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["view"] == "narrow"
        assert set(body) == {"view", "id", "caseId", "category", "status", "raisedAt", "acknowledgedAt"}
        r = await api.client.get(f"/safeguarding-concerns/{body['id']}", headers=key.headers)
        assert r.status_code == 200 and "detail" not in r.json()

    async def test_rep_may_name_themself(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep(number="R1111RR")
        await api.assign(case["id"], [rep["id"]])
        r = await raise_on(api, case, prisonerNumber="R1111RR")
        assert r.status_code == 201, r.text

    async def test_rep_on_a_case_not_theirs_is_not_found(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep()
        r = await raise_on(api, case, key=await api.keys.rep(uuid.UUID(rep["id"])))
        assert r.status_code == 404

    async def test_rep_without_a_case_is_refused(self, api: Api) -> None:
        rep = await api.rep()
        r = await api.client.post(
            "/safeguarding-concerns",
            json={"prisonerNumber": "C3456DE", "category": "other", "detail": "Worried about him."},
            headers=(await api.keys.rep(uuid.UUID(rep["id"]))).headers,
        )
        assert r.status_code == 403

    async def test_prisoner_not_on_the_case_is_refused(self, api: Api, db: Database) -> None:
        case = await api.refer()
        r = await raise_on(api, case, prisonerNumber="Z9999ZZ")
        assert r.status_code == 422
        assert await count(db, SafeguardingConcern) == 0

    async def test_auditor_and_referrer_may_not_raise(self, api: Api) -> None:
        case = await api.refer()
        for key in (api.keys.auditor, api.keys.referrer):
            assert (await raise_on(api, case, key=key)).status_code == 403

    async def test_unknown_category_is_refused(self, api: Api) -> None:
        case = await api.refer()
        assert (await raise_on(api, case, category="gossip")).status_code == 422


class TestAcknowledge:
    async def test_records_who_and_reference_and_closes_the_urgent_task(self, api: Api, db: Database) -> None:
        case = await api.refer()
        concern = (await raise_on(api, case)).json()
        r = await api.client.post(
            f"/safeguarding-concerns/{concern['id']}/acknowledge",
            json={"acknowledgedBy": "SO Patel, safer custody", "externalReference": "ACCT-4471"},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["acknowledgedBy"], body["externalReference"]) == (
            "acknowledged",
            "SO Patel, safer custody",
            "ACCT-4471",
        )
        row = (await rows(db, SafeguardingConcern))[0]
        urgent = (await rows(db, Task, col(Task.id) == row.task_id))[0]
        assert urgent.status == "done"
        check = (await rows(db, Task, col(Task.id) == row.check_task_id))[0]
        assert check.status == "open"  # the person is still seen within four hours
        records = await rows(db, AuditRecord, col(AuditRecord.action) == "concern.acknowledged")
        assert records[0].after == {
            "status": "acknowledged",
            "acknowledgedBy": "SO Patel, safer custody",
            "externalReference": "ACCT-4471",
        }
        timeline = (
            await api.client.get(f"/cases/{case['id']}/timeline", headers=api.keys.practitioner.headers)
        ).json()
        assert (
            timeline[-1]["text"]
            == "Safeguarding concern acknowledged by SO Patel, safer custody (reference ACCT-4471)."
        )

    async def test_twice_is_a_conflict(self, api: Api) -> None:
        case = await api.refer()
        concern = (await raise_on(api, case)).json()
        url = f"/safeguarding-concerns/{concern['id']}/acknowledge"
        body = {"acknowledgedBy": "SO Patel"}
        assert (
            await api.client.post(url, json=body, headers=api.keys.practitioner.headers)
        ).status_code == 200
        r = await api.client.post(url, json=body, headers=api.keys.practitioner.headers)
        assert r.status_code == 409 and r.json()["errorCode"] == "INVALID_STATE"

    async def test_rep_may_not_acknowledge(self, api: Api) -> None:
        case = await api.refer()
        rep = await api.rep()
        await api.assign(case["id"], [rep["id"]])
        concern = (await raise_on(api, case)).json()
        r = await api.client.post(
            f"/safeguarding-concerns/{concern['id']}/acknowledge",
            json={"acknowledgedBy": "me"},
            headers=(await api.keys.rep(uuid.UUID(rep["id"]))).headers,
        )
        assert r.status_code == 403

    async def test_other_prison_cannot_see_it(self, api: Api) -> None:
        case = await api.refer()
        concern = (await raise_on(api, case)).json()
        r = await api.client.post(
            f"/safeguarding-concerns/{concern['id']}/acknowledge",
            json={"acknowledgedBy": "SO Patel"},
            headers=api.keys.practitioner_lei.headers,
        )
        assert r.status_code == 404

    async def test_open_concern_blocks_close_until_acknowledged(self, api: Api) -> None:
        case = await api.to_state("follow_up")
        concern = (await raise_on(api, case)).json()
        r = await api.fire(case["id"], "close")
        assert r.status_code == 409
        assert "no_open_safeguarding_concern" in [g["name"] for g in r.json()["unmetGuards"]]
        await api.client.post(
            f"/safeguarding-concerns/{concern['id']}/acknowledge",
            json={"acknowledgedBy": "SO Patel"},
            headers=api.keys.practitioner.headers,
        )
        r = await api.fire(case["id"], "close")
        assert "no_open_safeguarding_concern" not in [g["name"] for g in r.json()["unmetGuards"]]


class TestOverdue:
    async def test_unacknowledged_concern_raises_one_overdue_event_after_the_window(
        self, api: Api, db: Database
    ) -> None:
        clock.freeze(T0)
        case = await api.refer()
        concern = (await raise_on(api, case)).json()
        clock.advance(timedelta(minutes=59))
        assert (await run_once(db))["concernsOverdue"] == 0
        clock.advance(timedelta(minutes=1))
        assert (await run_once(db))["concernsOverdue"] == 1
        assert (await run_once(db))["concernsOverdue"] == 0
        events = await rows(db, OutboxEvent, col(OutboxEvent.event_type) == SAFEGUARDING_OVERDUE)
        assert len(events) == 1
        jsonschema.validate(events[0].payload, SCHEMA)
        info = events[0].payload["additionalInformation"]
        assert (info["concernId"], info["reference"], info["acknowledgeWithinMinutes"]) == (
            concern["id"],
            case["reference"],
            60,
        )
        r = await api.client.get(
            f"/safeguarding-concerns/{concern['id']}", headers=api.keys.practitioner.headers
        )
        assert r.json()["overdue"] is True
        assert len(await rows(db, AuditRecord, col(AuditRecord.action) == "concern.overdue")) == 1

    async def test_window_is_configurable(
        self, api: Api, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("RJ_CONCERN_ACK_MINUTES", "10")
        get_settings.cache_clear()
        clock.freeze(T0)
        await api.client.post(
            "/safeguarding-concerns",
            json={"prisonerNumber": "C3456DE", "category": "suicide_risk", "detail": "Gave away his things."},
            headers=api.keys.practitioner.headers,
        )
        clock.advance(timedelta(minutes=9))
        assert (await run_once(db))["concernsOverdue"] == 0
        clock.advance(timedelta(minutes=1))
        assert (await run_once(db))["concernsOverdue"] == 1

    async def test_acknowledged_in_time_raises_nothing(self, api: Api, db: Database) -> None:
        clock.freeze(T0)
        case = await api.refer()
        concern = (await raise_on(api, case)).json()
        clock.advance(timedelta(minutes=30))
        await api.client.post(
            f"/safeguarding-concerns/{concern['id']}/acknowledge",
            json={"acknowledgedBy": "SO Patel"},
            headers=api.keys.practitioner.headers,
        )
        clock.advance(timedelta(hours=5))
        assert (await run_once(db))["concernsOverdue"] == 0
        assert await count(db, OutboxEvent, col(OutboxEvent.event_type) == SAFEGUARDING_OVERDUE) == 0


class TestListConcerns:
    async def test_open_first_and_only_the_callers_prisons(self, api: Api) -> None:
        clock.freeze(T0)
        mdi = await api.refer()
        first = (await raise_on(api, mdi)).json()
        clock.advance(timedelta(minutes=5))
        second = (await raise_on(api, mdi, category="bullying")).json()
        await api.client.post(
            f"/safeguarding-concerns/{first['id']}/acknowledge",
            json={"acknowledgedBy": "SO Patel"},
            headers=api.keys.practitioner.headers,
        )
        lei = await api.refer(prison="LEI", key=api.keys.practitioner_lei)
        await raise_on(api, lei, key=api.keys.practitioner_lei)
        r = await api.client.get("/safeguarding-concerns", headers=api.keys.practitioner.headers)
        assert [c["id"] for c in r.json()["content"]] == [second["id"], first["id"]]
        r = await api.client.get("/safeguarding-concerns?status=open", headers=api.keys.manager.headers)
        assert [c["id"] for c in r.json()["content"]] == [second["id"]]
        assert r.json()["content"][0]["view"] == "full"
        r = await api.client.get("/safeguarding-concerns?status=open", headers=api.keys.admin.headers)
        assert r.json()["totalElements"] == 2

    async def test_reps_and_auditors_may_not_list(self, api: Api) -> None:
        rep = await api.rep()
        for key in (api.keys.auditor, await api.keys.rep(uuid.UUID(rep["id"]))):
            r = await api.client.get("/safeguarding-concerns", headers=key.headers)
            assert r.status_code == 403


class TestOpenConcernsSortFirst:
    async def test_case_with_an_open_concern_leads_the_case_list(self, api: Api) -> None:
        clock.freeze(T0)
        older = await api.refer()
        clock.advance(timedelta(hours=1))
        newer = await api.refer()
        r = await api.client.get("/cases", headers=api.keys.practitioner.headers)
        assert [c["id"] for c in r.json()["content"]] == [newer["id"], older["id"]]
        await raise_on(api, older)
        r = await api.client.get("/cases", headers=api.keys.practitioner.headers)
        assert [c["id"] for c in r.json()["content"]] == [older["id"], newer["id"]]

    async def test_safeguarding_tasks_lead_the_task_list(self, api: Api) -> None:
        clock.freeze(T0)
        case = await api.refer()
        await api.must_fire(case["id"], "accept")  # assessment visits, due in two days
        clock.advance(timedelta(hours=1))
        await raise_on(api, case)
        r = await api.client.get("/tasks?status=open", headers=api.keys.practitioner.headers)
        kinds = [t["kind"] for t in r.json()["content"]]
        assert kinds[0] == "safeguarding_check"
        assert kinds[1:] == ["wellbeing_check", "assessment_visit", "assessment_visit"]


class TestDutyPractitioner:
    async def test_manager_sets_and_clears_it(self, api: Api) -> None:
        url = "/prisons/MDI/duty-practitioner"
        duty = str(api.keys.practitioner.client_id)
        r = await api.client.put(url, json={"practitionerId": duty}, headers=api.keys.manager.headers)
        assert r.status_code == 200 and r.json()["practitionerId"] == duty
        r = await api.client.get(url, headers=api.keys.practitioner.headers)
        assert r.json()["practitionerId"] == duty
        r = await api.client.put(url, json={"practitionerId": None}, headers=api.keys.admin.headers)
        assert r.json()["practitionerId"] is None

    async def test_practitioner_may_not_set_it(self, api: Api) -> None:
        r = await api.client.put(
            "/prisons/MDI/duty-practitioner",
            json={"practitionerId": str(api.keys.practitioner.client_id)},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 403

    async def test_someone_not_practising_in_the_prison_is_refused(self, api: Api) -> None:
        for who in (api.keys.practitioner_lei.client_id, api.keys.manager.client_id, uuid.uuid4()):
            r = await api.client.put(
                "/prisons/MDI/duty-practitioner",
                json={"practitionerId": str(who)},
                headers=api.keys.manager.headers,
            )
            assert r.status_code == 422, who

    async def test_prison_outside_the_caseload_is_refused(self, api: Api) -> None:
        r = await api.client.put(
            "/prisons/LEI/duty-practitioner",
            json={"practitionerId": str(api.keys.practitioner_lei.client_id)},
            headers=api.keys.manager.headers,
        )
        assert r.status_code == 403


async def _principal(db: Database, api: Api) -> Any:
    from app.auth.service import authenticate

    async with db.transaction() as session:
        return await authenticate(session, api.keys.practitioner.token)


async def _count_in(session: Any, model: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
