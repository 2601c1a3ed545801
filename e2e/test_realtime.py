"""The realtime socket as a client sees it: a spoken turn, the official SDK, and 4002 on the socket."""

from __future__ import annotations

import asyncio
import base64

import pytest
from openai import AsyncOpenAI

from fixtures.openai_events import validate_server_event
from fixtures.profile import TargetProfile
from fixtures.realtime_client import RealtimeClient, RealtimeTimeout
from fixtures.speech import SpokenPrompt
from fixtures.target import qualification_record
from fixtures.target_setup import Target


def _received(client: RealtimeClient) -> list[dict]:
    return [frame["event"] for frame in client.log if frame["dir"] == "received"]


@pytest.mark.seed_class("websocket", story="a spoken turn")
async def test_a_spoken_turn_comes_back_as_audio_and_transcript(
    realtime, prompt: SpokenPrompt, profile: TargetProfile, pytestconfig: pytest.Config
) -> None:
    """session.created → append → commit → response → audio and transcript → response.done."""
    client = await realtime()
    await client.disable_server_vad()
    result = await client.turn(prompt.pcm24k, timeout_s=profile.realtime.turn_timeout_s)
    ttfa_ms = None if result.time_to_first_audio_s is None else result.time_to_first_audio_s * 1000
    qualification_record(pytestconfig, ttfa_ms=[ttfa_ms] if ttfa_ms is not None else [])

    assert result.response.get("status") == "completed", f"the response ended {result.response.get('status')!r}"
    assert "response.created" in result.types, f"no response.created; seen: {result.types[:20]}"
    assert result.types[-1] == "response.done"
    assert result.transcript.strip(), "the response carried no transcript"
    assert ttfa_ms is not None, "the response carried no audio"
    if profile.realtime.echo:
        assert result.audio == prompt.pcm24k, (
            f"the echo differs from what was sent: {len(result.audio)} bytes back, {len(prompt.pcm24k)} sent"
        )
    else:
        assert 0.2 <= result.audio_seconds <= 10 * prompt.seconds + 30, (
            f"{result.audio_seconds:.2f} s of audio for a {prompt.seconds:.2f} s prompt is not a plausible answer"
        )
    for event in _received(client):
        validate_server_event(event, generation=result.generation)


@pytest.mark.seed_class("websocket", story="the official SDK")
async def test_the_official_openai_client_completes_a_turn(
    target: Target, prompt: SpokenPrompt, profile: TargetProfile
) -> None:
    """What an SDK user does: ``AsyncOpenAI(websocket_base_url=...).realtime.connect(model=...)``."""
    ws_url = target.stack.ws_url
    if not ws_url.endswith("/realtime"):
        pytest.skip(f"the SDK dials <base>/realtime; {ws_url} does not end with /realtime")
    sdk = AsyncOpenAI(api_key=target.token, websocket_base_url=ws_url.removesuffix("/realtime"), max_retries=0)
    audio = bytearray()
    async with sdk.realtime.connect(model=profile.realtime.model) as connection:

        async def until(kind: str) -> None:
            async def next_of_kind() -> None:
                while True:
                    event = await connection.recv()
                    if event.type == "error":
                        raise AssertionError(f"the deployment answered the SDK with an error: {event.error}")
                    if event.type in ("response.output_audio.delta", "response.audio.delta"):
                        audio.extend(base64.b64decode(event.delta))
                    if event.type == kind:
                        return

            try:
                await asyncio.wait_for(next_of_kind(), profile.realtime.turn_timeout_s)
            except TimeoutError:
                raise RealtimeTimeout(f"the SDK waited {profile.realtime.turn_timeout_s} s for {kind}") from None

        await until("session.created")
        await connection.session.update(session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        await until("session.updated")
        for offset in range(0, len(prompt.pcm24k), 4800):
            chunk = prompt.pcm24k[offset : offset + 4800]
            await connection.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        await connection.input_audio_buffer.commit()
        await connection.response.create()
        await until("response.done")
    assert len(audio) >= 4800, f"the SDK received {len(audio)} bytes of audio"


@pytest.mark.seed_class("concurrency", story="4002 on the socket")
async def test_a_full_pool_refuses_the_socket_with_4002(realtime, api, pool_limit: int, profile: TargetProfile) -> None:
    """The pool full on the socket: an ``error`` event with code "4002" and the seed's text, then close 4002."""
    for _ in range(pool_limit - len(await api.sessions())):
        await realtime()
    refused = await realtime(wait_created=False)
    error = await refused.wait_for("error", timeout_s=10)
    detail = error.get("error") or {}
    assert str(detail.get("code")) == str(profile.pool.refused_code), f"the error event carries {detail}"
    assert detail.get("message") == profile.pool.refused_message, (
        f"the error's message is {detail.get('message')!r}, not the seed's {profile.pool.refused_message!r}"
    )
    code = await refused.wait_closed(timeout_s=10)
    assert code == profile.close_codes.pool_full, f"the refused socket closed with {code}, not 4002"
    assert "session.created" not in refused.seen_types(), "a refused socket still got a session"
