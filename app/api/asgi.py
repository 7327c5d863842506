"""What the pure ASGI middleware share: reading a request's headers and body before the
application does, and handing the body on to it as if unread."""

from starlette.types import Message, Receive, Scope


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of the header `name` (lower case), if sent."""
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            text: str = value.decode("latin-1")
            return text
    return None


async def read_body(receive: Receive) -> bytes:
    """The whole request body (what arrived of it, if the client went away)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` first, as one message, then whatever `receive` gives."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other header."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
