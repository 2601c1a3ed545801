"""The one way a session's events leave: counted, and refused once the socket is gone.

The session's event handlers and its response task both send through one :class:`Outbox`,
so "the socket is gone" (or is being dropped on purpose) stops them all at their next event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .protocol import Event, Protocol
from .stats import SessionCounters

SendFn = Callable[[Event], Awaitable[None]]


class SessionGone(Exception):
    """The socket is gone (or being dropped on purpose): stop producing events."""


class Outbox:
    """Sends events through the injected transport and counts them in the session's stats."""

    def __init__(self, *, send: SendFn, abort: Callable[[], None], proto: Protocol, counters: SessionCounters) -> None:
        self._send_raw = send
        self._abort_socket = abort
        self._proto = proto
        self._counters = counters
        self._shut = False

    async def send(self, event: Event) -> None:
        """Send one event; raises :class:`SessionGone` once the socket is gone."""
        if self._shut:
            raise SessionGone
        try:
            await self._send_raw(event)
        except SessionGone:
            self._shut = True
            raise
        self._counters.events_out += 1

    async def send_error(
        self,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
    ) -> None:
        """An ``error`` event; counted apart so ``/stats`` shows how many the clients got."""
        self._counters.errors_sent += 1
        await self.send(self._proto.error(message, type_=type_, code=code, param=param, event_id=event_id))

    def shut(self) -> None:
        """Send nothing more: the socket is gone."""
        self._shut = True

    def drop_connection(self) -> None:
        """Send nothing more and drop the socket without a close frame, like a crashed upstream."""
        self._shut = True
        self._abort_socket()
