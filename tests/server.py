"""The real service as a subprocess (`rj-casework serve`) on a free loopback port."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).parent / "rj-casework"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One `rj-casework serve` process; started, killed and restarted by tests."""

    def __init__(self, database_url: str, *, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {
            **os.environ,
            "RJ_DATABASE_URL": database_url,
            "RJ_BASE_URL": self.url,
            "RJ_LOG_LEVEL": "warning",
            # One process: a kill is then a crash of the whole service (unset means one per core
            # on PostgreSQL, and server processes would outlive a killed parent).
            "RJ_WORKERS": "1",
            # The tests run the timed work themselves, when they mean to (the server-run timed
            # work has tests of its own, which ask for it).
            "RJ_TIMED_WORK": "separate",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> "Server":
        """Start the process and wait until it answers."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.url}/health/ping", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout}s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
