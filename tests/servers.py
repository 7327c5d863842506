"""Small real HTTP servers for tests: stand-ins for other prison systems and webhook receivers.

Each is a plain ASGI app served by uvicorn on 127.0.0.1 in a thread of its own.
"""

import asyncio
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.types import Receive, Scope, Send

STARTUP_SECONDS = 10.0


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Tls:
    """A server certificate for one host name, issued by a certificate authority of its own."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def issue(cls, folder: Path, host_name: str) -> "Tls":
        """A new authority and a certificate for `host_name` alone (not for 127.0.0.1), as files
        in `folder`: a client trusting `ca` accepts the server only when it checks that name."""
        now = datetime.now(UTC)

        def certificate(subject: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
            return (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test authority")]))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=1))
            )

        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = (
            certificate("test authority", ca_key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        leaf = (
            certificate(host_name, key)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        files = cls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
        files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        files.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        files.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return files


class LocalServer:
    """Serve an ASGI app on 127.0.0.1; stop it and start it again on the same port."""

    def __init__(self, app: Any, port: int | None = None, tls: Tls | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.tls = tls
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> "LocalServer":
        """Start serving and wait until it listens."""
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ssl_certfile=self.tls and self.tls.cert,
            ssl_keyfile=self.tls and self.tls.key,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the test server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (connections are refused afterwards)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(STARTUP_SECONDS)
        self._server, self._thread = None, None


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, status: int, body: Any = None) -> None:
    """A JSON response."""
    data = b"" if body is None else json.dumps(body).encode()
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": data})


class IncidentSystem:
    """A stand-in for the incident-reporting API: serves reports with details, behind a bearer token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.reports: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []

    def add(self, report_id: str, report: dict[str, Any]) -> str:
        """Serve `report` under `report_id`; its path."""
        self.reports[report_id] = report
        return f"/incident-reports/{report_id}/with-details"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        self.requests.append(scope["path"])
        if headers.get(b"authorization") != f"Bearer {self.token}".encode():
            await respond(send, 401, {"status": 401, "userMessage": "no valid token"})
            return
        parts = scope["path"].strip("/").split("/")
        if len(parts) == 3 and parts[0] == "incident-reports" and parts[2] == "with-details":
            report = self.reports.get(parts[1])
            if report is not None:
                await respond(send, 200, report)
                return
        await respond(send, 404, {"status": 404, "userMessage": "no such report"})


class WebhookReceiver:
    """Receives webhooks, checks each signature as a real receiver must, and counts them."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.status = 200
        self.ids: Counter[str] = Counter()
        self.payloads: dict[str, dict[str, Any]] = {}
        self.hosts: list[str] = []
        self.bad_signatures = 0
        self.hold: threading.Event | None = None
        self._lock = threading.Lock()

    @property
    def received(self) -> int:
        """Deliveries with a good signature, repeats included."""
        with self._lock:
            return sum(self.ids.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            payload = self.webhook.verify(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.bad_signatures += 1
            await respond(send, 401)
            return
        with self._lock:
            self.ids[headers["webhook-id"]] += 1
            self.payloads[headers["webhook-id"]] = payload
            self.hosts.append(headers["host"])
        if self.hold is not None:
            await asyncio.to_thread(self.hold.wait, STARTUP_SECONDS * 3)
        await respond(send, self.status, {"ok": self.status < 300})


class Redirector:
    """Answers every request with a redirect to `location`, and counts them."""

    def __init__(self, location: str, status: int = 307) -> None:
        self.location = location
        self.status = status
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await read_body(receive)
        self.requests += 1
        headers = [(b"location", self.location.encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def load_fixture(fixtures: Path, name: str) -> dict[str, Any]:
    """A JSON fixture, by its path under `fixtures` (tests/fixtures)."""
    data: dict[str, Any] = json.loads((fixtures / name).read_text())
    return data
