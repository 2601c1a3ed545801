"""How fast /health answers when idle and when every engine slot is streaming audio.

The seed's outage was an HTTP layer that hung while the backend was busy; this measures
the reference app's /health latency in one run, idle and under a full streaming pool, and
prints medians, p95 and their ratio. Bounded: N sessions for at most STREAM_S seconds,
SAMPLES health requests per phase, loopback only.

    .venv/bin/python bench/health_under_load.py [--sessions 32] [--samples 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.api_client import ApiClient
from fixtures.audio import utterance
from fixtures.local_stack import LocalStack
from fixtures.realtime_client import RealtimeClient


async def health_latencies(url: str, samples: int) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(timeout=5.0) as http:
        for _ in range(samples):
            started = time.perf_counter()
            response = await http.get(url)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
            await asyncio.sleep(0.01)
    return latencies


def describe(name: str, values: list[float]) -> tuple[float, str]:
    ordered = sorted(values)
    median = statistics.median(ordered)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    figures = f"median {median * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms   max {ordered[-1] * 1000:7.2f} ms"
    return median, f"{name:<28} {figures}"


async def run(sessions: int, samples: int) -> None:
    env = {"ENGINE_CONCURRENCY_LIMIT": str(sessions), "LOG_LEVEL": "warning"}
    with LocalStack(services=["realtime-sim", "app"], env=env) as stack:
        api = ApiClient(stack.app_url)
        await api.login()
        health_url = f"{stack.app_url}/health"
        await health_latencies(health_url, 20)  # warm up
        idle = await health_latencies(health_url, samples)

        clients = await asyncio.gather(*(RealtimeClient.connect(stack.ws_url, api.token) for _ in range(sessions)))
        await asyncio.gather(*(c.wait_for("session.created") for c in clients))
        pool = (await api.health())["components"]["engine_pool"]
        pcm = utterance(speech_s=8.0, lead_s=0.2, tail_s=0.2)
        streams = [asyncio.create_task(c.append_audio(pcm, chunk_ms=20, realtime=True)) for c in clients]
        loaded = await health_latencies(health_url, samples)
        for stream in streams:
            stream.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in clients))

    idle_median, idle_line = describe("idle", idle)
    loaded_median, loaded_line = describe(f"pool full ({pool['active']}/{pool['limit']}), streaming", loaded)
    print(f"/health latency, {samples} requests per phase, {sessions} sessions at 20 ms chunks in real time")
    print(idle_line)
    print(loaded_line)
    print(f"ratio of medians (loaded / idle): {loaded_median / idle_median:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(asyncio.wait_for(run(args.sessions, args.samples), timeout=180))


if __name__ == "__main__":
    main()
