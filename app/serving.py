"""Running the API: one uvicorn process, or several workers that each listen on the port.

With several workers, uvicorn's own supervisor shares one listening socket between them, and
the kernel hands each new connection to whichever worker happens to be awake: under a burst of
connections one worker takes most of them and the others idle (32 keep-alive benchmark clients
were all seen on one of two workers). Here each worker binds a socket of its own with
SO_REUSEPORT, so the kernel spreads connections evenly across the workers, and a supervising
parent restarts a worker that dies and stops them all on SIGTERM or SIGINT.
"""

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

APP = "app.main:app"
BACKLOG = 2048
# uvicorn's exit code when the application did not start (e.g. the database is not migrated).
STARTUP_FAILURE = 3
log = logging.getLogger("rj_casework.serving")


def _config(app: str, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        backlog=BACKLOG,
    )


def serve(*, host: str, port: int, workers: int, log_level: str, app: str = APP) -> int:
    """Serve `app` (the service, unless told otherwise) until stopped; exit code 0 on a clean
    stop, 1 when the port cannot be had."""
    if workers <= 1:
        server = uvicorn.Server(_config(app, host, port, log_level))
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    try:
        # Held, bound but not listening, for the parent's lifetime: the port is checked before
        # any worker starts, and nobody outside this group can take it meanwhile.
        reserved = reuse_port_socket(host, port, listen=False)
    except OSError as exc:
        print(f"rj-casework: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        return _supervise(app, host, port, workers, log_level)
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


def _worker(app: str, host: str, port: int, log_level: str) -> None:
    """One worker process: its own listening socket, one uvicorn server on it."""
    _die_with_parent()
    sock = reuse_port_socket(host, port)
    server = uvicorn.Server(_config(app, host, port, log_level))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the supervisor dies, so no worker outlives a killed parent."""
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


def _supervise(app: str, host: str, port: int, workers: int, log_level: str) -> int:
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(app, host, port, log_level), daemon=False)
        process.start()
        return process

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    procs = [start() for _ in range(workers)]
    print(
        f"rj-casework: serving on http://{host}:{port} with {workers} workers "
        f"(pids {', '.join(str(p.pid) for p in procs)})",
        file=sys.stderr,
        flush=True,
    )
    failures: list[float] = []
    try:
        while not stopping:
            time.sleep(0.2)
            for n, process in enumerate(procs):
                if process.is_alive() or stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    print("rj-casework: a worker could not start the application; stopping", file=sys.stderr)
                    return 1
                now = time.monotonic()
                failures = [t for t in failures if now - t < 30] + [now]
                if len(failures) > 3 * workers:
                    print(
                        f"rj-casework: workers keep exiting (last exit code {process.exitcode}); stopping",
                        file=sys.stderr,
                    )
                    return 1
                log.warning("worker %s exited with %s; starting another", process.pid, process.exitcode)
                procs[n] = start()
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
        for sig, handler in previous.items():
            signal.signal(sig, handler)
