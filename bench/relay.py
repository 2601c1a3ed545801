#!/usr/bin/env python3
"""How many streaming sessions the reference app relays before it degrades, and where its time goes.

A local stack (app + realtime-sim, no proxy) with a large pool; a client process opens N
sessions that stream 100 ms chunks in real time (server VAD off, so the load is the relay
itself); meanwhile this process samples /health latency, times a spoken turn's first audio
on one more session, and reads the app's CPU. N steps up until /health p95 or time to
first audio p95 passes three times its idle value and by 50 / 100 ms at least. At the last step
that held, py-spy samples the app for ``--profile-s`` seconds and the top functions print.

    .venv/bin/python bench/relay.py [--steps 25,50,100,200,400,800] [--step-s 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.audio import tone, utterance
from fixtures.local_stack import LocalStack
from fixtures.percentiles import percentile
from fixtures.realtime_client import RealtimeClient
from load.pacing import append_events

ROOT = Path(__file__).resolve().parent.parent
DEGRADED_RATIO = 3.0  # a p95 three times its idle value ...
HEALTH_FLOOR_MS = 50.0  # ... and this much over it (a few ms of noise on an idle p95 of 5 ms is no degradation)
TTFA_FLOOR_MS = 100.0


def _bound(idle_ms: float, floor_ms: float) -> float:
    return max(DEGRADED_RATIO * idle_ms, idle_ms + floor_ms)


async def _clients(url: str, sessions: int, seconds: float) -> None:
    from websockets.asyncio.client import connect

    chunk = append_events(tone(0.1), 100)[0]
    off = json.dumps(
        {"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}}}
    )
    stop_at = time.monotonic() + seconds

    async def one(delay: float) -> None:
        await asyncio.sleep(delay)
        async with connect(url, compression=None, max_size=None) as ws:
            await ws.send(off)
            begun, n = time.monotonic(), 0
            while time.monotonic() < stop_at:
                wait = begun + n * 0.1 - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await ws.send(chunk, text=True)
                n += 1
                if n % 50 == 0:
                    await ws.send('{"type":"input_audio_buffer.clear"}')  # keep the sim's buffer small

    await asyncio.gather(*(one(i / 200) for i in range(sessions)), return_exceptions=True)


async def _measure(stack: LocalStack, token: str, seconds: float) -> dict[str, float]:
    health: list[float] = []
    ttfa: list[float] = []
    stop_at = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=stack.app_url, timeout=10) as http:
        client = await RealtimeClient.connect(stack.ws_url, token)
        await client.wait_for("session.created")
        await client.disable_server_vad()
        pcm = utterance(0.5, lead_s=0.1, tail_s=0.1)
        next_turn = time.monotonic()
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            await http.get("/health")
            health.append((time.perf_counter() - started) * 1000)
            if time.monotonic() >= next_turn:
                result = await client.turn(pcm, timeout_s=30)
                if result.time_to_first_audio_s is not None:
                    ttfa.append(result.time_to_first_audio_s * 1000)
                next_turn = time.monotonic() + 2
            await asyncio.sleep(0.05)
        await client.close()
    return {
        "health_p50_ms": statistics.median(health),
        "health_p95_ms": percentile(health, 95),
        "ttfa_p50_ms": statistics.median(ttfa) if ttfa else 0.0,
        "ttfa_p95_ms": percentile(ttfa, 95),
    }


def _step(stack: LocalStack, token: str, sessions: int, seconds: float) -> dict[str, float]:
    app = psutil.Process(stack.process("app").pid)
    client = None
    if sessions:
        client = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--client",
                str(sessions),
                "--url",
                f"{stack.ws_url}?token={token}",
                "--step-s",
                str(seconds + sessions / 200 + 5),
            ],
            cwd=ROOT,
        )
        time.sleep(sessions / 200 + 2)  # the ramp
    app.cpu_percent(None)
    figures = asyncio.run(_measure(stack, token, seconds))
    figures["app_cpu_percent"] = app.cpu_percent(None)
    figures["held"] = float(
        len(httpx.get(f"{stack.app_url}/api/sessions", headers={"Authorization": f"Bearer {token}"}).json()["sessions"])
    )
    if client is not None:
        client.terminate()
        client.wait(timeout=30)
    return figures


def _profile(stack: LocalStack, seconds: float) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("(py-spy is not installed: pip install py-spy for the profile)")
        return
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "profile.txt"
        subprocess.run(
            [
                spy,
                "record",
                "-p",
                str(stack.process("app").pid),
                "-d",
                str(int(seconds)),
                "-f",
                "raw",
                "-o",
                str(out),
                "--nonblocking",
            ],
            capture_output=True,
            timeout=seconds + 60,
        )
        if not out.exists():
            print("(py-spy could not sample the app)")
            return
        own: dict[str, int] = {}
        anywhere: dict[str, int] = {}
        total = 0
        for line in out.read_text().splitlines():
            stack_text, _, count = line.rpartition(" ")
            frames = stack_text.split(";")
            total += int(count)
            leaf = frames[-1] if frames else "?"
            own[leaf] = own.get(leaf, 0) + int(count)
            for frame in set(frames):
                if any(part in frame for part in ("stack/app/", "websockets/", "starlette/", "uvicorn/")):
                    anywhere[frame] = anywhere.get(frame, 0) + int(count)
        print(f"where the app's time goes ({total} samples, by the function on top of the stack;")
        print(" Runner.run on top is the event loop's own C code: uvloop's polling and socket I/O):")
        for name, count in sorted(own.items(), key=lambda item: -item[1])[:8]:
            print(f"  {count / total:6.1%}  {name[:110]}")
        print("and by the app's, Starlette's, uvicorn's and websockets' functions anywhere on the stack:")
        for name, count in sorted(anywhere.items(), key=lambda item: -item[1])[:12]:
            print(f"  {count / total:6.1%}  {name[:110]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="25,50,100,200,400,800")
    parser.add_argument("--step-s", type=float, default=15.0)
    parser.add_argument("--profile-s", type=float, default=10.0)
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_clients(args.url, args.client, args.step_s))
        return 0
    steps = [int(s) for s in args.steps.split(",")]
    env = {"ENGINE_CONCURRENCY_LIMIT": str(max(steps) + 10), "SESSION_IDLE_TIMEOUT_S": "600"}
    with LocalStack(services=["realtime-sim", "app"], env=env, upstream_proxy=False) as stack:
        token = httpx.post(
            f"{stack.app_url}/api/auth/login", json={"email": "betty@123.com", "password": "Betty@123.com"}
        ).json()["access_token"]
        idle = _step(stack, token, 0, args.step_s)
        print(
            f"idle: /health p50 {idle['health_p50_ms']:.1f} / p95 {idle['health_p95_ms']:.1f} ms, "
            f"first audio p50 {idle['ttfa_p50_ms']:.1f} / p95 {idle['ttfa_p95_ms']:.1f} ms, "
            f"app CPU {idle['app_cpu_percent']:.0f}%",
            flush=True,
        )
        last_ok = 0
        for sessions in steps:
            got = _step(stack, token, sessions, args.step_s)
            per = (got["app_cpu_percent"] - idle["app_cpu_percent"]) / sessions
            degraded = got["health_p95_ms"] > _bound(idle["health_p95_ms"], HEALTH_FLOOR_MS) or got[
                "ttfa_p95_ms"
            ] > _bound(idle["ttfa_p95_ms"], TTFA_FLOOR_MS)
            print(
                f"{sessions:>5} streaming ({got['held']:.0f} held): /health p95 {got['health_p95_ms']:.1f} ms, "
                f"first audio p95 {got['ttfa_p95_ms']:.1f} ms, app CPU {got['app_cpu_percent']:.0f}% "
                f"({per:.2f}% per session){'  <- degraded' if degraded else ''}",
                flush=True,
            )
            if degraded:
                break
            last_ok = sessions
        print(f"relayed without degrading: {last_ok} streaming sessions (100 ms chunks, real time)")
        if last_ok:
            client = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--client",
                    str(last_ok),
                    "--url",
                    f"{stack.ws_url}?token={token}",
                    "--step-s",
                    str(args.profile_s + 10),
                ],
                cwd=ROOT,
            )
            time.sleep(last_ok / 200 + 2)
            _profile(stack, args.profile_s)
            client.terminate()
            client.wait(timeout=30)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
