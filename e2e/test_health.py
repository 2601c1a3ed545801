"""/health answers, and keeps answering fast while every engine slot streams audio.

The second seed's worst afternoon: a mutex deadlock between two metrics collectors and a
synchronous logger in the security middleware hung every HTTP request, so login failed
and the page said 网络连接出现问题. A deployment qualifies only if its health endpoint
stays within the profile's bound (``slo.health_p95_ms``) with the pool full and busy.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from e2e.helpers import percentile, sample_latency
from fixtures.api_client import ApiClient
from fixtures.audio import utterance
from fixtures.profile import TargetProfile

pytestmark = pytest.mark.seed_class("timeout", story="health check under load")


async def test_health_answers_status_ok(api: ApiClient) -> None:
    response = await api.request("GET", api.paths.health)
    assert response.status_code == 200, f"GET {api.paths.health} answered {response.status_code}: {response.text[:200]}"
    body = response.json()
    assert body.get("status") == "ok", f"GET {api.paths.health} answered {body!r}, not status ok"


async def test_health_stays_fast_while_every_slot_streams(
    api: ApiClient, realtime, pool_limit: int, profile: TargetProfile
) -> None:
    """Fill the pool with realtime sessions streaming 20 ms chunks in real time, then time /health."""
    clients = []
    for _ in range(pool_limit - len(await api.sessions())):
        client = await realtime()
        await client.disable_server_vad()  # audio only: no responses, the load is the relay itself
        clients.append(client)
    assert len(await api.sessions()) == pool_limit, "the pool is not full: the check would not be the seed's"
    speech = utterance(speech_s=1.0, lead_s=0.2, tail_s=0.2) * 40  # ~56 s, more than the sampling takes
    streams = [asyncio.create_task(c.append_audio(speech, chunk_ms=20, realtime=True)) for c in clients]
    try:
        await asyncio.sleep(0.5)  # every stream under way
        bound = profile.slo.health_p95_ms
        async with httpx.AsyncClient(base_url=api.base_url) as http:
            sample = await sample_latency(http, api.paths.health, profile.slo.health_samples, timeout_s=5.0)
        assert all(not s.done() for s in streams), "a stream ended early: the load was not sustained"
    finally:
        for stream in streams:
            stream.cancel()
        for stream in streams:
            with contextlib.suppress(BaseException):
                await stream
    p95 = percentile(sample.ms, 95)
    assert not sample.failures, f"/health failed while {len(clients)} slots streamed: {sample.describe()}"
    assert p95 <= bound, (
        f"/health timed out of its bound: p95 {p95:.1f} ms > {bound:.0f} ms with {pool_limit}/{pool_limit} "
        f"slots streaming ({sample.describe()}) — a blocking call on the request path (the seed's deadlock)"
    )
