"""The official ``openai`` client completes turns against realtime-sim, OpenAI and Azure style.

This is the compatibility promise the app relies on: whatever the SDK sends, the sim
understands, and whatever the sim sends, the SDK parses into its own event classes.
"""

from __future__ import annotations

import array
import asyncio
import base64
import math
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI
from websockets.exceptions import InvalidStatus

from fixtures.local_stack import LocalStack

API_VERSION = "2025-08-28"
MODEL = "gpt-realtime"


def tone(ms: int, freq: float = 440.0, amplitude: float = 0.3) -> bytes:
    peak = amplitude * 32767
    step = 2 * math.pi * freq / 24000
    return array.array("h", (int(peak * math.sin(step * i)) for i in range(ms * 24))).tobytes()


def silence(ms: int) -> bytes:
    return bytes(ms * 48)


@pytest.fixture(scope="module")
def sim() -> Iterator[LocalStack]:
    with LocalStack(services=["realtime-sim"]) as stack:
        yield stack


def openai_client(sim: LocalStack, key: str | None = None) -> AsyncOpenAI:
    return AsyncOpenAI(
        api_key=sim.sim_api_key if key is None else key,
        websocket_base_url=f"ws://127.0.0.1:{sim.sim_port}/v1",
        max_retries=0,
    )


def azure_client(sim: LocalStack) -> AsyncAzureOpenAI:
    # An http:// azure_endpoint alone makes the SDK dial wss:// (see the pitfall test below),
    # so a plain-HTTP endpoint needs websocket_base_url too.
    return AsyncAzureOpenAI(
        azure_endpoint=sim.sim_url,
        api_key=sim.sim_api_key,
        api_version=API_VERSION,
        azure_deployment=MODEL,
        websocket_base_url=f"ws://127.0.0.1:{sim.sim_port}/openai",
        max_retries=0,
    )


async def events_until(connection: Any, type_: str, timeout: float = 15.0) -> list[Any]:
    """SDK-parsed events up to and including the first ``type_``."""

    async def collect() -> list[Any]:
        events = []
        while True:
            event = await connection.recv()
            events.append(event)
            if event.type == "error":
                raise AssertionError(f"the sim answered with an error: {event.error}")
            if event.type == type_:
                return events

    try:
        return await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{type_} did not arrive within {timeout} s") from None


def audio_and_transcript(events: list[Any]) -> tuple[bytes, str]:
    audio = b"".join(base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta")
    transcript = next(e.transcript for e in events if e.type == "response.output_audio_transcript.done")
    return audio, transcript


async def test_openai_client_completes_a_text_turn(sim: LocalStack) -> None:
    async with openai_client(sim).realtime.connect(model=MODEL) as connection:
        created = (await events_until(connection, "session.created"))[-1]
        assert type(created).__name__ == "SessionCreatedEvent"
        await connection.session.update(
            session={"type": "realtime", "instructions": "Repeat.", "audio": {"input": {"turn_detection": None}}}
        )
        updated = (await events_until(connection, "session.updated"))[-1]
        assert updated.session.instructions == "Repeat."
        await connection.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "good morning"}]}
        )
        await connection.response.create()
        events = await events_until(connection, "response.done")
        audio, transcript = audio_and_transcript(events)
        assert transcript == "You said: good morning"
        assert audio == b""
        done = events[-1]
        assert type(done).__name__ == "ResponseDoneEvent"
        assert done.response.status == "completed"
        assert done.response.output[0].content[0].transcript == transcript


async def test_openai_client_audio_round_trip_is_byte_exact(sim: LocalStack) -> None:
    audio = silence(200) + tone(800) + silence(200)
    async with openai_client(sim).realtime.connect(model=MODEL) as connection:
        await events_until(connection, "session.created")
        await connection.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        await events_until(connection, "session.updated")
        for start in range(0, len(audio), 4800):
            await connection.input_audio_buffer.append(audio=base64.b64encode(audio[start : start + 4800]).decode())
        await connection.input_audio_buffer.commit()
        await events_until(connection, "input_audio_buffer.committed")
        await connection.response.create()
        echoed, transcript = audio_and_transcript(await events_until(connection, "response.done"))
        assert echoed == audio
        assert transcript == "I heard 1.20 seconds of audio."


async def test_azure_client_completes_a_server_vad_turn(sim: LocalStack) -> None:
    audio = silence(300) + tone(700) + silence(800)
    async with azure_client(sim).realtime.connect(model=MODEL) as connection:
        created = (await events_until(connection, "session.created"))[-1]
        assert created.session.model == MODEL
        assert created.session.audio.input.turn_detection.type == "server_vad"
        for start in range(0, len(audio), 960):
            await connection.input_audio_buffer.append(audio=base64.b64encode(audio[start : start + 960]).decode())
        events = await events_until(connection, "response.done")
        types = [e.type for e in events]
        assert "input_audio_buffer.speech_started" in types
        assert "input_audio_buffer.speech_stopped" in types
        echoed, transcript = audio_and_transcript(events)
        assert tone(700) in echoed
        assert transcript.startswith("I heard ")
        assert events[-1].response.status == "completed"


async def test_azure_client_completes_a_text_turn(sim: LocalStack) -> None:
    async with azure_client(sim).realtime.connect(model=MODEL) as connection:
        await events_until(connection, "session.created")
        await connection.conversation.item.create(
            item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ni hao"}]}
        )
        await connection.response.create()
        _, transcript = audio_and_transcript(await events_until(connection, "response.done"))
        assert transcript == "You said: ni hao"


async def test_openai_client_sees_the_refusal_of_a_wrong_key(sim: LocalStack) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with openai_client(sim, key="not-the-key").realtime.connect(model=MODEL):
            pass
    assert refused.value.response.status_code == 401


async def test_azure_client_dials_wss_for_a_plain_http_endpoint(sim: LocalStack) -> None:
    """Pins an SDK pitfall: without websocket_base_url an http:// azure_endpoint becomes
    wss://, which a plain-HTTP endpoint (this sim, a local app) cannot answer."""
    client = AsyncAzureOpenAI(
        azure_endpoint=sim.sim_url, api_key=sim.sim_api_key, api_version=API_VERSION, azure_deployment=MODEL
    )
    with pytest.raises(ssl.SSLError):
        await asyncio.wait_for(client.realtime.connect(model=MODEL).enter(), 10)
