"""``WS /ws/realtime``: authenticate, take an engine slot, relay frames to the upstream model.

One realtime socket holds one engine slot for exactly as long as the relay runs; the slot
is released in a ``finally`` whatever ends the relay (client gone, upstream gone, operator
clear, idle reaper, exception, cancellation, shutdown). Connection state is read the
websockets >= 14 way (``state`` / ``ConnectionClosed``), never through ``.closed``, the
attribute whose absence crashed the seed's relay after a library upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException

from stack.app.auth import InvalidToken, bearer_token
from stack.app.context import AppContext
from stack.app.pool import POOL_FULL_MESSAGE, CloseCode, EngineSession
from stack.app.upstream import connect_upstream
from stack.service import log_fields

log = logging.getLogger("app.realtime")

# Client event types that exercise the server-exception and cancellation paths in tests.
# Honoured only when APP_DEBUG_FAULTS=1; ignored (relayed) otherwise.
DEBUG_RAISE = '"debug.raise"'
DEBUG_CANCEL = '"debug.cancel"'
DEBUG_RAISE_DOWNSTREAM = '"debug.raise_downstream"'  # the next upstream->client send raises


# What Starlette/uvicorn raise on a socket the client already left: WebSocketDisconnect (Starlette
# turns a failed send into 1006), uvicorn's ClientDisconnected (an OSError), and RuntimeErrors with
# these messages (Starlette's WebSocketDisconnected, and uvicorn's after a close frame went out).
_CLIENT_GONE_MESSAGES = (
    "once a close message has been sent",
    "once a disconnect message has been received",
    "after sending 'websocket.close'",
)


def client_went_away(exc: BaseException) -> bool:
    """True for the errors that mean "the client is gone", False for everything else (bugs)."""
    if isinstance(exc, (WebSocketDisconnect, OSError)):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc) for m in _CLIENT_GONE_MESSAGES)


def first_failure(tasks: Iterable[asyncio.Task[Any]], live_id: str) -> BaseException | None:
    """The first exception among finished ``tasks`` (to re-raise); every later one is logged.

    Both pumps can fail in the same turn, or one can fail while being cancelled after the
    other ended; re-raising one and dropping the rest hid the second bug.
    """
    finished = [task for task in tasks if task.done() and not task.cancelled()]
    failures = [(task.get_name(), exc) for task in finished if (exc := task.exception()) is not None]
    for name, exc in failures[1:]:
        log.error(
            "realtime relay task failed too",
            exc_info=exc,
            extra=log_fields(live_id=live_id, task=name, error=type(exc).__name__),
        )
    return failures[0][1] if failures else None


def error_event(code: str, message: str, error_type: str = "server_error") -> dict[str, Any]:
    """An OpenAI Realtime ``error`` server event."""
    return {
        "type": "error",
        "event_id": f"event_{uuid.uuid4().hex[:24]}",
        "error": {"type": error_type, "code": code, "message": message, "param": None, "event_id": None},
    }


async def realtime_endpoint(websocket: WebSocket) -> None:
    ctx: AppContext = websocket.app.state.ctx
    origin = websocket.headers.get("origin")
    if origin is not None and origin.rstrip("/") not in ctx.settings.allowed_origins:
        log.warning("realtime handshake refused: origin not allowed", extra=log_fields(origin=origin))
        ctx.metrics.realtime_closes.labels("403").inc()
        await websocket.close(code=1008)  # before accept: uvicorn answers HTTP 403
        return

    token = websocket.query_params.get("token") or bearer_token(websocket.headers.get("authorization"))
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol="realtime" if "realtime" in offered else None)
    try:
        identity = ctx.auth.verify(token)
    except InvalidToken as exc:
        log.info("realtime auth failed", extra=log_fields(reason=str(exc)))
        await _close(websocket, CloseCode.AUTH_FAILED, "authentication failed", ctx)
        return

    session = ctx.pool.try_acquire("realtime", identity.email)
    if session is None:
        ctx.metrics.pool_refusals.labels("realtime").inc()
        with contextlib.suppress(Exception):
            await websocket.send_json(error_event("4002", POOL_FULL_MESSAGE, "invalid_request_error"))
        await _close(websocket, CloseCode.POOL_FULL, "concurrency over limit", ctx)
        return

    relay = RealtimeRelay(websocket, session, ctx)
    session.evictor = relay.evict
    try:
        await relay.run()
    except asyncio.CancelledError:
        relay.release_reason = "cancelled"
        await _close(websocket, CloseCode.INTERNAL_ERROR, "cancelled", ctx)
        raise
    except Exception:
        relay.release_reason = "server_error"
        log.exception("realtime relay failed", extra=log_fields(live_id=session.live_id))
        with contextlib.suppress(Exception):
            await websocket.send_json(error_event("server_error", "internal error in the realtime relay"))
        await _close(websocket, CloseCode.INTERNAL_ERROR, "internal error", ctx)
    finally:
        ctx.pool.release(session.live_id, relay.release_reason)
        await relay.close_upstream()


async def _close(websocket: WebSocket, code: int, reason: str, ctx: AppContext) -> None:
    """Close the client socket if it is still open; count the code."""
    if websocket.application_state == WebSocketState.DISCONNECTED:
        return
    with contextlib.suppress(Exception):
        await websocket.close(code=code, reason=reason)
    ctx.metrics.realtime_closes.labels(str(code)).inc()


class RealtimeRelay:
    """Pumps frames both ways until one side ends or the slot is freed from outside."""

    def __init__(self, websocket: WebSocket, session: EngineSession, ctx: AppContext) -> None:
        self.websocket = websocket
        self.session = session
        self.ctx = ctx
        self.upstream: ClientConnection | None = None
        self.release_reason = "client_disconnect"
        self._evicted: tuple[CloseCode, str] | None = None
        self._stop = asyncio.Event()
        self._response_started: float | None = None
        self._first_audio_seen = False
        self._handler_task: asyncio.Task[Any] | None = None
        self._fail_next_send = False  # debug.raise_downstream
        self._client_gone = False  # a send found the client gone

    def evict(self, code: CloseCode, reason: str) -> None:
        """Called by the pool when leave_room/clear_all/idle reaper/shutdown freed our slot."""
        self._evicted = (code, reason)
        self.release_reason = reason
        self._stop.set()

    async def run(self) -> None:
        self._handler_task = asyncio.current_task()
        try:
            started = time.perf_counter()
            self.upstream = await connect_upstream(self.ctx.settings)
            self.ctx.metrics.upstream_connect.observe(time.perf_counter() - started)
        except (OSError, TimeoutError, EOFError, WebSocketException, InvalidURI, ValueError) as exc:
            # Any way the model's socket fails to open (a refused or reset TCP connection, a
            # handshake cut short: InvalidMessage, ConnectionClosed) is the model unavailable.
            self.ctx.metrics.upstream_failures.labels("connect").inc()
            self.release_reason = "upstream_unavailable"
            log.error(
                "upstream connect failed",
                extra=log_fields(live_id=self.session.live_id, error=type(exc).__name__, detail=str(exc)),
            )
            await self._fail(f"realtime model unavailable: {type(exc).__name__}")
            return

        client_pump = asyncio.create_task(self._client_to_upstream(), name="client->upstream")
        upstream_pump = asyncio.create_task(self._upstream_to_client(), name="upstream->client")
        tasks = [client_pump, upstream_pump, asyncio.create_task(self._stop.wait(), name="evicted")]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # What ended the relay first, then what failed while being cancelled.
        ordered = [t for t in tasks if t in done] + [t for t in tasks if t not in done]
        failure = first_failure(ordered, self.session.live_id)
        if failure is not None:
            raise failure
        if self._evicted is not None:
            code, reason = self._evicted
            await _close(self.websocket, code, reason, self.ctx)
        elif upstream_pump in done and client_pump not in done and not self._client_gone:
            self.release_reason = "upstream_failure"
            self.ctx.metrics.upstream_failures.labels("session").inc()
            await self._fail("realtime model connection lost")

    async def _fail(self, message: str) -> None:
        """Tell the client the upstream failed (an ``error`` event), then close 1011."""
        with contextlib.suppress(Exception):
            await self.websocket.send_json(error_event("upstream_error", message))
        await _close(self.websocket, CloseCode.INTERNAL_ERROR, "upstream failure", self.ctx)

    async def close_upstream(self) -> None:
        if self.upstream is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.upstream.close(), timeout=3)

    async def _client_to_upstream(self) -> None:
        assert self.upstream is not None
        counter = self.ctx.metrics.messages.labels("client_to_upstream")
        debug = self.ctx.debug_faults
        while True:
            try:
                message = await self.websocket.receive()
            except Exception as exc:
                if client_went_away(exc):
                    return
                raise
            if message["type"] == "websocket.disconnect":
                log.info(
                    "realtime client disconnected",
                    extra=log_fields(live_id=self.session.live_id, code=message.get("code")),
                )
                return
            self.session.touch()
            counter.inc()
            text = message.get("text")
            if text is not None:
                if debug and DEBUG_RAISE in text:
                    raise RuntimeError("debug.raise: injected relay failure")
                if debug and DEBUG_CANCEL in text and self._handler_task is not None:
                    self._handler_task.cancel()  # as a server shutdown or a timeout would
                    return
                if debug and DEBUG_RAISE_DOWNSTREAM in text:
                    self._fail_next_send = True
                    continue
                if '"response.create"' in text:
                    self._mark_response_start()
                await self.upstream.send(text)
            elif message.get("bytes") is not None:
                await self.upstream.send(message["bytes"])

    async def _upstream_to_client(self) -> None:
        """Ends when the upstream closes or the client is gone; any other error propagates (never parks)."""
        assert self.upstream is not None
        counter = self.ctx.metrics.messages.labels("upstream_to_client")
        try:
            async for message in self.upstream:
                self.session.touch()
                counter.inc()
                if isinstance(message, str):
                    self._observe_latency(message)
                if not await self._send_to_client(message):
                    return
        except ConnectionClosed as exc:
            log.warning(
                "upstream connection lost",
                extra=log_fields(live_id=self.session.live_id, code=exc.rcvd.code if exc.rcvd else None),
            )

    async def _send_to_client(self, message: str | bytes) -> bool:
        """Relay one upstream frame; False when the client already left (not an upstream failure)."""
        try:
            if self._fail_next_send:
                self._fail_next_send = False
                raise RuntimeError("debug.raise_downstream: injected failure on the upstream->client path")
            if isinstance(message, str):
                await self.websocket.send_text(message)
            else:
                await self.websocket.send_bytes(message)
        except Exception as exc:
            if not client_went_away(exc):
                raise
            self._client_gone = True
            log.info(
                "realtime client gone while relaying",
                extra=log_fields(live_id=self.session.live_id, error=type(exc).__name__),
            )
            return False
        return True

    def _mark_response_start(self) -> None:
        self._response_started = time.perf_counter()
        self._first_audio_seen = False

    def _observe_latency(self, text: str) -> None:
        """Response timings from event names, without parsing every audio frame."""
        if '"input_audio_buffer.committed"' in text and self._response_started is None:
            self._mark_response_start()
        if self._response_started is None:
            return
        if not self._first_audio_seen and ('"response.output_audio.delta"' in text or '"response.audio.delta"' in text):
            self._first_audio_seen = True
            self.ctx.metrics.first_audio.observe(time.perf_counter() - self._response_started)
        elif '"response.done"' in text:
            self.ctx.metrics.response.observe(time.perf_counter() - self._response_started)
            self._response_started = None
