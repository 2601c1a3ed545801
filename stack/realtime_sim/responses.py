"""Response production: one response at a time, each streamed by its own task.

A response answers the pending user turns deterministically: its audio is exactly the
audio committed since the previous response (byte for byte), its transcript says what
was heard. The knobs decide how it goes: a delay before it starts, an injected fault
instead of (or in the middle of) it, audio paced at playback speed or as fast as the
socket takes it. Cancellation (``response.cancel``, barge-in) is cooperative, checked
between events, so an event is never half sent and every started part is finished.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from stack.service import log_fields

from .conversation import Conversation, UserTurn
from .faults import Knobs
from .outbox import Outbox, SessionGone
from .protocol import Ids, Protocol, assistant_item, response_object, usage
from .stats import SessionCounters
from .vad import BYTES_PER_MS, duration_ms

# The session's logger: these records are about the session, and log readers know it by this name.
log = logging.getLogger("realtime_sim.session")


class Response:
    """A response in flight: what the client gave it, and the cancellation it must heed."""

    def __init__(self, response_id: str, trigger_event_id: str | None, metadata: dict[str, str] | None) -> None:
        self.id = response_id
        self.trigger_event_id = trigger_event_id
        self.metadata = metadata
        self.cancel_reason: str | None = None
        self.task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def cancel(self, reason: str) -> None:
        """Ask the producer to stop at its next event; the first reason is the one reported."""
        if self.cancel_reason is None:
            self.cancel_reason = reason
            self._wake.set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when cancelled."""
        if seconds <= 0 or self.cancel_reason is not None:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)


def describe(turns: list[UserTurn]) -> str:
    """What the sim says back: the text it was given and how much audio it heard."""
    texts = [turn.text for turn in turns if turn.text]
    audio_bytes = sum(len(turn.audio) for turn in turns)
    parts = []
    if texts:
        parts.append("You said: " + " ".join(texts))
    if audio_bytes:
        parts.append(f"I heard {audio_bytes / (BYTES_PER_MS * 1000):.2f} seconds of audio.")
    return " ".join(parts) or "I heard nothing."


def _tokens_for_audio(byte_count: int) -> int:
    return math.ceil(duration_ms(byte_count) / 100)  # deterministic stand-in: 10 tokens per second


def _tokens_for_text(text: str) -> int:
    return math.ceil(len(text) / 4)


def response_usage(turns: list[UserTurn], input_audio: bytes, said: str, sent_audio: int) -> dict[str, Any]:
    """Token usage of a response, from what it heard and what it actually sent."""
    return usage(
        input_text=sum(_tokens_for_text(turn.text) for turn in turns),
        input_audio=_tokens_for_audio(len(input_audio)),
        output_text=_tokens_for_text(said),
        output_audio=_tokens_for_audio(sent_audio),
    )


class Responder:
    """Runs a session's responses, one at a time, and streams each one's events.

    ``knobs`` and ``config`` are read when needed, not copied: a ``session.update`` changes
    how the next response goes (and what its ``response`` object reports).
    """

    def __init__(
        self,
        *,
        session_id: str,
        ids: Ids,
        proto: Protocol,
        outbox: Outbox,
        counters: SessionCounters,
        conversation: Conversation,
        chunk_ms: int,
        knobs: Callable[[], Knobs],
        config: Callable[[], dict[str, Any]],
    ) -> None:
        self._session_id = session_id
        self._ids = ids
        self._proto = proto
        self._out = outbox
        self._counters = counters
        self._conversation = conversation
        self._chunk_bytes = chunk_ms * BYTES_PER_MS
        self._knobs = knobs
        self._config = config
        self.active: Response | None = None

    # -- running ----------------------------------------------------------------------------
    def start(self, trigger_event_id: str | None, metadata: dict[str, str] | None) -> None:
        """Start a response as its own task, so ``response.cancel`` and barge-in can stop it."""
        response = Response(self._ids.new("resp"), trigger_event_id, metadata)
        self.active = response
        response.task = asyncio.create_task(self._run(response), name=f"sim {response.id}")
        response.task.add_done_callback(self._task_done)

    async def stop(self) -> None:
        """Cancel the task of a response in flight outright: the socket is gone, nothing is owed."""
        response = self.active
        task = response.task if response else None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task}, timeout=5)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error(
                "response failed",
                exc_info=exc,
                extra=log_fields(session_id=self._session_id),
            )

    async def _run(self, response: Response) -> None:
        try:
            await self._produce(response)
        except SessionGone:
            pass
        finally:
            if self.active is response:
                self.active = None

    # -- producing --------------------------------------------------------------------------
    def _record_fault(self, fault: str) -> None:
        self._counters.faults += 1
        log.warning("fault injected", extra=log_fields(session_id=self._session_id, fault=fault))

    def _drop_connection(self, fault: str) -> None:
        self._record_fault(fault)
        self._out.drop_connection()

    def _response_object(self, response: Response, status: str, **fields: Any) -> dict[str, Any]:
        config = self._config()
        voice = config["audio"]["output"].get("voice", "marin")
        return response_object(
            response.id,
            conversation_id=self._conversation.id,
            status=status,
            voice=voice["id"] if isinstance(voice, dict) else voice,
            max_output_tokens=config.get("max_output_tokens", "inf"),
            metadata=response.metadata,
            **fields,
        )

    async def _produce(self, response: Response) -> None:
        knobs = self._knobs()
        await response.sleep(knobs.response_delay_ms / 1000)
        if response.cancel_reason is None:
            if knobs.fault == "error_event":
                self._record_fault(knobs.fault)
                await self._out.send_error(
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
        await self._out.send(self._proto.response_created(self._response_object(response, "in_progress", output=[])))
        if response.cancel_reason is not None:  # cancelled while waiting: nothing consumed
            self._counters.responses_cancelled += 1
            details = {"type": "cancelled", "reason": response.cancel_reason}
            done = self._response_object(response, "cancelled", output=[], status_details=details)
            await self._out.send(self._proto.response_done(done))
            return

        turns = self._conversation.take_pending()
        audio = b"".join(turn.audio for turn in turns)
        transcript = describe(turns)
        rid, item_id = response.id, self._ids.new("item")
        item = assistant_item(item_id, "in_progress", None)
        previous = self._conversation.add(item)
        self._conversation.set_assistant_audio(item_id, 0)
        await self._out.send(self._proto.output_item_added(rid, item))
        await self._out.send(self._proto.item_added(item, previous))
        await self._out.send(self._proto.content_part_added(rid, item_id))

        chunk_bytes = self._chunk_bytes
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
                await self._out.send(self._proto.audio_delta(rid, item_id, base64.b64encode(chunk).decode("ascii")))
                self._counters.audio_bytes_out += len(chunk)
                sent_audio += len(chunk)
                self._conversation.set_assistant_audio(item_id, sent_audio)
                if drop_after is not None and index + 1 >= drop_after:
                    self._drop_connection(knobs.fault)
                    return
            if index < len(words):
                await self._out.send(self._proto.transcript_delta(rid, item_id, words[index]))
                said.append(words[index])
            if realtime:
                await response.sleep(started + sent_audio / (BYTES_PER_MS * 1000) - loop.time())
            else:
                await asyncio.sleep(0)  # let other sessions (and response.cancel) in

        cancelled = response.cancel_reason is not None
        final = "".join(said).rstrip() if cancelled else transcript
        await self._out.send(self._proto.audio_done(rid, item_id))
        await self._out.send(self._proto.transcript_done(rid, item_id, final))
        await self._out.send(self._proto.content_part_done(rid, item_id, final))
        item = assistant_item(item_id, "incomplete" if cancelled else "completed", final)
        self._conversation.replace(item)
        await self._out.send(self._proto.output_item_done(rid, item))
        await self._out.send(self._proto.item_done(item, previous))
        counted = response_usage(turns, audio, final, sent_audio)
        if cancelled:
            self._counters.responses_cancelled += 1
            details = {"type": "cancelled", "reason": response.cancel_reason}
            done = self._response_object(response, "cancelled", output=[item], status_details=details, usage_=counted)
        else:
            done = self._response_object(response, "completed", output=[item], usage_=counted)
        await self._out.send(self._proto.response_done(done))
