"""GET /tasks: a page of tasks with each one's case reference and whom to see, in one query."""

import uuid

import httpx
from sqlalchemy import event

from app.db import Database
from tests.support import Api


class TestListTasks:
    async def test_a_rep_sees_their_tasks_with_case_and_party(
        self, api: Api, client: httpx.AsyncClient, db: Database
    ) -> None:
        rep = await api.rep()
        case = await api.refer()
        assert (await api.assign(case["id"], [rep["id"]])).status_code == 200
        await api.must_fire(case["id"], "accept")
        key = await api.keys.rep(uuid.UUID(rep["id"]))
        seen: list[str] = []

        def listen(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(db.engine.sync_engine, "before_cursor_execute", listen)
        try:
            r = await client.get(f"/tasks?assigneeId={rep['id']}&status=open", headers=key.headers)
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", listen)

        assert r.status_code == 200
        body = r.json()
        assert body["totalElements"] == 2
        assert {t["caseReference"] for t in body["content"]} == {case["reference"]}
        assert {t["party"]["name"] for t in body["content"]} == {"Dean Walsh", "Marcus Okoye"}
        assert all(t["assignee"] == {"type": "rep", "id": rep["id"]} for t in body["content"])
        assert len([s for s in seen if "FROM task" in s]) == 2  # the count and the page, nothing per task
