"""One Realtime session: the protocol state machine behind one connection.

The reader (the WebSocket loop in :mod:`.server`) feeds client events in order to
:meth:`RealtimeSession.handle_text`, which validates each one and updates the session:
its configuration, the input audio buffer and turn detection (:mod:`.input_buffer`), the
conversation (:mod:`.conversation`). Responses are produced by :mod:`.responses`, each as
its own task so that ``response.cancel`` and barge-in can stop it; every event leaves
through the session's :class:`~.outbox.Outbox`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from stack.service import log_fields

from .conversation import Conversation, UserTurn
from .faults import KnobError, Knobs
from .input_buffer import InputAudioBuffer
from .outbox import Outbox, SendFn
from .protocol import Ids, Protocol, message_item, user_audio_item
from .responses import Responder
from .session_config import SessionConfigError, default_session, merge_session, validate_session_patch
from .settings import SimSettings
from .stats import SessionCounters
from .vad import BYTES_PER_MS, duration_ms

log = logging.getLogger("realtime_sim.session")

MIN_COMMIT_MS = 100
SESSION_TTL_S = 3600


class ClientError(Exception):
    """The client's event is wrong: answered with an ``error`` event, connection kept."""

    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


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
        self._ids = Ids()
        self._proto = Protocol(self._ids)
        self._out = Outbox(send=send, abort=abort, proto=self._proto, counters=counters)
        self._created = int(time.time())
        self._conversation = Conversation(self._ids.new("conv"))
        self._input = InputAudioBuffer(vad_rms=settings.vad_rms)
        self._responses = Responder(
            session_id=session_id,
            ids=self._ids,
            proto=self._proto,
            outbox=self._out,
            counters=counters,
            conversation=self._conversation,
            chunk_ms=settings.chunk_ms,
            knobs=lambda: self.knobs,
            config=lambda: self.config,
        )
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
        self._input.reset_vad(self._turn_detection())

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        await self._out.send(self._proto.session_created(self._session_object()))

    async def close(self) -> None:
        """Stop any response in flight; called once the socket is gone."""
        self._out.shut()
        await self._responses.stop()

    # -- input ----------------------------------------------------------------------------
    async def handle_text(self, text: str) -> None:
        """One client event: dispatch it, or answer with an ``error`` event."""
        self._counters.events_in += 1
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):
            await self._out.send_error(
                "The server could not parse the event: it is not valid JSON.", code="invalid_json"
            )
            return
        if not isinstance(event, dict):
            await self._out.send_error("An event must be a JSON object.", code="invalid_json")
            return
        raw_id = event.get("event_id")
        event_id = raw_id if isinstance(raw_id, str) else None
        type_ = event.get("type")
        if not isinstance(type_, str):
            await self._out.send_error(
                "Missing required parameter: 'type'.",
                param="type",
                code="missing_required_parameter",
                event_id=event_id,
            )
            return
        handler = self._handlers.get(type_)
        if handler is None:
            supported = ", ".join(f"'{name}'" for name in self._handlers)
            await self._out.send_error(
                f"Invalid value: '{type_[:100]}'. Supported values are: {supported}.",
                param="type",
                event_id=event_id,
            )
            return
        try:
            await handler(event)
        except ClientError as exc:
            await self._out.send_error(exc.message, param=exc.param, code=exc.code, event_id=event_id)

    async def handle_bytes(self, data: bytes) -> None:
        self._counters.events_in += 1
        await self._out.send_error("Binary frames are not supported: send JSON text events.", code="invalid_json")

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
        await self._out.send(self._proto.session_updated(self._session_object()))

    # -- input audio buffer ---------------------------------------------------------------
    def _reset_vad(self) -> None:
        self._input.reset_vad(self._turn_detection())

    async def _on_append(self, event: dict[str, Any]) -> None:
        audio = event.get("audio")
        if not isinstance(audio, str):
            raise ClientError("Missing required parameter: 'audio'.", param="audio", code="missing_required_parameter")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise ClientError("Invalid 'audio': expected base64-encoded PCM16 audio.", param="audio") from None
        if len(self._input) + len(data) > self._settings.max_buffer_bytes:
            raise ClientError(
                f"The input audio buffer would exceed {self._settings.max_buffer_bytes} bytes; commit or clear it.",
                param="audio",
                code="input_audio_buffer_too_large",
            )
        self._counters.audio_bytes_in += len(data)
        self._input.append(data)
        if self._input.vad is not None:
            await self._run_vad(data)

    async def _run_vad(self, data: bytes) -> None:
        """Turn detection: speech starts a user item (and may interrupt the answer), silence commits it."""
        vad = self._input.vad
        assert vad is not None
        for vad_event in vad.feed(data):
            if vad_event.kind == "speech_started":
                start = self._input.start_turn(vad_event.position)
                self._input.speech_item_id = self._ids.new("item")
                await self._out.send(self._proto.speech_started(self._input.speech_item_id, duration_ms(start)))
                detection = self._turn_detection() or {}
                if self._responses.active is not None and detection.get("interrupt_response", True):
                    self._responses.active.cancel("turn_detected")
            else:
                item_id = self._input.speech_item_id or self._ids.new("item")
                self._input.speech_item_id = None
                await self._out.send(self._proto.speech_stopped(item_id, duration_ms(vad_event.position)))
                await self._commit(self._input.take(vad_event.position), item_id)
                detection = self._turn_detection() or {}
                if detection.get("create_response", True) and self._responses.active is None:
                    self._responses.start(None, None)
        if self._input.vad is vad and not vad.in_speech:
            self._input.keep_prefix_only()

    async def _on_commit(self, event: dict[str, Any]) -> None:
        if len(self._input) < MIN_COMMIT_MS * BYTES_PER_MS:
            have = len(self._input) / BYTES_PER_MS
            raise ClientError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS}ms of audio, but buffer only has {have:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self._input.speech_item_id or self._ids.new("item")
        audio = self._input.take()
        self._reset_vad()
        await self._commit(audio, item_id)

    async def _commit(self, audio: bytes, item_id: str) -> None:
        item = user_audio_item(item_id)
        previous = self._conversation.add(item, UserTurn(item_id, audio=audio))
        await self._out.send(self._proto.committed(item_id, previous))
        await self._out.send(self._proto.item_added(item, previous))
        await self._out.send(self._proto.item_done(item, previous))

    async def _on_clear(self, event: dict[str, Any]) -> None:
        self._input.clear()
        self._reset_vad()
        await self._out.send(self._proto.cleared())

    # -- conversation ---------------------------------------------------------------------
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
        if not isinstance(item_id, str) or item_id in self._conversation:
            raise ClientError(f"Item id {item_id!r} is invalid or already in the conversation.", param="item.id")

        server_content: list[dict[str, Any]] = []
        turn = UserTurn(item_id)
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

        server_item = message_item(item_id, role, server_content)
        previous = self._conversation.add(server_item, turn if role == "user" else None)
        await self._out.send(self._proto.item_added(server_item, previous))
        await self._out.send(self._proto.item_done(server_item, previous))

    def _require_item(self, event: dict[str, Any]) -> str:
        item_id = event.get("item_id")
        if not isinstance(item_id, str):
            message = "Missing required parameter: 'item_id'."
            raise ClientError(message, param="item_id", code="missing_required_parameter")
        if item_id not in self._conversation:
            raise ClientError(f"Item with item_id '{item_id[:100]}' not found.", param="item_id")
        return item_id

    async def _on_item_delete(self, event: dict[str, Any]) -> None:
        item_id = self._require_item(event)
        self._conversation.delete(item_id)
        await self._out.send(self._proto.item_deleted(item_id))

    async def _on_item_truncate(self, event: dict[str, Any]) -> None:
        item_id = self._require_item(event)
        audio_bytes = self._conversation.assistant_audio(item_id)
        if audio_bytes is None:
            raise ClientError("Only assistant audio items can be truncated.", param="item_id")
        content_index = event.get("content_index")
        audio_end_ms = event.get("audio_end_ms")
        if content_index != 0:
            raise ClientError("Invalid 'content_index': the audio is content part 0.", param="content_index")
        if isinstance(audio_end_ms, bool) or not isinstance(audio_end_ms, int) or audio_end_ms < 0:
            raise ClientError("Invalid 'audio_end_ms': expected a non-negative integer.", param="audio_end_ms")
        if audio_end_ms > duration_ms(audio_bytes):
            raise ClientError(
                f"audio_end_ms {audio_end_ms} is past the end of the item's audio ({duration_ms(audio_bytes)} ms).",
                param="audio_end_ms",
            )
        self._conversation.set_assistant_audio(item_id, audio_end_ms * BYTES_PER_MS)
        await self._out.send(self._proto.item_truncated(item_id, 0, audio_end_ms))

    # -- responses ------------------------------------------------------------------------
    async def _on_response_create(self, event: dict[str, Any]) -> None:
        if self._responses.active is not None:
            raise ClientError(
                f"Conversation already has an active response in progress: {self._responses.active.id}. "
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
        self._responses.start(raw_id if isinstance(raw_id, str) else None, metadata)

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        active = self._responses.active
        if active is None:
            raise ClientError("Cancellation failed: no active response found.", code="response_cancel_not_active")
        response_id = event.get("response_id")
        if response_id is not None and response_id != active.id:
            raise ClientError(f"Response '{str(response_id)[:100]}' is not the active response.", param="response_id")
        active.cancel("client_cancelled")
