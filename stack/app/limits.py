"""The HTTP request body limit: 413 before an oversized body is read (MAX_REQUEST_BODY_BYTES).

Without it a 100 MB body to ``/api/auth/login`` was read whole before the 422, and the
app's resident memory grew by the size of what clients sent. The JSON APIs take a few
hundred bytes; WebSocket frames have their own limit (MAX_MESSAGE_BYTES) and pass untouched.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stack.app.errors import error_body

# After the 413, read and drop at most this much / this long of what the client is still sending.
LINGER_BYTES = 1024 * 1024
LINGER_S = 1.0

# What the wrapped app receives once the limit is hit: it stops reading, as if the client left.
_DISCONNECT: Message = {"type": "http.disconnect"}


class RequestBodyLimit:
    """Pure ASGI middleware: refuse HTTP bodies over ``max_bytes`` with a 413 in the error shape.

    A declared Content-Length over the limit is refused without calling the app. A body
    without one (chunked) is counted as it arrives and refused at the first chunk over the
    limit, so the app never holds more than ``max_bytes`` of it. Either way the 413 closes
    the connection (``Connection: close``): the server stops taking the rest of the body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            # With "Expect: 100-continue" the client sends nothing until told to: nothing to drain.
            pending = (_header(scope, b"expect") or "").lower() != "100-continue"
            await refuse_too_large(receive, send, self.max_bytes, body_pending=pending)
            return
        await _CountedRequest(self.app, self.max_bytes, receive, send).run(scope)


async def refuse_too_large(receive: Receive, send: Send, max_bytes: int, *, body_pending: bool) -> None:
    """Send the 413, linger briefly if the client is still sending, then let the server close."""
    message = f"request body is larger than {max_bytes} bytes (MAX_REQUEST_BODY_BYTES)"
    body = json.dumps(error_body(413, message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": True})  # on the wire now
    if body_pending:
        await _drain_briefly(receive)
    await send({"type": "http.response.body", "body": b""})  # complete: the server closes


async def _drain_briefly(receive: Receive) -> None:
    """Read and drop the rest of the body, up to LINGER_BYTES / LINGER_S (what nginx calls lingering close).

    Closing a socket that still holds unread data makes the kernel send a reset, and a client
    still sending its body usually loses the 413 with it. A short bounded drain lets ordinary
    clients read their 413; an endless or huge body still gets cut off after a moment.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LINGER_S
    drained = 0
    while drained <= LINGER_BYTES:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except asyncio.TimeoutError:
            return
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        drained += len(message.get("body", b""))


class _CountedRequest:
    """One request whose body is counted while the app receives it."""

    def __init__(self, app: ASGIApp, max_bytes: int, receive: Receive, send: Send) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.receive = receive
        self.send = send
        self.received = 0
        self.over = False  # the limit was hit: the app gets only disconnects from now on
        self.refused = False  # we answered 413: whatever the app sends now goes nowhere
        self.started = False

    async def run(self, scope: Scope) -> None:
        await self.app(scope, self._receive, self._send)

    async def _receive(self) -> Message:
        if self.over:
            return _DISCONNECT
        message = await self.receive()
        if message["type"] != "http.request":
            return message
        self.received += len(message.get("body", b""))
        if self.received <= self.max_bytes:
            return message
        self.over = True
        if not self.started:
            self.refused = True
            pending = bool(message.get("more_body", False))
            await refuse_too_large(self.receive, self.send, self.max_bytes, body_pending=pending)
        return _DISCONNECT

    async def _send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1").strip()
    return None
