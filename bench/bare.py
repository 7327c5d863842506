"""The reference the performance targets are set against: a bare FastAPI + asyncpg endpoint doing
only the SQL of one transition.

`POST /bare/cases/{id}/transitions` with `{"trigger": "pause", "until": ..., "reason": ...}` or
`{"trigger": "resume"}` sends the service's own statements for a move, in the service's order
(BEGIN, the locking read of the case with its children, the move with its audit record and
event, COMMIT) on a pool of asyncpg connections, and answers the case's id, state and version.
No authentication, no scope or workflow checks, no view of the case. Its audit records are
hashed and linked as the service's are, so the data set still verifies after a run.

`bench/run` serves it as the service is served (`app.serving`, one listening socket per
worker) and measures it on cases of its own beside the service, against the same limit L.

    python -m bench.bare --port 8001 --workers 2     (RJ_DATABASE_URL names the database)
"""

import argparse
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Annotated, Any

import asyncpg
from fastapi import FastAPI, Header, HTTPException, Response
from pydantic import BaseModel

from app.audit.chain import content_hash, link_hash
from app.cases.moves import _PG_MOVE, _move_values
from app.cases.repository import _CASE_COLUMNS, _PG_STATEMENTS
from app.cases.service import snapshot
from app.common.jsonable import plain
from app.events.service import CASE_STATE_CHANGED, case_event_values
from app.serving import serve
from app.workflows.case_workflow import BY_TRIGGER

_LOCKED = _PG_STATEMENTS[("id", True)]
_READ = _PG_STATEMENTS[("id", False)]
# The states a case can be paused from (the workflow table's sources of `pause`); the benchmark
# chooses the cases it moves by them too.
PAUSABLE = tuple(sorted(s.value for s in BY_TRIGGER["pause"].sources))
_AT = {name: n for n, name in enumerate(_CASE_COLUMNS)}
_ACTOR = {"clientId": None, "name": "bare", "role": "practitioner", "repId": None}
pool: Any = None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global pool
    url = os.environ["RJ_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(url, min_size=20, max_size=20)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


class Move(BaseModel):
    trigger: str
    until: datetime | None = None
    reason: str | None = None


@app.get("/bare/cases/{case_id}")
async def read(case_id: uuid.UUID) -> dict[str, Any]:
    """The case's state and version, read with its children as the locking read reads them: for
    warming up the pool's connections, as the service's run is warmed up with reads."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_READ, case_id)
    if row is None:
        raise HTTPException(404)
    return {"id": str(case_id), "state": row[_AT["state"]], "version": row[_AT["version"]]}


@app.post("/bare/cases/{case_id}/transitions")
async def transition(
    case_id: uuid.UUID,
    move: Move,
    response: Response,
    x_request_id: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        try:
            row = await conn.fetchrow(_LOCKED, case_id)
            if row is None:
                raise HTTPException(404)
            case = SimpleNamespace(**{name: row[n] for name, n in _AT.items()})
            record, event = _moved(case, move, x_request_id)
            await conn.fetchval(_PG_MOVE, *_move_values(case, record, event))
        except Exception:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
    if x_request_id is not None:
        response.headers["X-Request-ID"] = x_request_id
    return {"id": str(case.id), "state": case.state, "version": case.version}


def _moved(case: Any, move: Move, request_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Move `case` (pause or resume) and make its audit record and event."""
    now = datetime.now(UTC)
    before = plain(snapshot(case))
    if move.trigger == "pause" and case.state in PAUSABLE:
        case.previous_state, case.state = case.state, "on_hold"
        case.paused_until, case.pause_reason = move.until, move.reason
    elif move.trigger == "resume" and case.state == "on_hold" and case.previous_state:
        case.state, case.previous_state = case.previous_state, None
        case.paused_until, case.pause_reason = None, None
    else:
        raise HTTPException(409)
    case.version += 1
    case.updated_at = now
    record: dict[str, Any] = {
        "chain": str(case.id),
        "seq": case.audit_seq + 1,
        "case_id": case.id,
        "occurred_at": now,
        "request_id": request_id,
        "actor": _ACTOR,
        "action": f"case.{move.trigger}",
        "entity_type": "case",
        "entity_id": str(case.id),
        "before": before,
        "after": plain({**snapshot(case), "trigger": move.trigger}),
        "prev_hash": case.audit_head,
    }
    record["content_hash"] = content_hash(record)
    record["hash"] = link_hash(record["chain"], record["seq"], record["prev_hash"], record["content_hash"])
    case.audit_seq, case.audit_head = record["seq"], record["hash"]
    event = case_event_values(
        case,
        event_type=CASE_STATE_CHANGED,
        description=f"Restorative justice case {case.reference} moved to {case.state}",
        prisoner_numbers=[],
        extra={"trigger": move.trigger},
    )
    return record, event


def main() -> None:
    parser = argparse.ArgumentParser(description="The bare reference endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    raise SystemExit(
        serve(
            host=args.host,
            port=args.port,
            processes=args.workers,
            log_level="warning",
            announce=False,
            app="bench.bare:app",
        )
    )


if __name__ == "__main__":
    main()
