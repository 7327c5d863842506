"""`rj-casework serve --workers N`: each server process listens on the port itself (SO_REUSEPORT),
so connections spread over them; a dead one is replaced; SIGTERM stops them all."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.db import Database
from tests.server import CLI, REPO, Server
from tests.support import Keys, referral_body

PROCESSES = 2
CONNECTIONS = 24


def processes_of(server: Server) -> list[int]:
    """The server processes of the supervising `serve` process."""
    assert server.proc is not None
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(server.proc.pid)], capture_output=True, text=True, check=False
    )
    pids = []
    for pid in (int(p) for p in out.stdout.split()):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in cmd and state != "Z":
            pids.append(pid)
    return sorted(pids)


def wait_for_processes(
    server: Server, n: int, *, without: int | None = None, timeout: float = 30
) -> list[int]:
    """The pids once `n` server processes (none of them `without`) run and the service answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = processes_of(server)
        if len(pids) == n and without not in pids:
            try:
                if httpx.get(f"{server.url}/health/ping", timeout=1).status_code == 200:
                    return pids
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise AssertionError(f"expected {n} server processes, have {processes_of(server)}")


def established_on(pid: int, port: int) -> int:
    """How many established TCP connections to `port` the process holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    with Server(database_url, log=tmp_path / "server.log", env={"RJ_WORKERS": str(PROCESSES)}) as s:
        wait_for_processes(s, PROCESSES)
        yield s


class TestServerProcesses:
    def test_connections_spread_over_every_server_process(self, server: Server) -> None:
        clients = [httpx.Client(base_url=server.url, timeout=10) for _ in range(CONNECTIONS)]
        try:
            for c in clients:
                assert c.get("/health/ping").status_code == 200
            held = {pid: established_on(pid, server.port) for pid in processes_of(server)}
        finally:
            for c in clients:
                c.close()
        assert sum(held.values()) == CONNECTIONS
        # Spread by the kernel's hash of each connection: all 24 on one process is a 1-in-8-million
        # event; with one shared socket they bunch on whichever process accepts first.
        assert all(n > 0 for n in held.values()), held

    def test_a_killed_server_process_is_replaced(self, server: Server) -> None:
        before = processes_of(server)
        os.kill(before[0], signal.SIGKILL)
        after = wait_for_processes(server, PROCESSES, without=before[0])
        assert before[0] not in after
        assert before[1] in after
        assert httpx.get(f"{server.url}/health/ping").status_code == 200

    def test_sigterm_stops_every_server_process(self, server: Server) -> None:
        pids = processes_of(server)
        assert server.proc is not None
        server.proc.terminate()
        assert server.proc.wait(timeout=30) == 0
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or b"zombie" in Path(f"/proc/{pid}/status").read_bytes()

    def test_a_killed_supervisor_takes_its_server_processes_with_it(self, server: Server) -> None:
        pids = processes_of(server)
        server.kill()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
            time.sleep(0.1)
        assert not any(Path(f"/proc/{p}").exists() for p in pids)


def process_serving(server: Server, response: httpx.Response) -> int:
    """The server process holding the connection `response` came on (from /proc)."""
    client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == server.port and remote_port == client_port:
                inodes.add(fields[9])
    for pid in processes_of(server):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    raise AssertionError(f"no server process holds the connection from port {client_port}")


CACHE_SECONDS = 60


class TestRevocationAcrossServerProcesses:
    """Every server process remembers keys for a minute; a key revoked from the command line (a third
    process) is refused at once by both. On PostgreSQL a case is read on the direct path."""

    @pytest.fixture
    def cached_server(self, db: Database, tmp_path: Path) -> Iterator[Server]:
        env = {"RJ_WORKERS": str(PROCESSES), "RJ_AUTH_CACHE_SECONDS": str(CACHE_SECONDS)}
        with Server(db.settings.database_url, log=tmp_path / "server.log", env=env) as s:
            wait_for_processes(s, PROCESSES)
            yield s

    def test_a_revoked_key_is_refused_at_once_by_every_server_process(
        self, cached_server: Server, keys: Keys, database_url: str
    ) -> None:
        # One key read on the routes, one on the direct path (a case, on PostgreSQL): neither
        # path can have forgotten the other's key first.
        clients = [httpx.Client(base_url=cached_server.url, timeout=10) for _ in range(CONNECTIONS)]
        try:
            r = clients[0].post("/referrals", json=referral_body(), headers=keys.practitioner.headers)
            assert r.status_code == 201, r.text
            reads = [(keys.manager, "/reps"), (keys.practitioner, f"/cases/{r.json()['id']}")]
            remembered_at = time.monotonic()
            primed = set()
            for c in clients:
                for key, path in reads:
                    r = c.get(path, headers=key.headers)
                    assert r.status_code == 200, r.text
                    primed.add(process_serving(cached_server, r))
            assert primed == set(processes_of(cached_server))

            for key, _path in reads:
                revoke = subprocess.run(
                    [str(CLI), "clients", "revoke", str(key.client_id)],
                    env={**os.environ, "RJ_DATABASE_URL": database_url},
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    timeout=60,
                )
                assert revoke.returncode == 0, revoke.stderr

            refused_by = set()
            for c in clients:
                for key, path in reads:
                    r = c.get(path, headers=key.headers)
                    assert r.status_code == 401, (path, r.text)
                    refused_by.add(process_serving(cached_server, r))
            # Within the minute every server process would have trusted the keys without asking.
            assert time.monotonic() - remembered_at < CACHE_SECONDS
        finally:
            for c in clients:
                c.close()
        assert refused_by == set(processes_of(cached_server))


def test_a_port_in_use_is_a_one_line_failure(database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "RJ_DATABASE_URL": database_url, "RJ_WORKERS": str(PROCESSES)}
        proc = subprocess.run(
            [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"rj-casework: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
