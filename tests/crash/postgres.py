"""A PostgreSQL instance of the test's own: initdb in a temporary folder, on its own free port,
so that stopping it harms no one else. Run as the `postgres` user when the tests run as root
(initdb refuses root)."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.server import free_port


def bindir() -> Path | None:
    """The newest installed PostgreSQL's programs, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class OwnPostgres:
    """initdb, start, stop -m immediate, start again, remove."""

    def __init__(self) -> None:
        programs = bindir()
        if programs is None:
            raise RuntimeError("no PostgreSQL programs (initdb, pg_ctl) are installed")
        self.bin = programs
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="rj-own-pg-"))
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout, cwd=self.root)

    def init(self) -> "OwnPostgres":
        """Create the cluster: trust on loopback only, no unix socket outside its folder."""
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 60\nshared_buffers = 32MB\n"
            )
        return self

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60", "start"
        )

    def stop_immediate(self) -> None:
        """Stop at once, without a checkpoint, as in a crash: recovery runs at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        """Stop if running and remove every file."""
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
