"""Sending audio at playback pace, and knowing how late each send went out.

One function for every real-time sender of the harness (the Locust user, the benchmarks):
chunk ``n`` is due ``n * chunk_s`` after the first; the sender sleeps until it is due
(``sleep`` is gevent's under Locust, time's elsewhere), sends it, and records how late it
left. The chunks are pre-built JSON text, so the hot path does no encoding at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

__all__ = ["stream_paced"]


def stream_paced(
    send: Callable[[str], object],
    chunks: Sequence[str],
    chunk_s: float,
    sleep: Callable[[float], object],
    record_lag: Callable[[float], object],
) -> None:
    begun = time.monotonic()
    for n, chunk in enumerate(chunks):
        due = begun + n * chunk_s
        delay = due - time.monotonic()
        if delay > 0:
            sleep(delay)
        record_lag(time.monotonic() - due)
        send(chunk)
