#!/usr/bin/env python3
"""How many real-time audio sessions one Locust worker process keeps on schedule, beside asyncio.

Both generators do the same work against the same sink (a WebSocket server that discards
what it gets, in a process of its own): every session sends a pre-built 100 ms
``input_audio_buffer.append`` (4.3 KB of JSON) every 100 ms for the whole trial, and
records how late each send left. A generator "sustains" N sessions when the p99 of that
lag, after the ramp, stays at or under 20 ms. For each, N doubles until it fails, then a
bisection narrows it. Loopback only; every trial is bounded (``--trial-s``).

    .venv/bin/python bench/loadgen.py [--trial-s 20] [--start 100] [--max 4000]

The last line is ``sessions_per_worker=N baseline=M ratio=R``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load.probe import raise_open_files_limit  # noqa: E402 - after the path insert

LAG_LIMIT_MS = 20.0
RAMP_RATE = 200  # sessions opened per second in a trial


# -- the sink ---------------------------------------------------------------------------------
async def _sink(port: int) -> None:
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def discard(ws) -> None:  # type: ignore[no-untyped-def]
        with contextlib.suppress(ConnectionClosed):  # a trial's end drops its sockets: that is no error
            async for _ in ws:
                pass

    async with serve(discard, "127.0.0.1", port, compression=None, max_size=None, ping_interval=None):
        await asyncio.Future()


# -- the asyncio baseline -----------------------------------------------------------------------
async def _asyncio_trial(url: str, sessions: int, seconds: float, chunk_ms: int) -> dict[str, float]:
    from websockets.asyncio.client import connect

    from fixtures.audio import tone
    from fixtures.percentiles import percentile
    from load.gc_pauses import calm_the_collector
    from load.pacing import append_events

    chunk = append_events(tone(1.0), chunk_ms)[0]
    lags: list[tuple[float, float]] = []
    stop_at = time.monotonic() + seconds

    async def one(delay: float) -> None:
        await asyncio.sleep(delay)
        async with connect(url, compression=None, max_size=None) as ws:
            begun, n = time.monotonic(), 0
            while time.monotonic() < stop_at:
                due = begun + n * chunk_ms / 1000
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                now = time.monotonic()
                lags.append((now, (now - due) * 1000))
                await ws.send(chunk, text=True)
                n += 1

    calm_the_collector()  # the same collector settings as the Locust side
    started = time.monotonic()
    await asyncio.gather(*(one(i / RAMP_RATE) for i in range(sessions)), return_exceptions=True)
    settled = started + sessions / RAMP_RATE + 2
    steady = [lag for t, lag in lags if t >= settled]
    return {"lag_p99_ms": percentile(steady, 99), "sends": len(steady)}


# -- trials -----------------------------------------------------------------------------------------
def locust_trial(url: str, sessions: int, seconds: float, chunk_ms: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="rqa-loadgen-") as work:
        report = Path(work) / "health.json"
        command = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "loadgen_locustfile.py"), "--headless",
                   "-u", str(sessions), "-r", str(RAMP_RATE), "-t", f"{int(seconds)}s", "--host", url,
                   "--chunk-ms", str(chunk_ms), "--lag-report", str(report), "--only-summary",
                   "--stop-timeout", "2"]  # fmt: skip
        subprocess.run(
            command, cwd=ROOT, capture_output=True, timeout=seconds + 120, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )
        if not report.exists():
            return float("inf"), 0
        recorded = json.loads(report.read_text())
    from fixtures.percentiles import percentile

    settled = recorded["first"] + sessions / RAMP_RATE + 2
    steady = [lag for t, lag in recorded["lags"] if t >= settled]
    return (percentile(steady, 99) if steady else float("inf")), len(steady)


def asyncio_trial(url: str, sessions: int, seconds: float, chunk_ms: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="rqa-loadgen-") as work:
        out = Path(work) / "lag.json"
        command = [sys.executable, __file__, "--asyncio-client", str(sessions), "--url", url,
                   "--trial-s", str(seconds), "--out", str(out), "--chunk-ms", str(chunk_ms)]  # fmt: skip
        subprocess.run(command, cwd=ROOT, capture_output=True, timeout=seconds + 120)
        result = json.loads(out.read_text())
    return result["lag_p99_ms"], result["sends"]


def sustained(name: str, trial, url: str, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    """The most sessions whose p99 send lag stays within the limit: doubling, then bisecting."""
    best, worst = 0, None
    n = args.start
    while n <= args.max:
        lag, sends = trial(url, n, args.trial_s, args.chunk_ms)
        ok = lag <= LAG_LIMIT_MS
        print(
            f"{name}: {n} sessions: p99 send lag {lag:.1f} ms over {sends} sends -> {'ok' if ok else 'over'}",
            flush=True,
        )
        if not ok:
            worst = n
            break
        best, n = n, n * 2
    if worst is None:
        return best
    for _ in range(args.bisect):
        middle = (best + worst) // 2
        if middle in (best, worst):
            break
        lag, sends = trial(url, middle, args.trial_s, args.chunk_ms)
        ok = lag <= LAG_LIMIT_MS
        print(
            f"{name}: {middle} sessions: p99 send lag {lag:.1f} ms over {sends} sends -> {'ok' if ok else 'over'}",
            flush=True,
        )
        best, worst = (middle, worst) if ok else (best, middle)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial-s", type=float, default=20.0)
    parser.add_argument("--start", type=int, default=100)
    parser.add_argument("--max", type=int, default=4000)
    parser.add_argument("--bisect", type=int, default=3)
    parser.add_argument("--chunk-ms", type=int, default=100)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--asyncio-client", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_open_files_limit()
    if args.sink:
        asyncio.run(_sink(args.sink))
        return 0
    if args.asyncio_client:
        result = asyncio.run(_asyncio_trial(args.url, args.asyncio_client, args.trial_s, args.chunk_ms))
        args.out.write_text(json.dumps(result))
        return 0
    from fixtures.ports import free_port

    port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--sink", str(port)], cwd=ROOT)
    time.sleep(1.0)
    url = f"ws://127.0.0.1:{port}/sink"
    try:
        print(
            f"sink {url}; {args.chunk_ms} ms chunks; p99 lag limit {LAG_LIMIT_MS:.0f} ms; {args.trial_s:.0f} s trials"
        )
        locust_n = sustained("locust worker", locust_trial, url, args)
        asyncio_n = sustained("asyncio baseline", asyncio_trial, url, args)
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    ratio = locust_n / asyncio_n if asyncio_n else float("inf")
    print(f"sessions_per_worker={locust_n} baseline={asyncio_n} ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
