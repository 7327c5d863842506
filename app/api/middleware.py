"""Pure ASGI middleware: request ids, body size limit, security headers, metrics."""

import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api import metrics
from app.api.problems import internal_error, problem

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
# The interactive docs run their own script and styles, all from this service (app/api/docs.py):
# their policy lets the page load them, and the API document, from here and from nowhere else.
DOCS_PATHS = ("/docs",)
DOCS_POLICY = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
)


class RequestMiddleware:
    """Assign the request id, refuse oversized bodies, add security headers, count requests."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException passes through FastAPI's body parsing to the problem handler.
                    raise HTTPException(413, f"the request body is larger than {self.max_body_bytes} bytes")
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                extra = [(b"x-request-id", request_id.encode())]
                if not scope["path"].startswith(DOCS_PATHS):
                    extra += SECURITY_HEADERS
                else:
                    extra += [*SECURITY_HEADERS[:3], DOCS_POLICY]
                existing = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in extra if k not in existing
                ]
            await send(message)

        declared = headers.get(b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._too_large(scope, receive, send_with_headers)
            else:
                await self.app(scope, limited_receive, send_with_headers)
        except Exception:
            # An unexpected error's 500 is otherwise sent by Starlette's outermost middleware,
            # past this one, without the request id; answer here and let it log the error.
            if not status_holder["started"]:
                await internal_error()(scope, receive, send_with_headers)
            raise
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            metrics.observe(
                scope.get("method", ""),
                path,
                status_holder["status"],
                time.perf_counter() - started,
            )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "PAYLOAD_TOO_LARGE",
            "Payload too large",
            f"the request body is larger than {self.max_body_bytes} bytes",
        )
        await response(scope, receive, send)
