"""Server events of the OpenAI Realtime API (GA names), built as plain dicts.

Plain dicts, not the ``openai`` models: the sim's container installs only
``stack/requirements.txt`` (no ``openai``) and builds thousands of events a second. The
tests validate every event the sim sends against ``openai.types.realtime``'s
``RealtimeServerEvent`` instead; :data:`SERVER_EVENT_TYPES` lists what can be sent, and
the tests check that each of them is observed from a real session.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

Event = dict[str, Any]

SERVER_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "session.created",
        "session.updated",
        "error",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.deleted",
        "conversation.item.truncated",
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_audio.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    }
)

PCM_FORMAT: dict[str, Any] = {"type": "audio/pcm", "rate": 24000}


class Ids:
    """Ids unique within the process: a random prefix per session plus a counter.

    Cheaper than a random token per event and never repeats within a session.
    """

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(5)
        self._counter = itertools.count(1)

    def new(self, kind: str) -> str:
        return f"{kind}_{self._prefix}{next(self._counter):06x}"


class Protocol:
    """Builds each server event with a fresh ``event_id``; one per session."""

    def __init__(self, ids: Ids) -> None:
        self.ids = ids

    def _event(self, type_: str, **fields: Any) -> Event:
        return {"type": type_, "event_id": self.ids.new("event"), **fields}

    # -- session ---------------------------------------------------------------------
    def session_created(self, session: dict[str, Any]) -> Event:
        return self._event("session.created", session=session)

    def session_updated(self, session: dict[str, Any]) -> Event:
        return self._event("session.updated", session=session)

    def error(
        self,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
    ) -> Event:
        return self._event(
            "error",
            error={"type": type_, "code": code, "message": message, "param": param, "event_id": event_id},
        )

    # -- input audio buffer ------------------------------------------------------------
    def committed(self, item_id: str, previous_item_id: str | None) -> Event:
        return self._event("input_audio_buffer.committed", item_id=item_id, previous_item_id=previous_item_id)

    def cleared(self) -> Event:
        return self._event("input_audio_buffer.cleared")

    def speech_started(self, item_id: str, audio_start_ms: int) -> Event:
        return self._event("input_audio_buffer.speech_started", item_id=item_id, audio_start_ms=audio_start_ms)

    def speech_stopped(self, item_id: str, audio_end_ms: int) -> Event:
        return self._event("input_audio_buffer.speech_stopped", item_id=item_id, audio_end_ms=audio_end_ms)

    # -- conversation ------------------------------------------------------------------
    def item_added(self, item: dict[str, Any], previous_item_id: str | None) -> Event:
        return self._event("conversation.item.added", previous_item_id=previous_item_id, item=item)

    def item_done(self, item: dict[str, Any], previous_item_id: str | None) -> Event:
        return self._event("conversation.item.done", previous_item_id=previous_item_id, item=item)

    def item_deleted(self, item_id: str) -> Event:
        return self._event("conversation.item.deleted", item_id=item_id)

    def item_truncated(self, item_id: str, content_index: int, audio_end_ms: int) -> Event:
        return self._event(
            "conversation.item.truncated", item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms
        )

    # -- response ----------------------------------------------------------------------
    def response_created(self, response: dict[str, Any]) -> Event:
        return self._event("response.created", response=response)

    def response_done(self, response: dict[str, Any]) -> Event:
        return self._event("response.done", response=response)

    def output_item_added(self, response_id: str, item: dict[str, Any]) -> Event:
        return self._event("response.output_item.added", response_id=response_id, output_index=0, item=item)

    def output_item_done(self, response_id: str, item: dict[str, Any]) -> Event:
        return self._event("response.output_item.done", response_id=response_id, output_index=0, item=item)

    def _part_event(self, type_: str, response_id: str, item_id: str, **fields: Any) -> Event:
        return self._event(type_, response_id=response_id, item_id=item_id, output_index=0, content_index=0, **fields)

    def content_part_added(self, response_id: str, item_id: str) -> Event:
        part = {"type": "audio", "transcript": ""}
        return self._part_event("response.content_part.added", response_id, item_id, part=part)

    def content_part_done(self, response_id: str, item_id: str, transcript: str) -> Event:
        part = {"type": "audio", "transcript": transcript}
        return self._part_event("response.content_part.done", response_id, item_id, part=part)

    def audio_delta(self, response_id: str, item_id: str, delta_b64: str) -> Event:
        return self._part_event("response.output_audio.delta", response_id, item_id, delta=delta_b64)

    def audio_done(self, response_id: str, item_id: str) -> Event:
        return self._part_event("response.output_audio.done", response_id, item_id)

    def transcript_delta(self, response_id: str, item_id: str, delta: str) -> Event:
        return self._part_event("response.output_audio_transcript.delta", response_id, item_id, delta=delta)

    def transcript_done(self, response_id: str, item_id: str, transcript: str) -> Event:
        return self._part_event("response.output_audio_transcript.done", response_id, item_id, transcript=transcript)


# -- objects carried inside events ------------------------------------------------------
def user_audio_item(item_id: str) -> dict[str, Any]:
    """A committed audio turn; like the real API, the audio itself is not repeated back."""
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }


def message_item(item_id: str, role: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": role,
        "content": content,
    }


def assistant_item(item_id: str, status: str, transcript: str | None) -> dict[str, Any]:
    content = [] if transcript is None else [{"type": "output_audio", "transcript": transcript}]
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def usage(*, input_text: int, input_audio: int, output_text: int, output_audio: int) -> dict[str, Any]:
    input_tokens = input_text + input_audio
    output_tokens = output_text + output_audio
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": input_text,
            "audio_tokens": input_audio,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
    }


def response_object(
    response_id: str,
    *,
    conversation_id: str,
    status: str,
    voice: str,
    max_output_tokens: int | str,
    output: list[dict[str, Any]],
    metadata: dict[str, str] | None,
    status_details: dict[str, Any] | None = None,
    usage_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "object": "realtime.response",
        "id": response_id,
        "status": status,
        "status_details": status_details,
        "output": output,
        "conversation_id": conversation_id,
        "output_modalities": ["audio"],
        "max_output_tokens": max_output_tokens,
        "audio": {"output": {"format": dict(PCM_FORMAT), "voice": voice}},
        "usage": usage_,
        "metadata": metadata,
    }
