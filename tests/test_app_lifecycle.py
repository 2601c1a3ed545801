"""Contract: slots freed by the idle reaper, by an upstream that dies, and by app shutdown."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from fixtures.api_client import ApiClient
from fixtures.realtime_client import RealtimeClient
from tests.conftest import StackFactory

pytestmark = pytest.mark.slow


async def test_idle_reaper_frees_live_and_realtime_sessions(stack_factory: StackFactory) -> None:
    stack = stack_factory(env={"SESSION_IDLE_TIMEOUT_S": "1", "SESSION_REAPER_INTERVAL_S": "0.2"})
    api = ApiClient(stack.app_url)
    await api.login()
    assert (await api.start_live()).status_code == 200
    client = await RealtimeClient.connect(stack.ws_url, api.token)
    await client.wait_for("session.created")
    assert await client.wait_closed(timeout_s=5) == 4008
    assert await api.sessions() == []


@pytest.mark.chaos
async def test_killed_upstream_frees_the_slot_and_app_keeps_serving(stack_factory: StackFactory) -> None:
    stack = stack_factory()
    api = ApiClient(stack.app_url)
    await api.login()
    client = await RealtimeClient.connect(stack.ws_url, api.token)
    await client.wait_for("session.created")

    stack.kill("realtime-sim")
    error = await client.wait_for("error")
    assert error["error"]["code"] == "upstream_error"
    assert await client.wait_closed() == 1011
    assert await api.sessions() == []
    assert (await api.health())["status"] == "ok"

    # With the model gone, a new session is told so and does not leak its slot.
    second = await RealtimeClient.connect(stack.ws_url, api.token)
    error = await second.wait_for("error")
    assert "unavailable" in error["error"]["message"]
    assert await second.wait_closed() == 1011
    assert await api.sessions() == []

    stack.restart("realtime-sim")
    third = await RealtimeClient.connect(stack.ws_url, api.token)
    await third.wait_for("session.created")
    await third.close()


@pytest.mark.chaos
async def test_app_shutdown_closes_sessions_and_upstreams(stack_factory: StackFactory) -> None:
    stack = stack_factory()
    api = ApiClient(stack.app_url)
    await api.login()
    clients = []
    for _ in range(3):
        client = await RealtimeClient.connect(stack.ws_url, api.token)
        await client.wait_for("session.created")
        clients.append(client)
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{stack.sim_url}/health")).json()["sessions"] == 3

        stack.process("app").send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(c.wait_closed(timeout_s=10) for c in clients))
        assert all(code in (1001, 1012) for code in codes), codes
        assert stack.process("app").wait(timeout=10) == 0

        async def sim_sessions() -> int:
            return (await http.get(f"{stack.sim_url}/health")).json()["sessions"]

        for _ in range(50):
            if await sim_sessions() == 0:
                break
            await asyncio.sleep(0.1)
        assert await sim_sessions() == 0, "upstream sessions left open after the app shut down"
    app_log = stack.log_text("app")
    assert "Application shutdown complete" in app_log
    assert app_log.count('"engine slot released"') == 3
