"""Subject access: every record of one prisoner, and nothing of anyone else's."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import col

from app import clock
from app.db import Database
from app.models.cases import Consent, Party
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task
from tests.support import Api, make_key

A = "A1234BC"  # Dean Walsh: the subject
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
OTHERS = ("B2345CD", "Marcus", "Okoye", "C3456DE", "Parry", "E5678FG", "Moss", "Okoye is being bullied")


async def concern(api: Api, prn: str, case_id: str, detail: str) -> str:
    r = await api.client.post(
        "/safeguarding-concerns",
        json={"prisonerNumber": prn, "caseId": case_id, "category": "bullying", "detail": detail},
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def world(api: Api) -> dict[str, Any]:
    """A is a party to two cases (one shared with B) and a rep on a third; B has a case of his own."""
    clock.freeze(T0)
    shared = await api.refer()  # A harmed, B (Marcus Okoye) harmer
    await api.consent_all(shared["id"], ("indirect",))
    await api.must_fire(shared["id"], "accept")
    own = await api.refer(parties=[(A, "Dean", "Walsh", "both"), ("C3456DE", "Liam", "Parry", "both")])
    bs = await api.refer(
        parties=[("B2345CD", "Marcus", "Okoye", "harmed"), ("D4567EF", "Tyrone", "Baptiste", "harmer")]
    )
    b_concern = await concern(api, "B2345CD", bs["id"], "Okoye is being bullied")
    rep = await api.rep(number=A, firstName="Dean", lastName="Walsh")
    rep_case = await api.refer(
        parties=[("E5678FG", "Stephen", "Moss", "harmed"), ("F6789GH", "Kyle", "Bennett", "harmer")]
    )
    assert (await api.assign(rep_case["id"], [rep["id"]])).status_code == 200
    await api.must_fire(rep_case["id"], "accept")  # assessment visits, handed to the rep
    clock.advance(timedelta(days=10))
    a_concern = await concern(api, A, shared["id"], "Walsh seems low since the fight")
    return {
        "shared": shared,
        "own": own,
        "b_case": bs,
        "rep_case": rep_case,
        "rep": rep,
        "a_concern": a_concern,
        "b_concern": b_concern,
    }


async def sar(api: Api, query: str) -> Any:
    return await api.client.get(f"/subject-access-request?{query}", headers=api.keys.admin.headers)


class TestSubjectAccess:
    async def test_finds_every_record_of_the_prisoner_and_none_of_anothers(
        self, api: Api, db: Database
    ) -> None:
        w = await world(api)
        r = await sar(api, f"prn={A}")
        assert r.status_code == 200, r.text
        doc = r.json()["content"]
        assert doc["prisonerNumber"] == A
        async with db.transaction() as session:
            parties = list(
                (await session.execute(select(Party).where(col(Party.prisoner_number) == A))).scalars()
            )
            party_ids = [p.id for p in parties]
            consents = list(
                (await session.execute(select(Consent).where(col(Consent.party_id).in_(party_ids)))).scalars()
            )
            concern_row = await session.get(SafeguardingConcern, uuid.UUID(w["a_concern"]))
            assert concern_row is not None
            tasks = list(
                (
                    await session.execute(
                        select(Task).where(
                            or_(
                                col(Task.party_id).in_(party_ids),
                                col(Task.assignee_id) == uuid.UUID(w["rep"]["id"]),
                                col(Task.id).in_([concern_row.task_id, concern_row.check_task_id]),
                            )
                        )
                    )
                ).scalars()
            )
        assert {c["caseId"] for c in doc["cases"]} == {w["shared"]["id"], w["own"]["id"]}
        assert {c["party"]["id"] for c in doc["cases"]} == {str(i) for i in party_ids}
        assert all(
            (c["party"]["firstName"], c["party"]["lastName"]) == ("Dean", "Walsh") for c in doc["cases"]
        )
        assert sum(len(c["consents"]) for c in doc["cases"]) == len(consents) == 1
        shared = next(c for c in doc["cases"] if c["caseId"] == w["shared"]["id"])
        assert shared["otherParties"] == [{"role": "harmer"}]
        assert [c["id"] for c in doc["safeguardingConcerns"]] == [w["a_concern"]]
        assert doc["safeguardingConcerns"][0]["detail"] == "Walsh seems low since the fight"
        assert [r["id"] for r in doc["repRecords"]] == [w["rep"]["id"]]
        assert [a["caseId"] for a in doc["repAssignments"]] == [w["rep_case"]["id"]]
        assert {t["id"] for t in doc["tasks"]} == {str(t.id) for t in tasks}
        assert len(tasks) == 5  # an assessment visit, two for the rep, the concern's two
        rep_tasks = [t for t in doc["tasks"] if t["caseId"] == w["rep_case"]["id"]]
        assert len(rep_tasks) == 2 and all("instructions" not in t for t in rep_tasks)
        actions = [a["action"] for a in doc["auditRecords"]]
        for expected in (
            "case.referred",
            "consent.recorded",
            "concern.raised",
            "rep.registered",
            "assignment.changed",
        ):
            assert expected in actions, expected
        referred = [a for a in doc["auditRecords"] if a["action"] == "case.referred"]
        assert {"thirdParty": True, "role": "harmer"} in referred[0]["after"]["parties"]
        text = json.dumps(doc)
        for other in OTHERS:
            assert other not in text, other
        for foreign_id in (w["b_case"]["id"], w["b_concern"]):
            assert foreign_id not in text

    async def test_date_range_limits_what_is_returned(self, api: Api) -> None:
        w = await world(api)
        r = await sar(api, f"prn={A}&fromDate=2026-05-01&toDate=2026-06-05")
        doc = r.json()["content"]
        assert doc["safeguardingConcerns"] == []  # raised on 11 June
        assert {c["caseId"] for c in doc["cases"]} == {w["shared"]["id"], w["own"]["id"]}
        r = await sar(api, f"prn={A}&fromDate=2026-06-10&toDate=2026-06-30")
        doc = r.json()["content"]
        assert [c["id"] for c in doc["safeguardingConcerns"]] == [w["a_concern"]]

    async def test_nobody_known_is_no_content(self, api: Api) -> None:
        await api.refer()
        r = await sar(api, "prn=Z9999ZZ")
        assert r.status_code == 204 and r.content == b""

    async def test_case_reference_number_alone_is_209(self, api: Api) -> None:
        r = await sar(api, "crn=X123456")
        assert r.status_code == 209

    async def test_without_an_identifier_is_refused(self, api: Api) -> None:
        assert (await sar(api, "")).status_code == 422
        assert (await sar(api, "prn=not-a-number")).status_code == 422

    async def test_only_admins_may_ask(self, api: Api) -> None:
        for key in (api.keys.practitioner, api.keys.manager, api.keys.auditor, api.keys.referrer):
            r = await api.client.get(f"/subject-access-request?prn={A}", headers=key.headers)
            assert r.status_code == 403


async def lei_world(api: Api) -> dict[str, Any]:
    """A has a case at LEI (with risk notes, a consent, a concern and tasks) and is a rep at LEI;
    at MDI, A has one case of his own."""
    lei = api.keys.practitioner_lei
    clock.freeze(T0)
    case = await api.refer(key=lei, prison="LEI")  # A harmed, B harmer
    r = await api.client.patch(
        f"/cases/{case['id']}",
        json={"riskLevel": "high", "riskNotes": "Threatened staff at LEI"},
        headers={**lei.headers, "If-Match": f'"{case["version"]}"'},
    )
    assert r.status_code == 200, r.text
    r = await api.client.post(
        f"/cases/{case['id']}/parties/{case['parties'][0]['id']}/consents",
        json={"scope": "indirect", "given": True, "recordedBy": "Rep Lewis", "method": "in_person"},
        headers=lei.headers,
    )
    assert r.status_code == 201, r.text
    r = await api.client.post(
        "/safeguarding-concerns",
        json={"prisonerNumber": A, "caseId": case["id"], "category": "bullying", "detail": "Low at LEI"},
        headers=lei.headers,
    )
    assert r.status_code == 201, r.text
    rep = await api.rep(prison="LEI", number=A, firstName="Dean", lastName="Walsh")
    mdi = await api.refer(parties=[(A, "Dean", "Walsh", "both"), ("C3456DE", "Liam", "Parry", "both")])
    return {"lei_case": case, "lei_concern": r.json()["id"], "lei_rep": rep, "mdi_case": mdi}


class TestSubjectAccessCaseload:
    async def test_a_prisoner_held_only_outside_the_callers_caseload_is_no_content(
        self, api: Api, db: Database
    ) -> None:
        lei = api.keys.practitioner_lei
        case = await api.refer(key=lei, prison="LEI")
        await api.rep(prison="LEI", number="C3456DE")
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        for prn in (A, "C3456DE"):
            r = await api.client.get(f"/subject-access-request?prn={prn}", headers=mdi_admin.headers)
            assert r.status_code == 204, r.text
            assert r.content == b""
        # The same answer as for a prisoner the service has never heard of.
        unknown = await api.client.get("/subject-access-request?prn=Z9999ZZ", headers=mdi_admin.headers)
        assert unknown.status_code == 204 and unknown.content == b""
        assert case["prisonId"] == "LEI"

    async def test_a_caseload_admin_gets_only_the_records_of_its_prisons(
        self, api: Api, db: Database
    ) -> None:
        w = await lei_world(api)
        mdi_admin = await make_key(db, role="admin", prisons=["MDI"])
        r = await api.client.get(f"/subject-access-request?prn={A}", headers=mdi_admin.headers)
        assert r.status_code == 200, r.text
        doc = r.json()["content"]
        assert [c["caseId"] for c in doc["cases"]] == [w["mdi_case"]["id"]]
        assert doc["repRecords"] == []
        assert doc["safeguardingConcerns"] == []
        assert {t["caseId"] for t in doc["tasks"]} <= {w["mdi_case"]["id"]}
        assert {a["caseId"] for a in doc["auditRecords"]} == {w["mdi_case"]["id"]}
        text = json.dumps(doc)
        for hidden in (
            w["lei_case"]["id"],
            w["lei_case"]["reference"],
            w["lei_concern"],
            w["lei_rep"]["id"],
            "Threatened staff at LEI",
            "Low at LEI",
            "LEI",
        ):
            assert hidden not in text, hidden

    async def test_a_national_admin_gets_every_prisons_records(self, api: Api) -> None:
        w = await lei_world(api)
        r = await sar(api, f"prn={A}")
        assert r.status_code == 200, r.text
        doc = r.json()["content"]
        assert {c["caseId"] for c in doc["cases"]} == {w["lei_case"]["id"], w["mdi_case"]["id"]}
        lei_case = next(c for c in doc["cases"] if c["caseId"] == w["lei_case"]["id"])
        assert lei_case["riskNotes"] == "Threatened staff at LEI"
        assert len(lei_case["consents"]) == 1
        assert [c["id"] for c in doc["safeguardingConcerns"]] == [w["lei_concern"]]
        assert [rep["id"] for rep in doc["repRecords"]] == [w["lei_rep"]["id"]]
