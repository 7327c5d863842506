"""How many requests a server process works on at once: the rest wait their turn, in arrival order.

Past a few requests in hand per server process, more concurrency buys nothing on the database side:
the requests' PostgreSQL backends and the server processes share the same cores, and each extra backend on the
run queue lengthens everyone's wait for a core. Requests beyond the limit wait here, before any of
their work is done (no connection, no key lookup, no lock), and go in strictly in the order they
came: a place given up by a finished request is handed straight to the longest waiter, so a new
arrival never overtakes one already waiting. A request that waits longer than the admission wait
is answered 503 with Retry-After, having done nothing. Probes, metrics, the documentation and the
workflow table are never held back; the workflow diagram is, as it may run Graphviz.
"""

import asyncio
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.problems import problem

# Answered whatever the load: probes and metrics must say how the server process is, and these read
# nothing from the database and run nothing: by path prefix, and exact paths.
UNLIMITED = ("/health/", "/info", "/metrics", "/docs", "/openapi.json")
UNLIMITED_PATHS = frozenset({"/workflow"})


class Admission:
    """At most `limit` requests inside the application at once; the others queue, first come
    first in, for at most `wait_seconds`."""

    def __init__(self, app: ASGIApp, *, limit: int, wait_seconds: float) -> None:
        self.app = app
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.free = limit
        # Each waiter's future: set True when it is handed a place, False when it gives up.
        self.waiting: deque[asyncio.Future[bool]] = deque()

    @property
    def in_hand(self) -> int:
        return self.limit - self.free

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS or scope["path"].startswith(UNLIMITED):
            await self.app(scope, receive, send)
            return
        if not await self._enter():
            await busy(self.wait_seconds)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._leave()

    async def _enter(self) -> bool:
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return True
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[bool] = loop.create_future()
        self.waiting.append(turn)
        timer = loop.call_later(self.wait_seconds, self._give_up, turn)
        try:
            return await turn
        except BaseException:
            # Cancelled while waiting: leave the queue, or pass on a place handed over meanwhile.
            if turn.done() and not turn.cancelled() and turn.result():
                self._leave()
            else:
                self._forget(turn)
            raise
        finally:
            timer.cancel()

    def _leave(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(True)
                return
        self.free += 1

    def _give_up(self, turn: asyncio.Future[bool]) -> None:
        if not turn.done():
            self._forget(turn)
            turn.set_result(False)

    def _forget(self, turn: asyncio.Future[bool]) -> None:
        try:
            self.waiting.remove(turn)
        except ValueError:
            pass


def busy(wait_seconds: float) -> ASGIApp:
    return problem(
        503,
        "SERVICE_BUSY",
        "Service busy",
        f"the service had more requests in hand than it works on at once for {wait_seconds:g} s; "
        "nothing was done: try again shortly",
        headers={"Retry-After": "1"},
    )
