"""The Locust side of bench/loadgen.py: users that stream 100 ms chunks at real time to a sink.

The same work ``RealtimeUser`` does per chunk (``load.pacing.stream_paced`` over a
``websockets.sync`` socket, pre-built JSON chunks), minus the protocol's turns: the bench
asks how many such streams one Locust worker process keeps on schedule.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent
from locust import User, constant, events, task
from websockets.sync.client import connect

from fixtures.audio import tone
from load.gc_pauses import calm_the_collector
from load.pacing import append_events, stream_paced
from load.settings import add_options

events.init_command_line_parser.add_listener(add_options)
calm_the_collector()  # as RealtimeUser's processes do

SECONDS_PER_STREAM = 60  # longer than any trial: each user streams for the whole run


def _chunks(chunk_ms: int) -> list[bytes]:
    return append_events(tone(1.0) * SECONDS_PER_STREAM, chunk_ms)


CHUNKS: dict[int, list[bytes]] = {}
LAGS: list[tuple[float, float]] = []  # (when, ms late): the bench takes the steady part's p99, as for asyncio


def _record(lag_s: float) -> None:
    LAGS.append((time.monotonic(), lag_s * 1000))


@events.quitting.add_listener
def _write_lags(environment: Any, **_kwargs: Any) -> None:
    path = environment.parsed_options.lag_report
    if path and LAGS:
        Path(path).write_text(json.dumps({"first": LAGS[0][0], "lags": LAGS}))


class SinkUser(User):
    wait_time = constant(0)

    @task
    def stream(self) -> None:
        chunk_ms = int(self.environment.parsed_options.chunk_ms)
        if chunk_ms not in CHUNKS:  # once per process: a user that encodes stalls every other user's sends
            CHUNKS[chunk_ms] = _chunks(chunk_ms)
        chunks = CHUNKS[chunk_ms]
        with connect(self.environment.host, compression=None, max_size=None) as ws:
            stream_paced(functools.partial(ws.send, text=True), chunks, chunk_ms / 1000, gevent.sleep, _record)
