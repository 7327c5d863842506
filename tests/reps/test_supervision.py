"""Supervision of reps: sessions recorded with the next one due (84 days at most), overdue shown
on the rep and on their supervision record, a rep reading their own."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app import clock
from tests.support import Api, Key

TODAY = date(2026, 12, 7)


async def supervise(api: Api, rep_id: str, key: Key | None = None, **body: Any) -> Any:
    return await api.client.post(
        f"/reps/{rep_id}/supervisions",
        json={"on": TODAY.isoformat(), "supervisor": "Helen Ashworth", **body},
        headers=(key or api.keys.practitioner).headers,
    )


async def supervisions(api: Api, rep_id: str, key: Key | None = None) -> dict[str, Any]:
    r = await api.client.get(f"/reps/{rep_id}/supervisions", headers=(key or api.keys.practitioner).headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def new_rep(api: Api, **kw: Any) -> dict[str, Any]:
    clock.freeze(datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    return await api.rep(**kw)


class TestRecorded:
    async def test_a_session_sets_the_next_due_84_days_on(self, api: Api) -> None:
        rep = await new_rep(api)
        r = await supervise(api, rep["id"], notes="Coping well; wants to co-facilitate.")
        assert r.status_code == 201, r.text
        assert r.json()["nextDueOn"] == (TODAY + timedelta(days=84)).isoformat()
        body = await supervisions(api, rep["id"])
        assert (body["lastOn"], body["overdue"]) == (TODAY.isoformat(), False)
        assert [s["notes"] for s in body["records"]] == ["Coping well; wants to co-facilitate."]

    async def test_sooner_if_the_supervisor_says(self, api: Api) -> None:
        rep = await new_rep(api)
        r = await supervise(api, rep["id"], nextDueOn=(TODAY + timedelta(days=14)).isoformat())
        assert r.status_code == 201, r.text
        rep_now = (await api.client.get(f"/reps/{rep['id']}", headers=api.keys.practitioner.headers)).json()
        assert rep_now["supervision"]["nextDueOn"] == (TODAY + timedelta(days=14)).isoformat()


class TestOverdue:
    async def test_a_rep_never_supervised_is_overdue_84_days_on(self, api: Api) -> None:
        rep = await new_rep(api)
        assert (await supervisions(api, rep["id"]))["overdue"] is False
        clock.advance(timedelta(days=85))
        body = await supervisions(api, rep["id"])
        assert (body["lastOn"], body["overdue"]) == (None, True)
        listed = (await api.client.get("/reps", headers=api.keys.practitioner.headers)).json()["content"]
        assert [r["supervision"]["overdue"] for r in listed if r["id"] == rep["id"]] == [True]

    async def test_overdue_once_the_next_is_missed(self, api: Api) -> None:
        rep = await new_rep(api)
        await supervise(api, rep["id"], nextDueOn=(TODAY + timedelta(days=7)).isoformat())
        clock.advance(timedelta(days=7))
        assert (await supervisions(api, rep["id"]))["overdue"] is False
        clock.advance(timedelta(days=1))
        assert (await supervisions(api, rep["id"]))["overdue"] is True


class TestRefused:
    async def test_next_due_later_than_84_days_or_not_after_the_session(self, api: Api) -> None:
        rep = await new_rep(api)
        late = await supervise(api, rep["id"], nextDueOn=(TODAY + timedelta(days=85)).isoformat())
        assert late.status_code == 422 and "nextDueOn" in late.json()["detail"]
        same = await supervise(api, rep["id"], nextDueOn=TODAY.isoformat())
        assert same.status_code == 422

    async def test_a_session_in_the_future(self, api: Api) -> None:
        rep = await new_rep(api)
        r = await supervise(api, rep["id"], on=(TODAY + timedelta(days=1)).isoformat())
        assert r.status_code == 422 and "on" in r.json()["detail"]

    async def test_a_rep_of_another_prison(self, api: Api) -> None:
        rep = await new_rep(api, prison="LEI")
        assert (await supervise(api, rep["id"])).status_code == 404

    async def test_a_rep_does_not_record_their_own(self, api: Api) -> None:
        rep = await new_rep(api)
        key = await api.keys.rep(uuid.UUID(rep["id"]))
        assert (await supervise(api, rep["id"], key=key)).status_code == 403


class TestWhoReads:
    async def test_a_rep_reads_their_own(self, api: Api) -> None:
        rep = await new_rep(api)
        await supervise(api, rep["id"])
        body = await supervisions(api, rep["id"], key=await api.keys.rep(uuid.UUID(rep["id"])))
        assert len(body["records"]) == 1

    async def test_not_another_reps(self, api: Api) -> None:
        rep, other = await new_rep(api), await new_rep(api)
        key = await api.keys.rep(uuid.UUID(other["id"]))
        r = await api.client.get(f"/reps/{rep['id']}/supervisions", headers=key.headers)
        assert r.status_code == 404
