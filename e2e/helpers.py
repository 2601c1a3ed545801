"""Small steps the e2e tests share: filling the pool, sampling latency, waiting for slots to go."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import httpx

from fixtures.api_client import ApiClient
from fixtures.percentiles import percentile
from fixtures.polling import wait_until

__all__ = ["LatencySample", "count_sessions", "fill_with_live_sessions", "percentile", "sample_latency"]


@dataclass(frozen=True)
class LatencySample:
    ms: list[float]
    failures: list[str]

    def describe(self) -> str:
        if not self.ms:
            return f"no answers; {len(self.failures)} failures: {self.failures[:3]}"
        return (
            f"median {statistics.median(self.ms):.1f} ms, p95 {percentile(self.ms, 95):.1f} ms, "
            f"max {max(self.ms):.1f} ms over {len(self.ms)} requests, {len(self.failures)} failed"
        )


async def sample_latency(http: httpx.AsyncClient, path: str, samples: int, timeout_s: float) -> LatencySample:
    """``samples`` sequential GETs; a timeout or non-200 counts as a failure (and as the timeout's latency)."""
    latencies: list[float] = []
    failures: list[str] = []
    for _ in range(samples):
        started = time.perf_counter()
        try:
            response = await http.get(path, timeout=timeout_s)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                failures.append(f"HTTP {response.status_code}")
            latencies.append(elapsed)
        except httpx.HTTPError as exc:
            failures.append(type(exc).__name__)
            latencies.append(timeout_s * 1000)
    return LatencySample(latencies, failures)


async def count_sessions(api: ApiClient) -> int:
    return len(await api.sessions())


async def fill_with_live_sessions(api: ApiClient, limit: int) -> list[str]:
    """start_live until the pool is full (what others hold counts); the live ids this call took."""
    taken: list[str] = []
    for _ in range(limit - await count_sessions(api)):
        response = await api.start_live()
        assert response.status_code == 200, (
            f"start_live below the limit answered {response.status_code}: {response.text}"
        )
        taken.append(response.json()["live_id"])
    return taken


async def wait_for_session_count(api: ApiClient, count: int, what: str, timeout_s: float) -> None:
    await wait_until(lambda: count_sessions(api), what, timeout_s=timeout_s, accept=lambda n: n == count)
