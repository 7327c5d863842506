"""Small real HTTP services standing in for remote prison systems during tests."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class NonAssociations:
    """The prison non-associations API: answers `POST /non-associations/between`."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.asked: list[list[str]] = []

    def keep_apart(self, first: str, second: str, reason: str = "VIOLENCE", closed: bool = False) -> None:
        """Record a non-association between two prisoners."""
        self.items.append(
            {
                "firstPrisonerNumber": first,
                "secondPrisonerNumber": second,
                "reason": reason,
                "isClosed": closed,
            }
        )

    @contextmanager
    def serving(self) -> Iterator[str]:
        """Serve on a free local port; yields the base URL."""
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("content-length") or 0)
                numbers = json.loads(self.rfile.read(length) or b"[]")
                if self.path.split("?")[0] != "/non-associations/between":
                    self.send_error(404)
                    return
                standin.asked.append(numbers)
                wanted = set(numbers)
                body = json.dumps(
                    [
                        i
                        for i in standin.items
                        if i["firstPrisonerNumber"] in wanted and i["secondPrisonerNumber"] in wanted
                    ]
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
