"""CPU time per request of the service itself, without HTTP or a client: requests go straight
to the ASGI application in this process, one at a time, and `time.process_time()` is read around
them. For comparing changes to a hot path in one sitting (the machine's speed drifts between
sittings); `--profile` writes a cProfile file to read with `python -m pstats`.

    .venv/bin/python -m bench.cpu --database rj_national --keys national-keys.json transitions

`transitions` resumes cases on hold (and pauses them again afterwards, untimed); `bare` does
the same with the bare reference (`bench/bare.py`) in place of the service; the other endpoints
are those of `bench/run`. Needs a database loaded by `rj-casework demo --scale national`.
"""

import argparse
import asyncio
import cProfile
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ENDPOINTS = ("transitions", "bare", "case_read", "case_list", "rep_tasks", "referrals")


async def call(app: Any, method: str, target: str, key: str, body: Any = None) -> tuple[int, bytes]:
    """One request through the ASGI application; its status and body."""
    raw = json.dumps(body).encode() if body is not None else b""
    headers = [(b"host", b"bench"), (b"authorization", b"Bearer " + key.encode())]
    if body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "state": {},
    }
    sent = False
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def requests_for(
    endpoint: str, dsn: str, keys: dict[str, Any], n: int
) -> tuple[list[Callable[[Any], Awaitable[tuple[int, bytes]]]], list[Callable[[Any], Awaitable[Any]]]]:
    """The timed requests and the untimed ones that undo them."""
    conn = await asyncpg.connect(dsn)
    try:
        states = ["on_hold"] if endpoint in ("transitions", "bare") else ["assessment", "on_hold", "referred"]
        cases = await conn.fetch(
            "SELECT id, prison_id FROM rj_case WHERE state = ANY($1::text[]) ORDER BY random() LIMIT $2",
            states,
            n,
        )
    finally:
        await conn.close()
    if len(cases) < n:
        raise SystemExit(f"only {len(cases)} cases to use, {n} asked for")
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    practitioner = keys["practitioners"]
    reps = sorted(keys["reps"])
    timed: list[Callable[[Any], Awaitable[tuple[int, bytes]]]] = []
    undo: list[Callable[[Any], Awaitable[Any]]] = []
    for i, case in enumerate(cases):
        # The bare reference serves its routes under /bare.
        prefix = "/bare" if endpoint in ("bare", "bare_read") else ""
        key, target = practitioner[case["prison_id"]], f"{prefix}/cases/{case['id']}"
        if endpoint in ("transitions", "bare"):
            timed.append(
                lambda app, k=key, t=target: call(app, "POST", t + "/transitions", k, {"trigger": "resume"})
            )
            pause = {"trigger": "pause", "until": until, "reason": "bench"}
            undo.append(lambda app, k=key, t=target, b=pause: call(app, "POST", t + "/transitions", k, b))
        elif endpoint in ("case_read", "bare_read"):
            timed.append(lambda app, k=key, t=target: call(app, "GET", t, k))
        elif endpoint == "case_list":
            query = f"/cases?state=assessment&prisonId={case['prison_id']}"
            timed.append(lambda app, k=key, t=query: call(app, "GET", t, k))
        elif endpoint == "rep_tasks":
            rep = reps[i % len(reps)]
            timed.append(lambda app, r=rep: call(app, "GET", f"/reps/{r}/tasks", keys["reps"][r]))
        else:
            body = {
                "prisonId": case["prison_id"],
                "source": {"system": "BENCH-CPU", "reference": f"{time.time_ns()}-{i}"},
                "incident": {
                    "occurredAt": "2026-11-20T10:00:00+00:00",
                    "category": "fight",
                    "description": "A fight.",
                },
                "parties": [
                    {"prisonerNumber": "B1234CD", "firstName": "Dean", "lastName": "Walsh", "role": "harmed"},
                    {
                        "prisonerNumber": "C1234DE",
                        "firstName": "Marcus",
                        "lastName": "Okoye",
                        "role": "harmer",
                    },
                ],
                "referredBy": "Wing officer",
            }
            timed.append(lambda app, b=body: call(app, "POST", "/referrals", keys["referrer"], b))
    return timed, undo


async def main() -> None:
    parser = argparse.ArgumentParser(description="CPU time per request, in process")
    parser.add_argument("endpoint", choices=ENDPOINTS)
    parser.add_argument("--database", default="rj_national")
    parser.add_argument("--host", default="postgres@127.0.0.1:5432")
    parser.add_argument("--keys", default="national-keys.json")
    parser.add_argument("-n", type=int, default=1000, help="timed requests")
    parser.add_argument("--profile", help="write a cProfile file here")
    args = parser.parse_args()
    os.environ["RJ_DATABASE_URL"] = f"postgresql+asyncpg://{args.host}/{args.database}"
    os.environ.setdefault("RJ_LOG_LEVEL", "warning")
    from app.api.app import create_app
    from app.config import get_settings
    from bench.bare import app as bare_app

    keys = json.loads(Path(args.keys).read_text())
    reads = "bare_read" if args.endpoint == "bare" else "case_read"
    warm, _ = await requests_for(reads, f"postgresql://{args.host}/{args.database}", keys, 50)
    timed, undo = await requests_for(args.endpoint, f"postgresql://{args.host}/{args.database}", keys, args.n)
    app = bare_app if args.endpoint == "bare" else create_app(get_settings())
    async with app.router.lifespan_context(app):
        for request in warm:
            await request(app)
        profiler = cProfile.Profile() if args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for request in timed:
            status, body = await request(app)
            if status >= 300:
                raise SystemExit(f"{status}: {body[:300]!r}")
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        for request in undo:
            await request(app)
    print(
        f"{args.endpoint}: {cpu / args.n * 1000:.3f} ms CPU, {wall / args.n * 1000:.3f} ms wall per request"
    )


if __name__ == "__main__":
    asyncio.run(main())
