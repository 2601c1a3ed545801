"""HTTP and WebSocket surface of the simulator: health, stats, the two realtime paths.

The handshake checks the key before accepting (HTTP 401 through the WebSocket denial
response extension, which uvicorn implements), so a client sees the same refusal it
would get from Azure or OpenAI. A session that must be dropped on purpose (fault
injection) ends by returning without a close frame: uvicorn then closes the TCP
connection, which is what a crashed upstream looks like to the app.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from typing import Any

from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from stack.service import log_fields

from .outbox import SessionGone
from .protocol import Event
from .session import RealtimeSession
from .settings import SimSettings
from .stats import StatsRegistry

log = logging.getLogger("realtime_sim.server")

AZURE = "azure"
OPENAI = "openai"


def _presented_key(websocket: WebSocket, flavor: str) -> str | None:
    """The key the client sent, from the header its flavour of the API uses."""
    if flavor == AZURE:
        key = websocket.headers.get("api-key", "").strip()
        if key:
            return key
    scheme, _, token = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _key_ok(presented: str | None, expected: str | None) -> bool:
    if not presented:
        return False
    if expected is None:
        return True
    return hmac.compare_digest(presented.encode(), expected.encode())


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": "invalid_request_error", "code": code, "message": message}}, status_code=status
    )


def create_app(settings: SimSettings | None = None) -> FastAPI:
    """The simulator as an ASGI app; ``settings`` default to the environment."""
    settings = settings or SimSettings.from_env()
    registry = StatsRegistry()
    app = FastAPI(title="realtime-sim", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.registry = registry
    app.state.settings = settings

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "sessions": registry.live_count}

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        return registry.snapshot()

    @app.websocket("/openai/realtime")
    async def azure_realtime(websocket: WebSocket) -> None:
        await _serve_session(websocket, AZURE, settings, registry)

    @app.websocket("/v1/realtime")
    async def openai_realtime(websocket: WebSocket) -> None:
        await _serve_session(websocket, OPENAI, settings, registry)

    return app


async def _serve_session(websocket: WebSocket, flavor: str, settings: SimSettings, registry: StatsRegistry) -> None:
    client = f"{websocket.client.host}:{websocket.client.port}" if websocket.client else "?"
    if not _key_ok(_presented_key(websocket, flavor), settings.api_key):
        log.warning("handshake refused: missing or wrong key", extra=log_fields(path=flavor, client=client))
        header = "api-key header" if flavor == AZURE else "Authorization: Bearer header"
        await websocket.send_denial_response(
            _refusal(401, "invalid_api_key", f"Missing or incorrect API key (send it in the {header}).")
        )
        return
    query = websocket.query_params
    if flavor == AZURE:
        missing = [name for name in ("api-version", "deployment") if not query.get(name)]
        if missing:
            log.warning("handshake refused: missing query parameters", extra=log_fields(missing=missing))
            await websocket.send_denial_response(
                _refusal(400, "missing_required_parameter", f"Missing query parameter(s): {', '.join(missing)}.")
            )
            return
        model = query["deployment"]
    else:
        model = query.get("model") or settings.default_model

    await websocket.accept()
    session_id = "sess_" + secrets.token_hex(10)
    counters = registry.open(session_id, path=flavor, model=model)
    dropped = asyncio.Event()

    async def send(event: Event) -> None:
        try:
            await websocket.send_text(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise SessionGone from exc

    session = RealtimeSession(
        session_id=session_id, model=model, settings=settings, counters=counters, send=send, abort=dropped.set
    )
    started = time.monotonic()
    log.info("session opened", extra=log_fields(session_id=session_id, path=flavor, model=model, client=client))
    try:
        await session.start()
        reader = asyncio.create_task(_read_events(websocket, session), name=f"sim reader {session_id}")
        drop_wait = asyncio.create_task(dropped.wait(), name=f"sim drop {session_id}")
        try:
            await asyncio.wait({reader, drop_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, drop_wait):
                task.cancel()
            results = await asyncio.gather(reader, drop_wait, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, (asyncio.CancelledError, SessionGone)):
                log.error("session reader failed", exc_info=result, extra=log_fields(session_id=session_id))
    except SessionGone:
        pass
    finally:
        await session.close()
        registry.close(counters)
        log.info(
            "session closed",
            extra=log_fields(
                session_id=session_id,
                dropped_on_purpose=dropped.is_set(),
                duration_s=round(time.monotonic() - started, 3),
                audio_bytes_in=counters.audio_bytes_in,
                audio_bytes_out=counters.audio_bytes_out,
                responses=counters.responses,
                events_in=counters.events_in,
                events_out=counters.events_out,
                errors_sent=counters.errors_sent,
                faults=counters.faults,
            ),
        )
    # Returning without a close frame: uvicorn closes the transport. For an injected drop
    # that is the point; after a normal client close there is nothing left to say.


async def _read_events(websocket: WebSocket, session: RealtimeSession) -> None:
    """Feed client events to the session, in order, until the client goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        try:
            if text is not None:
                await session.handle_text(text)
            else:
                await session.handle_bytes(message.get("bytes") or b"")
        except SessionGone:
            return
