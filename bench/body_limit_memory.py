"""The app's resident memory while clients send oversized request bodies (MAX_REQUEST_BODY_BYTES).

Before the body limit a 100 MB body to /api/auth/login was read whole before the 422, and the
app's RSS grew by hundreds of MB. This sends N oversized bodies (alternating a declared
Content-Length and chunked, each streamed from a generator so this client never holds one),
reads the app's VmRSS from /proc before and after, and prints both with what the app answered
(413, or "closed": the server hung up before the client finished sending). Loopback only.

    .venv/bin/python bench/body_limit_memory.py [--requests 10] [--size-mb 20] [--path /api/auth/login]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fixtures.local_stack import LocalStack

MIB = 1024 * 1024


async def junk(total: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    piece = b"x" * chunk
    sent = 0
    while sent < total:
        part = piece[: min(chunk, total - sent)]
        sent += len(part)
        yield part


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def send_oversized(http: httpx.AsyncClient, path: str, size: int, declare_length: bool) -> str:
    headers = {"Content-Type": "application/json"}
    if declare_length:
        headers["Content-Length"] = str(size)
    try:
        response = await http.post(path, content=junk(size), headers=headers)
    except httpx.TransportError:
        return "closed"
    return str(response.status_code)


async def run(requests: int, size_mb: int, path: str) -> None:
    size = size_mb * MIB
    with LocalStack(services=["realtime-sim", "app"], env={"LOG_LEVEL": "warning"}) as stack:
        pid = stack.process("app").pid
        async with httpx.AsyncClient(base_url=stack.app_url, timeout=60) as http:
            started_rss = rss_kib(pid)
            await send_oversized(http, path, size, declare_length=False)  # warm-up
            before = rss_kib(pid)
            answers: Counter[str] = Counter()
            started = time.perf_counter()
            for i in range(requests):
                answers[await send_oversized(http, path, size, declare_length=i % 2 == 0)] += 1
            elapsed = time.perf_counter() - started
            after = rss_kib(pid)
            health = (await http.get("/health")).status_code
    print(f"{requests} x {size_mb} MiB to POST {path} in {elapsed:.2f} s; answers {dict(answers)}; /health {health}")
    print(f"app VmRSS at start        {started_rss / 1024:8.1f} MiB")
    print(f"app VmRSS after warm-up   {before / 1024:8.1f} MiB")
    print(f"app VmRSS after the run   {after / 1024:8.1f} MiB   (growth {(after - before) / 1024:+.1f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--size-mb", type=int, default=20)
    parser.add_argument("--path", default="/api/auth/login")
    args = parser.parse_args()
    asyncio.run(asyncio.wait_for(run(args.requests, args.size_mb, args.path), timeout=300))


if __name__ == "__main__":
    main()
