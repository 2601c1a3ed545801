"""Sending audio at playback pace, and knowing how late each send went out.

One function for every real-time sender of the harness (the Locust user, the benchmarks):
chunk ``n`` is due ``n * chunk_s`` after the first; the sender sleeps until it is due
(``sleep`` is gevent's under Locust, time's elsewhere), sends it, and records how late it
left. The chunks are pre-built JSON text, already UTF-8 (``append_events``), sent as text
frames: the hot path does no encoding at all.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence

from fixtures.audio import BYTES_PER_SECOND

__all__ = ["append_events", "stream_paced"]


def append_events(pcm: bytes, chunk_ms: int) -> list[bytes]:
    """``pcm`` as ``input_audio_buffer.append`` events of ``chunk_ms`` each, JSON text in UTF-8."""
    size = BYTES_PER_SECOND * chunk_ms // 1000
    return [
        b'{"type":"input_audio_buffer.append","audio":"' + base64.b64encode(pcm[i : i + size]) + b'"}'
        for i in range(0, len(pcm), size)
    ]


def stream_paced(
    send: Callable[[bytes], object],
    chunks: Sequence[bytes],
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
