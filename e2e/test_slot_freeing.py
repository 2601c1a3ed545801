"""Every way a realtime session ends must give its engine slot back, observed from outside.

The first seed's 4002 came from sessions nobody freed; its WebSocket crash
(``'ClientConnection' object has no attribute 'closed'``) came from a relay that broke when
a client vanished. Each path here ends a session differently and then checks
``/api/sessions`` (bounded poll) and that the next session still works.
"""

from __future__ import annotations

import asyncio

import pytest

from e2e.helpers import count_sessions, wait_for_session_count
from fixtures.api_client import ApiClient
from fixtures.audio import utterance
from fixtures.profile import TargetProfile
from fixtures.realtime_client import RealtimeClient
from fixtures.speech import SpokenPrompt
from fixtures.stack_protocol import Stack


async def _opened_and_listed(realtime, api: ApiClient) -> tuple[RealtimeClient, int]:
    before = await count_sessions(api)
    client = await realtime()
    await wait_for_session_count(api, before + 1, "the new realtime session in /api/sessions", 5)
    return client, before


def _vanish(client: RealtimeClient) -> None:
    """Drop the TCP connection without a close frame: a laptop lid shut, a process killed."""
    client.connection.transport.abort()


@pytest.mark.seed_class("concurrency", story="slot freed on a clean close")
async def test_a_clean_close_frees_the_slot(realtime, api: ApiClient, profile: TargetProfile) -> None:
    client, before = await _opened_and_listed(realtime, api)
    await client.close()
    await wait_for_session_count(api, before, "the slot to be freed after a clean close", profile.slo.slot_release_s)


@pytest.mark.seed_class("concurrency", story="slot freed on a dropped connection")
async def test_an_abrupt_tcp_drop_frees_the_slot(realtime, api: ApiClient, profile: TargetProfile) -> None:
    client, before = await _opened_and_listed(realtime, api)
    _vanish(client)
    await wait_for_session_count(api, before, "the slot to be freed after a TCP drop", profile.slo.slot_release_s)


@pytest.mark.seed_class("websocket", story="a client vanishing mid-stream")
async def test_clients_vanishing_mid_stream_leave_the_deployment_healthy(
    realtime, api: ApiClient, prompt: SpokenPrompt, profile: TargetProfile
) -> None:
    """One client vanishes while it streams audio, another while the answer streams back; then a full turn."""
    before = await count_sessions(api)
    streaming = await realtime()
    await streaming.disable_server_vad()
    sender = asyncio.create_task(streaming.append_audio(utterance(2.0) * 5, chunk_ms=20, realtime=True))
    await asyncio.sleep(0.5)
    _vanish(streaming)
    await asyncio.gather(sender, return_exceptions=True)

    answering = await realtime()
    await answering.disable_server_vad()
    await answering.append_audio(prompt.pcm24k)
    await answering.send({"type": "input_audio_buffer.commit"})
    await answering.send({"type": "response.create"})
    await answering.wait_for("response.output_audio.delta", timeout_s=profile.realtime.turn_timeout_s)
    _vanish(answering)

    await wait_for_session_count(api, before, "both slots to be freed", profile.slo.slot_release_s)
    assert (await api.health()).get("status") == "ok", "the deployment is unhealthy after clients vanished"
    survivor = await realtime()
    await survivor.disable_server_vad()
    result = await survivor.turn(prompt.pcm24k, timeout_s=profile.realtime.turn_timeout_s)
    assert result.response.get("status") == "completed", "the next session did not complete a turn"


@pytest.mark.needs_faults
@pytest.mark.seed_class("websocket", story="the model failing mid-session")
async def test_an_upstream_failure_is_reported_and_frees_the_slot(
    faults: Stack, realtime, api: ApiClient, profile: TargetProfile
) -> None:
    """Kill the model under a live session: an ``error`` event, close 1011, no slot held, service goes on."""
    client, before = await _opened_and_listed(realtime, api)
    faults.kill("realtime-sim")
    try:
        error = await client.wait_for("error", timeout_s=10)
        assert error.get("error"), f"the error event is empty: {error}"
        code = await client.wait_closed(timeout_s=10)
        assert code == profile.close_codes.upstream_failure, f"closed with {code} after the model died, not 1011"
        await wait_for_session_count(
            api, before, "the slot to be freed after the model died", profile.slo.slot_release_s
        )
        assert (await api.health()).get("status") == "ok"
    finally:
        faults.restart("realtime-sim")
    again = await realtime()
    await again.close()


@pytest.mark.needs_faults
@pytest.mark.seed_class("websocket", story="the model unreachable")
async def test_sessions_opened_while_the_model_is_cut_off_fail_cleanly(
    faults: Stack, realtime, api: ApiClient, profile: TargetProfile
) -> None:
    """Cut the app off from the model: a new session gets an ``error`` and close 1011, and holds no slot."""
    before = await count_sessions(api)
    faults.cut_upstream()
    try:
        refused = await realtime(wait_created=False)
        error = await refused.wait_for("error", timeout_s=profile.realtime.turn_timeout_s)
        assert error.get("error"), f"the error event is empty: {error}"
        code = await refused.wait_closed(timeout_s=profile.realtime.turn_timeout_s)
        assert code == profile.close_codes.upstream_failure, f"closed with {code} with the model cut off, not 1011"
        await wait_for_session_count(api, before, "no slot held by the failed session", profile.slo.slot_release_s)
    finally:
        faults.restore_upstream()
    again = await realtime()
    await again.close()
