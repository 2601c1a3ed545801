"""realtime-sim speaks the GA Realtime protocol, over a raw WebSocket, as a real subprocess.

Every event received in this module is validated against the official ``openai`` models
(``RealtimeServerEvent``) and must not carry fields those models do not declare. A tour
session makes the sim send every event type it declares, and each type gets its own test.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import json
import math
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fixtures.local_stack import LocalStack
from fixtures.openai_events import EventValidationError, validate_server_event
from stack.realtime_sim.protocol import SERVER_EVENT_TYPES

BYTES_PER_MS = 48  # PCM16, 24 kHz, mono
CHUNK_20MS = 20 * BYTES_PER_MS
NO_TURN_DETECTION = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}


# -- audio --------------------------------------------------------------------------------
def tone(ms: int, freq: float = 440.0, amplitude: float = 0.3) -> bytes:
    samples = ms * 24
    peak = amplitude * 32767
    step = 2 * math.pi * freq / 24000
    return array.array("h", (int(peak * math.sin(step * i)) for i in range(samples))).tobytes()


def silence(ms: int) -> bytes:
    return bytes(ms * BYTES_PER_MS)


def audio_of(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.output_audio.delta")


def of_type(events: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type_]


# -- client -------------------------------------------------------------------------------
class SimClient:
    """A raw WebSocket client that validates every event it receives and counts what it sent."""

    def __init__(self, ws: ClientConnection, *, validate: bool = True) -> None:
        self.ws = ws
        self.validate = validate
        self.received: list[dict[str, Any]] = []
        self.sent = 0
        self.session_id = ""

    async def send_raw(self, message: str | bytes) -> None:
        await self.ws.send(message)
        self.sent += 1

    async def send(self, type_: str, **fields: Any) -> str:
        event_id = f"evt_test_{self.sent + 1}"
        await self.send_raw(json.dumps({"type": type_, "event_id": event_id, **fields}))
        return event_id

    async def append(self, audio: bytes, chunk: int = CHUNK_20MS) -> None:
        for start in range(0, len(audio), chunk):
            encoded = base64.b64encode(audio[start : start + chunk]).decode("ascii")
            await self.send("input_audio_buffer.append", audio=encoded)

    async def recv(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            seen = [e["type"] for e in self.received[-8:]]
            raise AssertionError(
                f"no event within {timeout:.1f} s while waiting for {what}; last seen {seen}"
            ) from None
        event = json.loads(raw)
        if self.validate:
            validate_server_event(event)
        self.received.append(event)
        return event

    async def until(self, type_: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The events up to and including the first ``type_``, within one deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        collected: list[dict[str, Any]] = []
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{type_} did not arrive within {timeout} s; got {[e['type'] for e in collected]}")
            event = await self.recv(remaining, type_)
            collected.append(event)
            if event["type"] == type_:
                return collected

    async def until_closed(self, timeout: float = 10.0) -> tuple[list[dict[str, Any]], ConnectionClosed]:
        """Every event until the server drops the connection, within one deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        collected: list[dict[str, Any]] = []
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"the connection was not closed within {timeout} s; got {collected}")
            try:
                collected.append(await self.recv(remaining, "the connection to close"))
            except ConnectionClosed as closed:
                return collected, closed

    async def expect_quiet(self, seconds: float) -> None:
        try:
            event = await asyncio.wait_for(self.ws.recv(), seconds)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"expected no event for {seconds} s, got {json.loads(event)['type']}")

    async def update(self, session: dict[str, Any]) -> dict[str, Any]:
        await self.send("session.update", session=session)
        events = await self.until("session.updated")
        assert not of_type(events, "error"), events
        return events[-1]["session"]

    async def commit_audio(self, audio: bytes) -> None:
        await self.append(audio)
        await self.send("input_audio_buffer.commit")
        await self.until("conversation.item.done")

    async def respond(self, timeout: float = 15.0) -> list[dict[str, Any]]:
        await self.send("response.create")
        return await self.until("response.done", timeout)


def ws_url(stack: LocalStack, path: str) -> str:
    if path == "azure":
        return f"ws://127.0.0.1:{stack.sim_port}/openai/realtime?api-version=2025-08-28&deployment=gpt-realtime"
    return f"ws://127.0.0.1:{stack.sim_port}/v1/realtime?model=gpt-realtime"


def auth_headers(stack: LocalStack, path: str, key: str | None = None) -> dict[str, str]:
    key = stack.sim_api_key if key is None else key
    return {"api-key": key} if path == "azure" else {"Authorization": f"Bearer {key}"}


@contextlib.asynccontextmanager
async def open_session(stack: LocalStack, path: str = "openai", *, validate: bool = True) -> AsyncIterator[SimClient]:
    ws = await asyncio.wait_for(connect(ws_url(stack, path), additional_headers=auth_headers(stack, path)), 10)
    try:
        client = SimClient(ws, validate=validate)
        created = await client.recv(5, "session.created")
        assert created["type"] == "session.created"
        client.session_id = created["session"]["id"]
        yield client
    finally:
        await ws.close()


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


async def get_json(stack: LocalStack, path: str) -> dict[str, Any]:
    return await asyncio.to_thread(_get_json, f"{stack.sim_url}{path}")


async def wait_for_stats(stack: LocalStack, what: str, check: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Poll /stats until ``check(stats)`` holds; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        stats = await get_json(stack, "/stats")
        if check(stats):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"/stats never showed {what} within {timeout} s; last: {stats}")
        await asyncio.sleep(0.05)


async def wait_for_live(stack: LocalStack, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        health = await get_json(stack, "/health")
        if health["sessions"] == count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"/health never reported {count} live sessions within {timeout} s; last: {health}")
        await asyncio.sleep(0.05)


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim() -> Iterator[LocalStack]:
    with LocalStack(services=["realtime-sim"]) as stack:
        yield stack


async def _tour(stack: LocalStack) -> list[dict[str, Any]]:
    """One session that makes the sim send every event type it can send.

    It records events without validating them, so that a broken event fails the test
    named after its type rather than this fixture."""
    async with open_session(stack, validate=False) as client:
        await client.update({"type": "realtime", "instructions": "tour"})
        await client.send("no.such.event")
        await client.until("error")
        await client.append(silence(200) + tone(600) + silence(700))  # server VAD answers by itself
        first_response = await client.until("response.done")
        assistant_id = of_type(first_response, "response.output_item.done")[0]["item"]["id"]
        await client.append(silence(100))
        await client.send("input_audio_buffer.clear")
        await client.until("input_audio_buffer.cleared")
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
        await client.send("conversation.item.create", item=item)
        text_item_id = (await client.until("conversation.item.done"))[-1]["item"]["id"]
        await client.send("conversation.item.truncate", item_id=assistant_id, content_index=0, audio_end_ms=100)
        await client.until("conversation.item.truncated")
        await client.send("conversation.item.delete", item_id=text_item_id)
        await client.until("conversation.item.deleted")
        return client.received


@pytest.fixture(scope="module")
def tour_events(sim: LocalStack) -> list[dict[str, Any]]:
    return asyncio.run(asyncio.wait_for(_tour(sim), 60))


# -- every event type -----------------------------------------------------------------------
@pytest.mark.parametrize("event_type", sorted(SERVER_EVENT_TYPES))
def test_event_type_is_sent_and_validates(tour_events: list[dict[str, Any]], event_type: str) -> None:
    events = of_type(tour_events, event_type)
    assert events, f"the tour session never received {event_type}"
    for event in events:
        model = validate_server_event(event)
        assert model.type == event_type


def test_observed_event_types_are_exactly_the_declared_ones(tour_events: list[dict[str, Any]]) -> None:
    assert {e["type"] for e in tour_events} == SERVER_EVENT_TYPES


def test_event_ids_are_unique(tour_events: list[dict[str, Any]]) -> None:
    ids = [e["event_id"] for e in tour_events]
    assert all(ids)
    assert len(set(ids)) == len(ids)


def test_validation_catches_a_broken_event(tour_events: list[dict[str, Any]]) -> None:
    """The check above has teeth: drop a required field or add an undeclared one and it fails."""
    delta = dict(of_type(tour_events, "response.output_audio.delta")[0])
    del delta["item_id"]
    with pytest.raises(EventValidationError, match="item_id"):
        validate_server_event(delta)
    done = json.loads(json.dumps(of_type(tour_events, "response.done")[0]))
    done["response"]["usage"]["input_tokenz"] = 1
    with pytest.raises(EventValidationError, match="input_tokenz"):
        validate_server_event(done)


# -- turns --------------------------------------------------------------------------------
async def test_session_created_announces_the_ga_defaults(sim: LocalStack) -> None:
    async with open_session(sim, "azure") as client:
        session = client.received[0]["session"]
        assert session["type"] == "realtime"
        assert session["model"] == "gpt-realtime"
        assert session["output_modalities"] == ["audio"]
        assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert session["audio"]["input"]["turn_detection"]["create_response"] is True


async def test_echo_is_byte_exact(sim: LocalStack) -> None:
    audio = silence(500) + tone(1000) + silence(500)
    async with open_session(sim) as client:
        await client.update(NO_TURN_DETECTION)
        await client.append(audio)
        await client.send("input_audio_buffer.commit")
        committed = await client.until("input_audio_buffer.committed")
        assert not of_type(committed, "error")
        events = await client.respond()
        assert audio_of(events) == audio
        deltas = of_type(events, "response.output_audio.delta")
        assert len(deltas) == math.ceil(len(audio) / 4800)
        assert all(len(base64.b64decode(d["delta"])) <= 4800 for d in deltas)
        transcript = of_type(events, "response.output_audio_transcript.done")[0]["transcript"]
        assert transcript == "I heard 2.00 seconds of audio."
        assert "".join(e["delta"] for e in of_type(events, "response.output_audio_transcript.delta")) == transcript
        done = events[-1]["response"]
        assert done["status"] == "completed"
        assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"] > 0


async def test_response_events_come_in_protocol_order(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        await client.update(NO_TURN_DETECTION)
        await client.commit_audio(tone(300))
        events = await client.respond()
        order = [e["type"] for e in events if not e["type"].endswith(".delta")]
        assert order == [
            "response.created",
            "response.output_item.added",
            "conversation.item.added",
            "response.content_part.added",
            "response.output_audio.done",
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done",
        ]
        response_id = events[0]["response"]["id"]
        assert {e.get("response_id", response_id) for e in events} == {response_id}


async def test_text_item_is_answered_with_its_text_and_no_audio(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]}
        await client.send("conversation.item.create", item=item)
        added = await client.until("conversation.item.done")
        assert [e["type"] for e in added] == ["conversation.item.added", "conversation.item.done"]
        assert added[-1]["item"]["content"] == [{"type": "input_text", "text": "hello there"}]
        events = await client.respond()
        assert of_type(events, "response.output_audio_transcript.done")[0]["transcript"] == "You said: hello there"
        assert audio_of(events) == b""
        assert events[-1]["response"]["status"] == "completed"


async def test_response_without_any_input_is_short_and_valid(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        events = await client.respond()
        assert of_type(events, "response.output_audio_transcript.done")[0]["transcript"] == "I heard nothing."
        assert not of_type(events, "response.output_audio.delta")
        assert events[-1]["response"]["status"] == "completed"


async def test_server_vad_answers_after_speech_then_silence(sim: LocalStack) -> None:
    audio = silence(400) + tone(1000) + silence(1000)
    async with open_session(sim) as client:
        await client.append(audio)
        events = await client.until("response.done")
        types = [e["type"] for e in events]
        for expected in ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"):
            assert expected in types
        assert types.index("input_audio_buffer.speech_stopped") < types.index("input_audio_buffer.committed")
        assert types.index("input_audio_buffer.committed") < types.index("response.created")
        started = of_type(events, "input_audio_buffer.speech_started")[0]
        stopped = of_type(events, "input_audio_buffer.speech_stopped")[0]
        committed = of_type(events, "input_audio_buffer.committed")[0]
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        assert started["audio_start_ms"] <= 400  # speech began at 400 ms; prefix padding goes before
        assert stopped["audio_end_ms"] >= 1400 + 500  # speech ended at 1400 ms, silence_duration_ms 500
        start, end = started["audio_start_ms"] * BYTES_PER_MS, stopped["audio_end_ms"] * BYTES_PER_MS
        assert audio_of(events) == audio[start:end]
        assert tone(1000) in audio_of(events)


async def test_semantic_vad_also_answers_after_speech_then_silence(sim: LocalStack) -> None:
    audio = silence(300) + tone(600) + silence(800)
    async with open_session(sim) as client:
        session = await client.update(
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}}}
        )
        assert session["audio"]["input"]["turn_detection"] == {
            "type": "semantic_vad",
            "eagerness": "high",
            "create_response": True,
            "interrupt_response": True,
        }
        await client.append(audio)
        events = await client.until("response.done")
        assert of_type(events, "input_audio_buffer.speech_stopped")
        assert tone(600) in audio_of(events)


async def test_without_turn_detection_only_commit_and_create_answer(sim: LocalStack) -> None:
    audio = tone(600) + silence(800)
    async with open_session(sim) as client:
        session = await client.update(NO_TURN_DETECTION)
        assert session["audio"]["input"]["turn_detection"] is None
        await client.append(audio)
        await client.expect_quiet(1.0)
        await client.send("input_audio_buffer.commit")
        await client.until("conversation.item.done")
        await client.expect_quiet(0.5)
        assert audio_of(await client.respond()) == audio


async def test_speech_interrupts_a_response_in_progress(sim: LocalStack) -> None:
    spoken = {"type": "input_audio", "audio": base64.b64encode(tone(2000)).decode()}
    async with open_session(sim) as client:
        await client.update({"type": "realtime", "metadata": {"sim_audio_pace": "realtime"}})
        await client.send("conversation.item.create", item={"type": "message", "role": "user", "content": [spoken]})
        await client.until("conversation.item.done")
        await client.send("response.create")
        await client.until("response.output_audio.delta")
        await client.append(tone(200))
        events = await client.until("response.done")
        assert "input_audio_buffer.speech_started" in [e["type"] for e in events]
        response = events[-1]["response"]
        assert response["status"] == "cancelled"
        assert response["status_details"]["reason"] == "turn_detected"


# -- control ------------------------------------------------------------------------------
async def test_response_cancel_stops_the_audio(sim: LocalStack) -> None:
    audio = tone(2000)
    async with open_session(sim) as client:
        await client.update({**NO_TURN_DETECTION, "metadata": {"sim_audio_pace": "realtime"}})
        await client.send("response.cancel")
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "response_cancel_not_active"
        await client.commit_audio(audio)
        await client.send("response.create")
        first = await client.until("response.output_audio.delta")
        await client.send("response.create")
        busy = (await client.until("error"))[-1]["error"]
        assert busy["code"] == "conversation_already_has_active_response"
        await client.send("response.cancel")
        events = first + await client.until("response.done")
        response = events[-1]["response"]
        assert response["status"] == "cancelled"
        assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert response["output"][0]["status"] == "incomplete"
        assert 0 < len(audio_of(events)) < len(audio)
        assert audio.startswith(audio_of(events))


async def test_clear_empties_the_buffer_and_commit_refuses_an_empty_one(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        await client.update(NO_TURN_DETECTION)
        await client.append(tone(500))
        await client.send("input_audio_buffer.clear")
        await client.until("input_audio_buffer.cleared")
        event_id = await client.send("input_audio_buffer.commit")
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert error["event_id"] == event_id


async def test_session_update_merges_and_keeps_metadata_private(sim: LocalStack) -> None:
    rich = {
        "type": "realtime",
        "instructions": "Be brief.",
        "audio": {
            "input": {
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 300},
                "transcription": {"model": "gpt-4o-mini-transcribe"},
                "noise_reduction": {"type": "near_field"},
            },
            "output": {"voice": "alloy", "speed": 1.1},
        },
        "tools": [{"type": "function", "name": "lookup", "description": "d", "parameters": {"type": "object"}}],
        "tool_choice": "auto",
        "max_output_tokens": 1024,
        "tracing": "auto",
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
        "metadata": {"sim_response_delay_ms": "0", "note": "not for the model"},
    }
    async with open_session(sim) as client:
        session = await client.update(rich)
        assert "metadata" not in session
        assert session["instructions"] == "Be brief."
        detection = session["audio"]["input"]["turn_detection"]
        assert detection["silence_duration_ms"] == 300
        assert detection["threshold"] == 0.5  # completed from the defaults
        assert session["audio"]["output"]["voice"] == "alloy"
        assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert session["max_output_tokens"] == 1024
        again = await client.update({"type": "realtime", "instructions": "Be kind."})
        assert again["instructions"] == "Be kind."
        assert again["audio"]["output"]["voice"] == "alloy"
        assert again["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 300


@pytest.mark.parametrize(
    ("session", "param", "code"),
    [
        ({"modalities": ["audio"]}, "session.modalities", "unknown_parameter"),
        ({"audio": {"input": {"format": {"type": "audio/pcmu"}}}}, "session.audio.input.format", "invalid_value"),
        ({"metadata": {"sim_fault": "explode"}}, "session.metadata.sim_fault", "invalid_value"),
        ({"metadata": {"sim_response_delay_ms": "soon"}}, "session.metadata.sim_response_delay_ms", "invalid_value"),
        ({"type": "transcription"}, "session.type", "invalid_value"),
    ],
)
async def test_session_update_refuses_what_it_cannot_honour(
    sim: LocalStack, session: dict[str, Any], param: str, code: str
) -> None:
    async with open_session(sim) as client:
        event_id = await client.send("session.update", session=session)
        error = (await client.until("error"))[-1]["error"]
        assert (error["param"], error["code"], error["event_id"]) == (param, code, event_id)
        assert error["type"] == "invalid_request_error"
        assert (await client.update({"type": "realtime"}))["audio"]["input"]["format"]["type"] == "audio/pcm"


async def test_malformed_events_get_errors_and_the_connection_stays_usable(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        await client.send_raw("{not json")
        error = (await client.until("error"))[-1]["error"]
        assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_json")
        await client.send_raw(b"\x00\x01binary")
        assert (await client.until("error"))[-1]["error"]["type"] == "invalid_request_error"
        await client.send_raw("[1, 2]")
        assert (await client.until("error"))[-1]["error"]["type"] == "invalid_request_error"
        event_id = await client.send("response.make_it_so")
        error = (await client.until("error"))[-1]["error"]
        assert (error["type"], error["param"], error["event_id"]) == ("invalid_request_error", "type", event_id)
        event_id = await client.send("input_audio_buffer.append", audio="***not base64***")
        assert (await client.until("error"))[-1]["error"]["event_id"] == event_id
        event_id = await client.send("conversation.item.create", item={"type": "message", "role": "robot"})
        assert (await client.until("error"))[-1]["error"]["param"] == "item.role"
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "still here"}]}
        await client.send("conversation.item.create", item=item)
        events = await client.respond()
        assert of_type(events, "response.output_audio_transcript.done")[0]["transcript"] == "You said: still here"


# -- knobs --------------------------------------------------------------------------------
async def test_fault_error_event_replaces_the_response_and_keeps_the_connection(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        await client.update({"type": "realtime", "metadata": {"sim_fault": "error_event"}})
        event_id = await client.send("response.create")
        events = await client.until("error")
        assert not of_type(events, "response.created")
        error = events[-1]["error"]
        assert (error["type"], error["event_id"]) == ("server_error", event_id)
        await client.update({"type": "realtime", "metadata": {"sim_fault": "none"}})
        assert (await client.respond())[-1]["response"]["status"] == "completed"


async def test_fault_close_drops_the_connection_at_the_next_response(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        await client.update({"type": "realtime", "metadata": {"sim_fault": "close"}})
        await client.expect_quiet(0.3)  # the knob alone does nothing yet
        await client.send("response.create")
        events, closed = await client.until_closed()
        assert not of_type(events, "response.created")
        assert closed.rcvd is None or closed.rcvd.code == 1011, f"expected an abrupt drop, got {closed!r}"


async def test_fault_close_after_audio_sends_some_audio_then_drops(sim: LocalStack) -> None:
    audio = tone(1000)
    async with open_session(sim) as client:
        await client.update({**NO_TURN_DETECTION, "metadata": {"sim_fault": "close_after_audio"}})
        await client.commit_audio(audio)
        await client.send("response.create")
        events, closed = await client.until_closed()
        assert of_type(events, "response.created")
        assert 0 < len(audio_of(events)) < len(audio)
        assert not of_type(events, "response.done")
        assert closed.rcvd is None or closed.rcvd.code == 1011, f"expected an abrupt drop, got {closed!r}"


async def test_response_delay_knob_delays_the_response(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        await client.update({"type": "realtime", "metadata": {"sim_response_delay_ms": "400"}})
        started = time.monotonic()
        await client.send("response.create")
        await client.until("response.created")
        assert time.monotonic() - started >= 0.4


async def test_realtime_pace_streams_audio_at_playback_speed(sim: LocalStack) -> None:
    async with open_session(sim) as client:
        await client.update({**NO_TURN_DETECTION, "metadata": {"sim_audio_pace": "realtime"}})
        await client.commit_audio(tone(1000))
        await client.send("response.create")
        await client.until("response.created")
        started = time.monotonic()
        events = await client.until("response.done")
        assert time.monotonic() - started >= 0.9  # 1 s of audio; never assert an upper bound
        assert len(audio_of(events)) == len(tone(1000))


# -- auth ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["openai", "azure"])
@pytest.mark.parametrize("key", ["missing", "wrong"])
async def test_handshake_is_refused_without_the_right_key(sim: LocalStack, path: str, key: str) -> None:
    headers = {} if key == "missing" else auth_headers(sim, path, "wrong-key-0123456789")
    with pytest.raises(InvalidStatus) as refused:
        await asyncio.wait_for(connect(ws_url(sim, path), additional_headers=headers), 10)
    assert refused.value.response.status_code == 401
    body = json.loads(refused.value.response.body)
    assert body["error"]["code"] == "invalid_api_key"
    assert sim.sim_api_key not in refused.value.response.body.decode()


async def test_azure_path_requires_its_query_parameters(sim: LocalStack) -> None:
    url = f"ws://127.0.0.1:{sim.sim_port}/openai/realtime?deployment=gpt-realtime"
    with pytest.raises(InvalidStatus) as refused:
        await asyncio.wait_for(connect(url, additional_headers=auth_headers(sim, "azure")), 10)
    assert refused.value.response.status_code == 400


# -- health and stats ---------------------------------------------------------------------
async def test_health_counts_live_sessions_back_to_zero(sim: LocalStack) -> None:
    await wait_for_live(sim, 0)
    async with contextlib.AsyncExitStack() as stack:
        for path in ("openai", "azure", "openai"):
            await stack.enter_async_context(open_session(sim, path))
        await wait_for_live(sim, 3)
    await wait_for_live(sim, 0)


async def test_stats_count_audio_events_responses_and_faults(sim: LocalStack) -> None:
    audio = tone(1000)
    async with open_session(sim) as client:
        await client.update(NO_TURN_DETECTION)
        await client.commit_audio(audio)
        await client.respond()
        sid = client.session_id

        def ours(stats: dict[str, Any]) -> dict[str, Any] | None:
            return next((s for s in stats["sessions"] if s["session_id"] == sid), None)

        stats = await wait_for_stats(
            sim, "the session's events", lambda s: (ours(s) or {}).get("events_out") == len(client.received)
        )
        entry = ours(stats)
        assert entry is not None
        assert entry["audio_bytes_in"] == len(audio)
        assert entry["audio_bytes_out"] == len(audio)
        assert entry["responses"] == 1
        assert entry["events_in"] == client.sent
        assert entry["faults"] == 0
        assert entry["path"] == "openai"
        assert entry["created"] <= time.time()

        await client.update({"type": "realtime", "metadata": {"sim_fault": "error_event"}})
        await client.send("response.create")
        await client.until("error")
        await wait_for_stats(sim, "one fault", lambda s: (ours(s) or {}).get("faults") == 1)

    stats = await wait_for_stats(
        sim, "the session closed", lambda s: any(c["session_id"] == sid for c in s["recently_closed"])
    )
    closed = next(c for c in stats["recently_closed"] if c["session_id"] == sid)
    assert closed["closed"] >= closed["created"]
    assert stats["opened"] - stats["closed"] == stats["live"] == len(stats["sessions"])
    assert stats["totals"]["faults"] >= 1
    assert stats["totals"]["audio_bytes_out"] >= len(audio)


async def test_keys_never_reach_the_log(sim: LocalStack) -> None:
    wrong = "wrong-key-for-the-log-test-42"
    with pytest.raises(InvalidStatus):
        await asyncio.wait_for(connect(ws_url(sim, "azure"), additional_headers={"api-key": wrong}), 10)
    async with open_session(sim, "azure") as client:
        await client.respond()
    deadline = time.monotonic() + 10  # the log is written by a background thread
    while not all(line in sim.log_text("realtime-sim") for line in ("handshake refused", "session closed")):
        assert time.monotonic() < deadline, "the sim never logged the refusal and the session"
        await asyncio.sleep(0.05)
    log = sim.log_text("realtime-sim")
    assert sim.sim_api_key not in log
    assert wrong not in log
