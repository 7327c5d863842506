"""Running the API: one uvicorn process, or a supervisor and several server processes that each
listen on the port; and the timed work inside the server, when asked.

With several server processes, uvicorn's own supervisor shares one listening socket between them,
and the kernel hands each new connection to whichever process happens to be awake: under a burst
of connections one process takes most of them and the others idle (32 keep-alive benchmark
clients were all seen on one of two). Here each server process binds a socket of its own with
SO_REUSEPORT, so the kernel spreads connections evenly across them, and a supervising parent
restarts a server process that dies and stops them all on SIGTERM or SIGINT.

The timed work (app/timed_work) runs in the first server process only (the one process, or
process 0 of several and whichever replaces it), so that one runner works however many
processes serve. It starts once the server listens and stops before the server shuts down.
"""

import asyncio
import contextlib
import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import socket
import sys
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from types import FrameType

import uvicorn

APP = "app.main:app"
BACKLOG = 2048
# uvicorn's exit code when the application did not start (e.g. the database is not migrated).
STARTUP_FAILURE = 3
log = logging.getLogger("rj_casework.serving")


def _config(app: str, host: str, port: int, log_level: str) -> uvicorn.Config:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        backlog=BACKLOG,
    )
    if logging.getLevelNamesMapping().get(log_level.upper(), logging.INFO) > logging.DEBUG:
        # uvicorn's notes on starting and stopping ("Uvicorn running on ...") are said in the one
        # line `serve` prints once every server process listens; they stay for debugging.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    return config


def started_line(*, host: str, port: int, docs: bool, processes: int, timed_work: str | None) -> str:
    """What `serve` started, in one line; `timed_work` names the process that runs it (None: none)."""
    api = f"API on http://{host}:{port}" + (" (docs at /docs)" if docs else "")
    work = f"timed work in {timed_work}" if timed_work else "no timed work (run it with rj-casework worker)"
    count = "1 server process" if processes == 1 else f"{processes} server processes"
    return f"Started: {api}, {work}; {count}."


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _Server(uvicorn.Server):
    """A uvicorn server that runs the timed work beside the requests when asked, from the moment
    it listens until it shuts down, and says when it listens."""

    def __init__(self, config: uvicorn.Config, *, timed_work: bool, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._timed_work = timed_work
        self._on_started = on_started
        self._runner: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.started:
            return
        if self._timed_work:
            from app.config import get_settings
            from app.timed_work.runner import run_in_server

            self._runner = asyncio.create_task(run_in_server(get_settings()), name="timed work")
        self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._runner is not None:
            # A pass cut short rolls back its transaction; what it had not done is done next time.
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        await super().shutdown(sockets=sockets)


def serve(
    *,
    host: str,
    port: int,
    processes: int,
    log_level: str,
    timed_work: bool = False,
    docs: bool = False,
    announce: bool = True,
    app: str = APP,
) -> int:
    """Serve `app` (the service, unless told otherwise) until stopped, with the timed work in the
    first server process when `timed_work`; exit code 0 on a clean stop, 1 when the port cannot
    be had. With `announce`, one line says what started once every server process listens."""

    def started() -> None:
        if announce:
            where = "this process" if timed_work else None
            _say(started_line(host=host, port=port, docs=docs, processes=1, timed_work=where))

    if processes <= 1:
        server = _Server(_config(app, host, port, log_level), timed_work=timed_work, on_started=started)
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    try:
        # Held, bound but not listening, for the parent's lifetime: the port is checked before
        # any server process starts, and nobody outside this group can take it meanwhile.
        reserved = reuse_port_socket(host, port, listen=False)
    except OSError as exc:
        print(f"rj-casework: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        return _supervise(
            app, host, port, processes, log_level, timed_work=timed_work, docs=docs, announce=announce
        )
    finally:
        reserved.close()


def reuse_port_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to host:port with SO_REUSEPORT (and listening, unless told not to)."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _server_process(
    app: str, host: str, port: int, log_level: str, timed_work: bool, started: "Queue[int]"
) -> None:
    """One server process: its own listening socket, one uvicorn server on it (and the timed
    work, when it is the one to run it); its pid goes on `started` once it listens."""
    _die_with_parent()
    sock = reuse_port_socket(host, port)
    server = _Server(
        _config(app, host, port, log_level),
        timed_work=timed_work,
        on_started=lambda: started.put(os.getpid()),
    )
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the supervisor dies, so no server process outlives it."""
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(0)


def _drain(started: "Queue[int]") -> set[int]:
    """The pids of server processes that said they listen since the last look."""
    pids = set()
    while True:
        try:
            pids.add(started.get_nowait())
        except queue.Empty:
            return pids


def _supervise(
    app: str,
    host: str,
    port: int,
    processes: int,
    log_level: str,
    *,
    timed_work: bool,
    docs: bool,
    announce: bool,
) -> int:
    context = multiprocessing.get_context("spawn")
    started: Queue[int] = context.Queue()
    stopping = False

    def start(n: int) -> BaseProcess:
        # Process 0, and whichever replaces it, runs the timed work: one runner at any time.
        args = (app, host, port, log_level, timed_work and n == 0, started)
        process = context.Process(target=_server_process, args=args, daemon=False)
        process.start()
        return process

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    procs = [start(n) for n in range(processes)]
    listening: set[int] = set()
    announced = not announce
    failures: list[float] = []
    try:
        while not stopping:
            time.sleep(0.2)
            listening |= _drain(started)
            if not announced and all(p.pid in listening for p in procs):
                where = f"server process {procs[0].pid}" if timed_work else None
                _say(started_line(host=host, port=port, docs=docs, processes=processes, timed_work=where))
                announced = True
            for n, process in enumerate(procs):
                if process.is_alive() or stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    print(
                        "rj-casework: a server process could not start the application; stopping",
                        file=sys.stderr,
                    )
                    return 1
                now = time.monotonic()
                failures = [t for t in failures if now - t < 30] + [now]
                if len(failures) > 3 * processes:
                    print(
                        "rj-casework: server processes keep exiting "
                        f"(last exit code {process.exitcode}); stopping",
                        file=sys.stderr,
                    )
                    return 1
                log.warning(
                    "server process %s exited with %s; starting another", process.pid, process.exitcode
                )
                procs[n] = start(n)
        return 0
    finally:
        for process in procs:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in procs:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        started.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
