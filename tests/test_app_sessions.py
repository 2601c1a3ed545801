"""Contract: start_live / sessions / leave_room / clear_all_sessions, the 4002 refusal, health, metrics."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from fixtures.api_client import ApiClient
from fixtures.local_stack import LocalStack
from stack.app.api import ApiError, leave_room
from stack.app.auth import Identity
from stack.app.context import AppContext
from stack.app.pool import POOL_FULL_MESSAGE, EnginePool, EngineSession
from stack.app.settings import Settings

LIMIT = 4  # CONTRACT_ENV's ENGINE_CONCURRENCY_LIMIT

SEED_MESSAGE = "Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)"


def test_pool_full_message_is_the_seeds_string() -> None:
    assert POOL_FULL_MESSAGE == SEED_MESSAGE


async def test_start_live_returns_a_live_id_listed_in_sessions(api: ApiClient) -> None:
    response = await api.start_live()
    assert response.status_code == 200
    live_id = response.json()["live_id"]
    sessions = await api.sessions()
    assert [s["live_id"] for s in sessions] == [live_id]
    entry = sessions[0]
    assert entry["kind"] == "live"
    assert entry["user"] == "betty@123.com"
    assert set(entry) >= {"live_id", "kind", "user", "created_at", "last_active_at"}


async def test_full_pool_answers_429_with_code_4002(api: ApiClient) -> None:
    for _ in range(LIMIT):
        assert (await api.start_live()).status_code == 200
    refused = await api.start_live()
    assert refused.status_code == 429
    assert refused.json() == {"code": 4002, "message": SEED_MESSAGE}
    assert len(await api.sessions()) == LIMIT


async def test_concurrent_start_live_admits_exactly_the_limit(api: ApiClient) -> None:
    extra = 3
    responses = await asyncio.gather(*(api.start_live() for _ in range(LIMIT + extra)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * LIMIT + [429] * extra
    assert len(await api.sessions()) == LIMIT


async def test_leave_room_frees_the_slot_and_unknown_id_is_404(api: ApiClient) -> None:
    ids = [(await api.start_live()).json()["live_id"] for _ in range(LIMIT)]
    assert (await api.start_live()).status_code == 429
    left = await api.leave_room(ids[0])
    assert left.status_code == 200
    assert (await api.start_live()).status_code == 200
    assert (await api.leave_room(ids[0])).status_code == 404
    assert (await api.leave_room("live_does_not_exist")).status_code == 404


class ReleasedBeforeUsPool(EnginePool):
    """A pool where another release (the reaper, a second leave_room) wins the race after our lookup."""

    def get(self, live_id: str) -> EngineSession | None:
        session = super().get(live_id)
        if session is not None:
            self.release(live_id, "idle_timeout")
        return session


async def test_leave_room_that_frees_nothing_is_404() -> None:
    ctx = AppContext.build(replace(Settings.from_env(), engine_limit=2))
    ctx.pool = ReleasedBeforeUsPool(2)
    session = ctx.pool.try_acquire("live", "betty@123.com")
    assert session is not None
    with pytest.raises(ApiError) as refused:
        await leave_room(session.live_id, Identity("betty@123.com", "admin"), ctx)
    assert refused.value.status == 404


async def test_non_admin_sees_only_its_own_sessions(stack: LocalStack, api: ApiClient) -> None:
    await api.start_live()  # the admin's
    viewer = ApiClient(stack.app_url)
    await viewer.login("viewer@example.com", "Viewer-pass-1")
    before = (await viewer.request("GET", "/api/sessions")).json()
    assert before["sessions"] == []
    assert before["count"] == 0
    own = (await viewer.start_live()).json()["live_id"]
    listing = await viewer.request("GET", "/api/sessions")
    assert [s["live_id"] for s in listing.json()["sessions"]] == [own]
    assert listing.json()["count"] == 1
    assert "betty@123.com" not in listing.text
    # the admin still sees everyone's
    assert sorted(s["user"] for s in await api.sessions()) == ["betty@123.com", "viewer@example.com"]


async def test_clear_all_sessions_reports_how_many_it_freed(api: ApiClient) -> None:
    for _ in range(3):
        await api.start_live()
    assert await api.clear_all_sessions() == 3
    assert await api.sessions() == []
    assert await api.clear_all_sessions() == 0


async def test_health_is_ok_and_reports_the_pool(api: ApiClient) -> None:
    await api.start_live()
    health = await api.health()
    assert health["status"] == "ok"
    assert health["components"]["engine_pool"] == {"status": "ok", "active": 1, "limit": LIMIT}


async def test_metrics_are_prometheus_text_with_pool_figures(stack: LocalStack, api: ApiClient) -> None:
    for _ in range(LIMIT + 1):
        await api.start_live()
    response = await api.request("GET", "/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'realtime_qa_engine_sessions_active{kind="live"} 4.0' in text
    assert f"realtime_qa_engine_pool_limit {float(LIMIT)}" in text
    assert "realtime_qa_engine_pool_free 0.0" in text
    assert 'realtime_qa_engine_pool_refusals_total{kind="live"}' in text
    assert "# TYPE realtime_qa_http_request_seconds histogram" in text


async def test_cors_allows_the_frontend_origin_only(stack: LocalStack) -> None:
    client = ApiClient(stack.app_url)
    allowed = f"http://127.0.0.1:{stack.frontend_port}"
    preflight = {
        "Origin": allowed,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ok = await client.request("OPTIONS", "/api/auth/login", headers=preflight)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == allowed
    foreign = await client.request("OPTIONS", "/api/auth/login", headers={**preflight, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in foreign.headers
