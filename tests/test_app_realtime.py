"""Contract: WS /ws/realtime — auth (4001), Origin (403), pool (4002), 1009, relay round trip, slot freeing."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace

import httpx
import jwt
import pytest
from websockets.exceptions import InvalidStatus

from fixtures.api_client import ApiClient
from fixtures.audio import utterance
from fixtures.local_stack import LocalStack
from fixtures.polling import wait_until
from fixtures.realtime_client import RealtimeClient
from stack.app import relay as relay_module
from stack.app.context import AppContext
from stack.app.pool import POOL_FULL_MESSAGE
from stack.app.relay import RealtimeRelay
from stack.app.settings import Settings

LIMIT = 4  # CONTRACT_ENV's ENGINE_CONCURRENCY_LIMIT
MAX_MESSAGE_BYTES = 256 * 1024  # CONTRACT_ENV's MAX_MESSAGE_BYTES


async def open_session(stack: LocalStack, api: ApiClient, **kwargs: object) -> RealtimeClient:
    client = await RealtimeClient.connect(stack.ws_url, api.token, **kwargs)  # type: ignore[arg-type]
    await client.wait_for("session.created")
    return client


async def realtime_sessions(api: ApiClient) -> list[dict]:
    return [s for s in await api.sessions() if s["kind"] == "realtime"]


async def pool_is_empty(api: ApiClient) -> bool:
    return await api.sessions() == []


@pytest.mark.parametrize("auth_via", ["query", "header"])
async def test_session_created_with_token_by_query_or_bearer(stack: LocalStack, api: ApiClient, auth_via: str) -> None:
    client = await open_session(stack, api, auth_via=auth_via)
    sessions = await realtime_sessions(api)
    assert len(sessions) == 1
    assert sessions[0]["user"] == "betty@123.com"
    await client.close()
    await wait_until(lambda: pool_is_empty(api), "the slot to be freed after the client closed")


async def test_round_trip_echoes_the_audio_and_carries_a_transcript(stack: LocalStack, api: ApiClient) -> None:
    client = await open_session(stack, api)
    await client.disable_server_vad()
    pcm = utterance(speech_s=0.6)
    result = await client.turn(pcm)
    assert result.audio == pcm
    assert result.transcript
    assert result.response.get("status") == "completed"
    await client.close()


@pytest.mark.security
@pytest.mark.parametrize("token_kind", ["missing", "garbage", "forged", "expired"])
async def test_bad_token_is_accepted_then_closed_4001(stack: LocalStack, api: ApiClient, token_kind: str) -> None:
    now = int(time.time())
    token = {
        "missing": None,
        "garbage": "not-a-jwt",
        "forged": jwt.encode({"sub": "betty@123.com", "exp": now + 60}, "another-secret-that-is-long-enough-x"),
        "expired": jwt.encode({"sub": "betty@123.com", "exp": now - 5}, stack.jwt_secret, algorithm="HS256"),
    }[token_kind]
    client = await RealtimeClient.connect(stack.ws_url, token)  # upgrade accepted: no exception here
    assert await client.wait_closed() == 4001
    assert await api.sessions() == []


@pytest.mark.security
async def test_foreign_origin_is_refused_at_the_handshake(stack: LocalStack, api: ApiClient) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await RealtimeClient.connect(stack.ws_url, api.token, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    allowed = await open_session(stack, api, origin=f"http://localhost:{stack.frontend_port}")
    await allowed.close()


async def test_full_pool_sends_4002_error_event_then_closes_4002(stack: LocalStack, api: ApiClient) -> None:
    holders = [await open_session(stack, api) for _ in range(LIMIT)]
    refused = await RealtimeClient.connect(stack.ws_url, api.token)
    error = await refused.wait_for("error")
    assert error["error"]["code"] == "4002"
    assert error["error"]["message"] == POOL_FULL_MESSAGE
    assert await refused.wait_closed() == 4002
    assert "session.created" not in refused.seen_types()
    # the REST path shares the same pool
    assert (await api.start_live()).status_code == 429
    for holder in holders:
        await holder.close()


async def test_concurrent_connects_admit_exactly_the_limit(stack: LocalStack, api: ApiClient) -> None:
    extra = 3

    async def attempt() -> tuple[str, RealtimeClient]:
        client = await RealtimeClient.connect(stack.ws_url, api.token)
        first = await client.wait_for(["session.created", "error"])
        return first["type"], client

    outcomes = await asyncio.gather(*(attempt() for _ in range(LIMIT + extra)))
    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error"] * extra + ["session.created"] * LIMIT
    for kind, client in outcomes:
        if kind == "error":
            assert await client.wait_closed() == 4002
    assert len(await realtime_sessions(api)) == LIMIT
    for _, client in outcomes:
        await client.close()
    await wait_until(lambda: pool_is_empty(api), "every slot to be freed")


async def test_oversized_frame_closes_1009_and_frees_the_slot(stack: LocalStack, api: ApiClient) -> None:
    client = await open_session(stack, api)
    await client.send_raw("x" * (MAX_MESSAGE_BYTES + 1))
    assert await client.wait_closed() == 1009
    await wait_until(lambda: pool_is_empty(api), "the slot to be freed after 1009")


@pytest.mark.parametrize("route", ["leave_room", "clear_all_sessions"])
async def test_operator_release_closes_the_socket_4000(stack: LocalStack, api: ApiClient, route: str) -> None:
    client = await open_session(stack, api)
    [session] = await realtime_sessions(api)
    if route == "leave_room":
        assert (await api.leave_room(session["live_id"])).status_code == 200
    else:
        assert await api.clear_all_sessions() == 1
    assert await client.wait_closed() == 4000
    assert await api.sessions() == []


@pytest.mark.chaos
@pytest.mark.parametrize("fault", ["close", "close_after_audio"])
async def test_upstream_dropping_mid_session_sends_error_and_frees_slot(
    stack: LocalStack, api: ApiClient, fault: str
) -> None:
    client = await open_session(stack, api)
    await client.disable_server_vad()
    await client.send({"type": "session.update", "session": {"type": "realtime", "metadata": {"sim_fault": fault}}})
    await client.wait_for("session.updated")
    await client.append_audio(utterance(0.3))
    await client.send({"type": "input_audio_buffer.commit"})
    await client.send({"type": "response.create"})
    error = await client.wait_for("error")
    assert error["error"]["code"] == "upstream_error"
    assert await client.wait_closed() == 1011
    await wait_until(lambda: pool_is_empty(api), "the slot to be freed after the upstream dropped")
    assert (await api.health())["status"] == "ok"


async def test_upstream_error_event_is_relayed_and_session_survives(stack: LocalStack, api: ApiClient) -> None:
    client = await open_session(stack, api)
    await client.send(
        {"type": "session.update", "session": {"type": "realtime", "metadata": {"sim_fault": "error_event"}}}
    )
    await client.wait_for("session.updated")
    await client.send({"type": "response.create"})
    error = await client.wait_for("error")
    assert error["error"]["type"] == "server_error"
    assert client.is_open
    assert len(await realtime_sessions(api)) == 1
    await client.close()


@pytest.mark.chaos
async def test_server_exception_in_relay_frees_the_slot(stack: LocalStack, api: ApiClient) -> None:
    client = await open_session(stack, api)
    await client.send({"type": "debug.raise"})
    error = await client.wait_for("error")
    assert error["error"]["code"] == "server_error"
    assert await client.wait_closed() == 1011
    await wait_until(lambda: pool_is_empty(api), "the slot to be freed after a relay exception")


@pytest.mark.chaos
async def test_bug_on_the_upstream_to_client_path_ends_the_relay(stack: LocalStack, api: ApiClient) -> None:
    """A RuntimeError that is not "the client went away" must not park the relay with its slot held."""
    client = await open_session(stack, api)
    await client.send({"type": "debug.raise_downstream"})  # the next upstream->client send raises
    await client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "hi"}})
    error = await client.wait_for("error", timeout_s=5)
    assert error["error"]["code"] == "server_error"
    assert await client.wait_closed(timeout_s=5) == 1011
    await wait_until(lambda: pool_is_empty(api), "the slot to be freed at once", timeout_s=1.0)


@pytest.mark.chaos
async def test_cancelled_relay_task_frees_the_slot(stack: LocalStack, api: ApiClient) -> None:
    client = await open_session(stack, api)
    await client.send({"type": "debug.cancel"})
    await client.wait_closed()
    await wait_until(lambda: pool_is_empty(api), "the slot to be freed after the relay task was cancelled")


class _FakeWebSocket:
    """Just enough of a Starlette WebSocket for the relay's exit paths."""

    application_state = client_state = None

    async def send_json(self, _data: object) -> None:
        return None

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        return None


class _FakeUpstream:
    async def close(self) -> None:
        return None


async def _hang_then_fail_on_cancel() -> None:
    try:
        await asyncio.Event().wait()
    finally:
        raise KeyError("client pump failed while being cancelled")


async def _fail_at_once_client() -> None:
    raise KeyError("client pump failed")


async def _fail_at_once_upstream() -> None:
    raise ValueError("upstream pump failed")


@pytest.mark.parametrize(
    "client_side", [_fail_at_once_client, _hang_then_fail_on_cancel], ids=["both-at-once", "one-on-cancel"]
)
async def test_relay_raises_one_pump_failure_and_logs_the_others(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, client_side: object
) -> None:
    ctx = AppContext.build(replace(Settings.from_env(), engine_limit=1))
    session = ctx.pool.try_acquire("realtime", "betty@123.com")
    assert session is not None
    relay = RealtimeRelay(_FakeWebSocket(), session, ctx)  # type: ignore[arg-type]

    async def connect_fake(_settings: Settings) -> _FakeUpstream:
        return _FakeUpstream()

    monkeypatch.setattr(relay_module, "connect_upstream", connect_fake)
    monkeypatch.setattr(relay, "_client_to_upstream", client_side)
    monkeypatch.setattr(relay, "_upstream_to_client", _fail_at_once_upstream)
    with caplog.at_level(logging.ERROR, logger="app.realtime"), pytest.raises((KeyError, ValueError)) as raised:
        await relay.run()
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[1] is not raised.value]
    seen = {type(raised.value)} | {type(r.exc_info[1]) for r in logged if r.exc_info}
    assert seen == {KeyError, ValueError}, f"a pump's failure vanished: raised {raised.value!r}, logged {logged}"
    assert all(r.fields["live_id"] == session.live_id for r in logged)  # type: ignore[attr-defined]


async def test_health_answers_while_every_slot_streams(stack: LocalStack, api: ApiClient) -> None:
    """A hang detector, not a speed test (bench/ measures latency): /health must answer under full load."""
    clients = [await open_session(stack, api) for _ in range(LIMIT)]
    for client in clients:
        await client.disable_server_vad()
    pcm = utterance(speech_s=2.0)
    streaming = [asyncio.create_task(c.append_audio(pcm, chunk_ms=20, realtime=True)) for c in clients]
    async with httpx.AsyncClient(timeout=2.0) as http:
        for _ in range(10):
            response = await http.get(f"{stack.app_url}/health")
            assert response.status_code == 200
            assert response.json()["components"]["engine_pool"]["active"] == LIMIT
            await asyncio.sleep(0.1)
        # Concurrent requests must be served concurrently: anything blocking the event loop
        # (the seed's synchronous logger in middleware) serialises them past the client timeout.
        burst = await asyncio.gather(*(http.get(f"{stack.app_url}/health") for _ in range(20)))
        assert [r.status_code for r in burst] == [200] * 20
    await asyncio.gather(*streaming)
    for client in clients:
        await client.close()


async def test_official_openai_client_completes_a_turn_through_the_app(stack: LocalStack, api: ApiClient) -> None:
    from openai import AsyncOpenAI

    openai_client = AsyncOpenAI(api_key=api.token, websocket_base_url=f"ws://127.0.0.1:{stack.app_port}/ws")
    transcript, audio_bytes = "", 0
    async with asyncio.timeout(20):
        async with openai_client.realtime.connect(model="gpt-realtime") as connection:
            await connection.session.update(session={"type": "realtime", "output_modalities": ["audio"]})
            await connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello relay"}]}
            )
            await connection.response.create()
            async for event in connection:
                if event.type == "response.output_audio_transcript.delta":
                    transcript += event.delta
                elif event.type == "response.output_audio.delta":
                    audio_bytes += len(event.delta)
                elif event.type == "response.done":
                    break
                elif event.type == "error":
                    pytest.fail(f"error event through the app: {event.error}")
    assert "hello relay" in transcript
    await openai_client.close()


@pytest.mark.security
def test_ws_tokens_and_keys_never_reach_the_logs(stack: LocalStack) -> None:
    """Runs last in this module: by now every kind of handshake above has been logged."""
    logs = stack.log_text("app") + stack.log_text("realtime-sim")
    assert "WebSocket /ws/realtime" in logs  # the handshakes were logged ...
    assert "eyJ" not in logs  # ... with no JWT in them
    assert stack.sim_api_key not in logs
    assert stack.jwt_secret not in logs
    for line in logs.splitlines():
        json.loads(line)
