"""One Realtime session: the conversation, the input audio buffer, turn taking, responses.

The reader (the WebSocket loop in :mod:`.server`) feeds client events in order to
:meth:`RealtimeSession.handle_text`; a response runs as its own task so that
``response.cancel`` and barge-in can stop it. Cancellation is cooperative (checked
between events), so an event is never half sent and every started part is finished.

Answers are deterministic: the audio of a response is exactly the audio committed since
the previous response (byte for byte), the transcript says what was heard.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from stack.service import log_fields

from .faults import KnobError, Knobs
from .protocol import (
    Event,
    Ids,
    Protocol,
    assistant_item,
    message_item,
    response_object,
    usage,
    user_audio_item,
)
from .session_config import SessionConfigError, default_session, merge_session, validate_session_patch
from .settings import SimSettings
from .stats import SessionCounters
from .vad import BYTES_PER_MS, EnergyVad

log = logging.getLogger("realtime_sim.session")

SendFn = Callable[[Event], Awaitable[None]]
MIN_COMMIT_MS = 100
SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 500, "high": 250, "auto": 500}
SESSION_TTL_S = 3600


class ClientError(Exception):
    """The client's event is wrong: answered with an ``error`` event, connection kept."""

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class SessionGone(Exception):
    """The socket is gone (or being dropped on purpose): stop producing events."""


@dataclass
class _Input:
    """A user turn not yet answered."""

    item_id: str
    audio: bytes = b""
    text: str = ""


class _Response:
    """A response in flight."""

    def __init__(self, response_id: str, trigger_event_id: str | None, metadata: dict[str, str] | None) -> None:
        self.id = response_id
        self.trigger_event_id = trigger_event_id
        self.metadata = metadata
        self.cancel_reason: str | None = None
        self.task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def cancel(self, reason: str) -> None:
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._wake.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when cancelled."""
        if seconds <= 0 or self.cancel_reason is not None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)


def _ms(byte_count: int) -> int:
    return byte_count // BYTES_PER_MS


def _tokens_for_audio(byte_count: int) -> int:
    return math.ceil(_ms(byte_count) / 100)  # deterministic stand-in: 10 tokens per second


def _tokens_for_text(text: str) -> int:
    return math.ceil(len(text) / 4)


def describe(inputs: list[_Input]) -> str:
    """What the sim says back: the text it was given and how much audio it heard."""
    texts = [turn.text for turn in inputs if turn.text]
    audio_bytes = sum(len(turn.audio) for turn in inputs)
    parts = []
    if texts:
        parts.append("You said: " + " ".join(texts))
    if audio_bytes:
        parts.append(f"I heard {audio_bytes / (BYTES_PER_MS * 1000):.2f} seconds of audio.")
    return " ".join(parts) or "I heard nothing."


class RealtimeSession:
    """State and behaviour of one connection; the transport is injected as ``send``/``abort``."""

    def __init__(
        self,
        *,
        session_id: str,
        model: str,
        settings: SimSettings,
        counters: SessionCounters,
        send: SendFn,
        abort: Callable[[], None],
    ) -> None:
        self.session_id = session_id
        self.knobs: Knobs = settings.knobs
        self.config: dict[str, Any] = default_session(model)
        self._settings = settings
        self._counters = counters
        self._send_raw = send
        self._abort_socket = abort
        self._ids = Ids()
        self._proto = Protocol(self._ids)
        self._created = int(time.time())
        self._conversation_id = self._ids.new("conv")
        self._buffer = bytearray()
        self._buffer_start = 0  # absolute offset (in the session's audio stream) of _buffer[0]
        self._stream_end = 0  # bytes appended so far
        self._vad: EnergyVad | None = None
        self._speech_item_id: str | None = None
        self._items: dict[str, dict[str, Any]] = {}  # conversation order
        self._assistant_audio: dict[str, int] = {}  # item id -> bytes of audio sent
        self._pending: list[_Input] = []
        self._active: _Response | None = None
        self._closed = False
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[None]]] = {
            "session.update": self._on_session_update,
            "input_audio_buffer.append": self._on_append,
            "input_audio_buffer.commit": self._on_commit,
            "input_audio_buffer.clear": self._on_clear,
            "conversation.item.create": self._on_item_create,
            "conversation.item.delete": self._on_item_delete,
            "conversation.item.truncate": self._on_item_truncate,
            "response.create": self._on_response_create,
            "response.cancel": self._on_response_cancel,
        }
        self._reset_vad()

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        await self._send(self._proto.session_created(self._session_object()))

    async def close(self) -> None:
        """Stop any response in flight; called once the socket is gone."""
        self._closed = True
        response = self._active
        task = response.task if response else None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task}, timeout=5)

    # -- input ----------------------------------------------------------------------------
    async def handle_text(self, text: str) -> None:
        """One client event: dispatch it, or answer with an ``error`` event."""
        self._counters.events_in += 1
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):
            await self._send_error("The server could not parse the event: it is not valid JSON.", code="invalid_json")
            return
        if not isinstance(event, dict):
            await self._send_error("An event must be a JSON object.", code="invalid_json")
            return
        raw_id = event.get("event_id")
        event_id = raw_id if isinstance(raw_id, str) else None
        type_ = event.get("type")
        if not isinstance(type_, str):
            await self._send_error(
                "Missing required parameter: 'type'.",
                param="type",
                code="missing_required_parameter",
                event_id=event_id,
            )
            return
        handler = self._handlers.get(type_)
        if handler is None:
            supported = ", ".join(f"'{name}'" for name in self._handlers)
            await self._send_error(
                f"Invalid value: '{type_[:100]}'. Supported values are: {supported}.",
                param="type",
                event_id=event_id,
            )
            return
        try:
            await handler(event)
        except ClientError as exc:
            await self._send_error(exc.message, param=exc.param, code=exc.code, event_id=event_id)

    async def handle_bytes(self, data: bytes) -> None:
        self._counters.events_in += 1
        await self._send_error("Binary frames are not supported: send JSON text events.", code="invalid_json")

    # -- session --------------------------------------------------------------------------
    def _session_object(self) -> dict[str, Any]:
        return {
            "object": "realtime.session",
            "id": self.session_id,
            "expires_at": self._created + SESSION_TTL_S,
            **self.config,
        }

    def _turn_detection(self) -> dict[str, Any] | None:
        return self.config["audio"]["input"]["turn_detection"]

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        patch = event.get("session")
        if patch is None:
            raise ClientError(
                "Missing required parameter: 'session'.", param="session", code="missing_required_parameter"
            )
        try:
            validate_session_patch(patch)
            knobs = self.knobs.with_metadata(patch.get("metadata") or {})
        except SessionConfigError as exc:
            raise ClientError(exc.message, param=exc.param, code=exc.code) from None
        except KnobError as exc:
            raise ClientError(exc.message, param=exc.param) from None
        if knobs != self.knobs:
            log.info(
                "knobs changed",
                extra=log_fields(
                    session_id=self.session_id,
                    fault=knobs.fault,
                    response_delay_ms=knobs.response_delay_ms,
                    audio_pace=knobs.audio_pace,
                ),
            )
            self.knobs = knobs
        before = self._turn_detection()
        self.config = merge_session(self.config, patch)
        if self._turn_detection() != before:
            self._reset_vad()
        await self._send(self._proto.session_updated(self._session_object()))

    # -- input audio buffer ---------------------------------------------------------------
    def _reset_vad(self) -> None:
        detection = self._turn_detection()
        self._speech_item_id = None
        if detection is None:
            self._vad = None
            return
        if detection["type"] == "server_vad":
            threshold = float(detection.get("threshold", 0.5))
            silence_ms = int(detection.get("silence_duration_ms", 500))
        else:
            threshold = 0.5
            silence_ms = SEMANTIC_SILENCE_MS.get(detection.get("eagerness", "auto"), 500)
        self._vad = EnergyVad(
            origin=self._stream_end,
            rms_threshold=max(1.0, self._settings.vad_rms * threshold / 0.5),
            silence_ms=silence_ms,
        )

    def _prefix_bytes(self) -> int:
        detection = self._turn_detection() or {}
        return int(detection.get("prefix_padding_ms", 300)) * BYTES_PER_MS

    def _drop_buffer_before(self, position: int) -> None:
        if position > self._buffer_start:
            del self._buffer[: position - self._buffer_start]
            self._buffer_start = position

    def _take_buffer(self, until: int) -> bytes:
        count = max(0, until - self._buffer_start)
        audio = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._buffer_start += count
        return audio

    async def _on_append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise ClientError("Missing required parameter: 'audio'.", param="audio", code="missing_required_parameter")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ClientError("Invalid 'audio': expected base64-encoded PCM16 audio.", param="audio") from None
        if len(self._buffer) + len(data) > self._settings.max_buffer_bytes:
            raise ClientError(
                f"The input audio buffer would exceed {self._settings.max_buffer_bytes} bytes; commit or clear it.",
                param="audio",
                code="input_audio_buffer_too_large",
            )
        self._counters.audio_bytes_in += len(data)
        self._buffer += data
        self._stream_end += len(data)
        if self._vad is not None:
            await self._run_vad(data)

    async def _run_vad(self, data: bytes) -> None:
        vad = self._vad
        assert vad is not None
        for vad_event in vad.feed(data):
            if vad_event.kind == "speech_started":
                start = max(self._buffer_start, vad_event.position - self._prefix_bytes())
                self._drop_buffer_before(start)
                self._speech_item_id = self._ids.new("item")
                await self._send(self._proto.speech_started(self._speech_item_id, _ms(start)))
                detection = self._turn_detection() or {}
                if self._active is not None and detection.get("interrupt_response", True):
                    self._active.cancel("turn_detected")
            else:
                item_id = self._speech_item_id or self._ids.new("item")
                self._speech_item_id = None
                await self._send(self._proto.speech_stopped(item_id, _ms(vad_event.position)))
                await self._commit(self._take_buffer(vad_event.position), item_id)
                detection = self._turn_detection() or {}
                if detection.get("create_response", True) and self._active is None:
                    self._start_response(None, None)
        if self._vad is vad and not vad.in_speech:
            # Between turns keep only the prefix padding, as a real VAD would: this also
            # bounds memory for clients that stream silence for hours.
            self._drop_buffer_before(self._stream_end - self._prefix_bytes())

    async def _on_commit(self, event: dict[str, Any]) -> None:
        if len(self._buffer) < MIN_COMMIT_MS * BYTES_PER_MS:
            have = len(self._buffer) / BYTES_PER_MS
            raise ClientError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {have:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self._speech_item_id or self._ids.new("item")
        audio = self._take_buffer(self._stream_end)
        self._reset_vad()
        await self._commit(audio, item_id)

    async def _commit(self, audio: bytes, item_id: str) -> None:
        previous = self._last_item_id()
        item = user_audio_item(item_id)
        self._items[item_id] = item
        self._pending.append(_Input(item_id, audio=audio))
        await self._send(self._proto.committed(item_id, previous))
        await self._send(self._proto.item_added(item, previous))
        await self._send(self._proto.item_done(item, previous))

    async def _on_clear(self, event: dict[str, Any]) -> None:
        self._drop_buffer_before(self._stream_end)
        self._reset_vad()
        await self._send(self._proto.cleared())

    # -- conversation ---------------------------------------------------------------------
    def _last_item_id(self) -> str | None:
        return next(reversed(self._items), None)

    async def _on_item_create(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            raise ClientError("Missing required parameter: 'item'.", param="item", code="missing_required_parameter")
        if item.get("type", "message") != "message":
            raise ClientError(
                f"realtime-sim accepts only 'message' items, not {item.get('type')!r}.", param="item.type"
            )
        role = item.get("role")
        allowed = {"user": ("input_text", "input_audio"), "system": ("input_text",), "assistant": ("output_text",)}
        if role not in allowed:
            raise ClientError(
                f"Invalid value: {role!r}. Supported values are: 'user', 'system', 'assistant'.", param="item.role"
            )
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise ClientError("Invalid 'item.content': expected a non-empty array.", param="item.content")
        item_id = item.get("id") or self._ids.new("item")
        if not isinstance(item_id, str) or item_id in self._items:
            raise ClientError(f"Item id {item_id!r} is invalid or already in the conversation.", param="item.id")

        server_content: list[dict[str, Any]] = []
        turn = _Input(item_id)
        for index, part in enumerate(content):
            where = f"item.content[{index}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in allowed[role]:
                supported = ", ".join(f"'{k}'" for k in allowed[role])
                raise ClientError(f"Invalid value: {kind!r}. Supported values are: {supported}.", param=f"{where}.type")
            if kind in ("input_text", "output_text"):
                text = part.get("text")
                if not isinstance(text, str):
                    raise ClientError(f"Missing required parameter: '{where}.text'.", param=f"{where}.text")
                server_content.append({"type": kind, "text": text})
                turn.text = f"{turn.text} {text}".strip() if role == "user" else turn.text
            else:  # input_audio
                try:
                    audio = base64.b64decode(part.get("audio") or "", validate=True)
                except (binascii.Error, ValueError, TypeError):
                    message = f"Invalid '{where}.audio': expected base64 PCM16."
                    raise ClientError(message, param=f"{where}.audio") from None
                transcript = part.get("transcript")
                transcript = transcript if isinstance(transcript, str) else None
                server_content.append({"type": "input_audio", "transcript": transcript})
                turn.audio += audio
                self._counters.audio_bytes_in += len(audio)

        previous = self._last_item_id()
        server_item = message_item(item_id, role, server_content)
        self._items[item_id] = server_item
        if role == "user":
            self._pending.append(turn)
        await self._send(self._proto.item_added(server_item, previous))
        await self._send(self._proto.item_done(server_item, previous))

    def _require_item(self, event: dict[str, Any]) -> str:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            message = "Missing required parameter: 'item_id'."
            raise ClientError(message, param="item_id", code="missing_required_parameter")
        if item_id not in self._items:
            raise ClientError(f"Item with item_id '{item_id[:100]}' not found.", param="item_id")
        return item_id

    async def _on_item_delete(self, event: dict[str, Any]) -> None:
        item_id = self._require_item(event)
        del self._items[item_id]
        self._assistant_audio.pop(item_id, None)
        self._pending = [turn for turn in self._pending if turn.item_id != item_id]
        await self._send(self._proto.item_deleted(item_id))

    async def _on_item_truncate(self, event: dict[str, Any]) -> None:
        item_id = self._require_item(event)
        if item_id not in self._assistant_audio:
            raise ClientError("Only assistant audio items can be truncated.", param="item_id")
        content_index = event.get("content_index")
        audio_end_ms = event.get("audio_end_ms")
        if content_index != 0:
            raise ClientError("Invalid 'content_index': the audio is content part 0.", param="content_index")
        if isinstance(audio_end_ms, bool) or not isinstance(audio_end_ms, int) or audio_end_ms < 0:
            raise ClientError("Invalid 'audio_end_ms': expected a non-negative integer.", param="audio_end_ms")
        if audio_end_ms > _ms(self._assistant_audio[item_id]):
            raise ClientError(
                f"audio_end_ms {audio_end_ms} is past the end of the item's audio "
                f"({_ms(self._assistant_audio[item_id])} ms).",
                param="audio_end_ms",
            )
        self._assistant_audio[item_id] = audio_end_ms * BYTES_PER_MS
        await self._send(self._proto.item_truncated(item_id, 0, audio_end_ms))

    # -- responses ------------------------------------------------------------------------
    async def _on_response_create(self, event: dict[str, Any]) -> None:
        if self._active is not None:
            raise ClientError(
                f"Conversation already has an active response in progress: {self._active.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        params = event.get("response")
        if params is not None and not isinstance(params, dict):
            raise ClientError("Invalid type for 'response': expected an object.", param="response", code="invalid_type")
        metadata = (params or {}).get("metadata")
        if metadata is not None and (
            not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
        ):
            raise ClientError("Invalid 'response.metadata': expected string values.", param="response.metadata")
        raw_id = event.get("event_id")
        self._start_response(raw_id if isinstance(raw_id, str) else None, metadata)

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        active = self._active
        if active is None:
            raise ClientError("Cancellation failed: no active response found.", code="response_cancel_not_active")
        response_id = event.get("response_id")
        if response_id is not None and response_id != active.id:
            raise ClientError(f"Response '{str(response_id)[:100]}' is not the active response.", param="response_id")
        active.cancel("client_cancelled")

    def _start_response(self, trigger_event_id: str | None, metadata: dict[str, str] | None) -> None:
        response = _Response(self._ids.new("resp"), trigger_event_id, metadata)
        self._active = response
        response.task = asyncio.create_task(self._run_response(response), name=f"sim {response.id}")
        response.task.add_done_callback(self._response_task_done)

    def _response_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error(
                "response failed",
                exc_info=exc,
                extra=log_fields(session_id=self.session_id),
            )

    async def _run_response(self, response: _Response) -> None:
        try:
            await self._produce(response)
        except SessionGone:
            pass
        finally:
            if self._active is response:
                self._active = None

    def _drop_connection(self, fault: str) -> None:
        self._counters.faults += 1
        log.warning("fault injected", extra=log_fields(session_id=self.session_id, fault=fault))
        self._closed = True
        self._abort_socket()

    def _response_object(self, response: _Response, status: str, **fields: Any) -> dict[str, Any]:
        voice = self.config["audio"]["output"].get("voice", "marin")
        return response_object(
            response.id,
            conversation_id=self._conversation_id,
            status=status,
            voice=voice["id"] if isinstance(voice, dict) else voice,
            max_output_tokens=self.config.get("max_output_tokens", "inf"),
            metadata=response.metadata,
            **fields,
        )

    async def _produce(self, response: _Response) -> None:
        knobs = self.knobs
        await response.sleep(knobs.response_delay_ms / 1000)
        if response.cancel_reason is None:
            if knobs.fault == "error_event":
                self._counters.faults += 1
                log.warning("fault injected", extra=log_fields(session_id=self.session_id, fault=knobs.fault))
                await self._send_error(
                    "realtime-sim injected fault: the model failed to produce a response.",
                    type_="server_error",
                    code="sim_fault",
                    event_id=response.trigger_event_id,
                )
                return
            if knobs.fault == "close":
                self._drop_connection(knobs.fault)
                return

        self._counters.responses += 1
        await self._send(self._proto.response_created(self._response_object(response, "in_progress", output=[])))
        if response.cancel_reason is not None:  # cancelled while waiting: nothing consumed
            self._counters.responses_cancelled += 1
            details = {"type": "cancelled", "reason": response.cancel_reason}
            done = self._response_object(response, "cancelled", output=[], status_details=details)
            await self._send(self._proto.response_done(done))
            return

        inputs, self._pending = self._pending, []
        audio = b"".join(turn.audio for turn in inputs)
        transcript = describe(inputs)
        rid, item_id = response.id, self._ids.new("item")
        previous = self._last_item_id()
        item = assistant_item(item_id, "in_progress", None)
        self._items[item_id] = item
        self._assistant_audio[item_id] = 0
        await self._send(self._proto.output_item_added(rid, item))
        await self._send(self._proto.item_added(item, previous))
        await self._send(self._proto.content_part_added(rid, item_id))

        chunk_bytes = self._settings.chunk_ms * BYTES_PER_MS
        chunks = [audio[i : i + chunk_bytes] for i in range(0, len(audio), chunk_bytes)]
        words = re.findall(r"\S+\s*", transcript)
        drop_after: int | None = None
        if knobs.fault == "close_after_audio":
            chunks = chunks or [bytes(chunk_bytes)]
            drop_after = max(1, math.ceil(len(chunks) / 2))
        realtime = knobs.audio_pace == "realtime"
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent_audio = 0
        said: list[str] = []
        for index in range(max(len(chunks), len(words))):
            if response.cancel_reason is not None:
                break
            if index < len(chunks):
                chunk = chunks[index]
                await self._send(self._proto.audio_delta(rid, item_id, base64.b64encode(chunk).decode("ascii")))
                self._counters.audio_bytes_out += len(chunk)
                sent_audio += len(chunk)
                self._assistant_audio[item_id] = sent_audio
                if drop_after is not None and index + 1 >= drop_after:
                    self._drop_connection(knobs.fault)
                    return
            if index < len(words):
                await self._send(self._proto.transcript_delta(rid, item_id, words[index]))
                said.append(words[index])
            if realtime:
                await response.sleep(started + sent_audio / (BYTES_PER_MS * 1000) - loop.time())
            else:
                await asyncio.sleep(0)  # let other sessions (and response.cancel) in

        cancelled = response.cancel_reason is not None
        final = "".join(said).rstrip() if cancelled else transcript
        await self._send(self._proto.audio_done(rid, item_id))
        await self._send(self._proto.transcript_done(rid, item_id, final))
        await self._send(self._proto.content_part_done(rid, item_id, final))
        item = assistant_item(item_id, "incomplete" if cancelled else "completed", final)
        if item_id in self._items:
            self._items[item_id] = item
        await self._send(self._proto.output_item_done(rid, item))
        await self._send(self._proto.item_done(item, previous))
        counted = usage(
            input_text=sum(_tokens_for_text(turn.text) for turn in inputs),
            input_audio=_tokens_for_audio(len(audio)),
            output_text=_tokens_for_text(final),
            output_audio=_tokens_for_audio(sent_audio),
        )
        if cancelled:
            self._counters.responses_cancelled += 1
            details = {"type": "cancelled", "reason": response.cancel_reason}
            done = self._response_object(response, "cancelled", output=[item], status_details=details, usage_=counted)
        else:
            done = self._response_object(response, "completed", output=[item], usage_=counted)
        await self._send(self._proto.response_done(done))

    # -- output ---------------------------------------------------------------------------
    async def _send(self, event: Event) -> None:
        if self._closed:
            raise SessionGone
        try:
            await self._send_raw(event)
        except SessionGone:
            self._closed = True
            raise
        self._counters.events_out += 1

    async def _send_error(
        self,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
    ) -> None:
        self._counters.errors_sent += 1
        await self._send(self._proto.error(message, type_=type_, code=code, param=param, event_id=event_id))
