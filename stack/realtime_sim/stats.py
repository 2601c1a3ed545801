"""Per-session counters and their totals, for ``/health`` and ``/stats``.

The harness reads them to prove that every session it opened was closed again (no
session left behind), that audio went both ways in full, and that injected faults fired.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

COUNTERS: tuple[str, ...] = (
    "audio_bytes_in",
    "audio_bytes_out",
    "responses",
    "responses_cancelled",
    "events_in",
    "events_out",
    "errors_sent",
    "faults",
)


@dataclass
class SessionCounters:
    """One WebSocket session. Plain attributes: incremented on the hot path, no locking
    needed on a single event loop."""

    session_id: str
    path: str
    model: str
    created: float = field(default_factory=time.time)
    closed: float | None = None
    audio_bytes_in: int = 0
    audio_bytes_out: int = 0
    responses: int = 0
    responses_cancelled: int = 0
    events_in: int = 0
    events_out: int = 0
    errors_sent: int = 0
    faults: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class StatsRegistry:
    """Live sessions, the most recently closed ones, and running totals."""

    def __init__(self, keep_closed: int = 200) -> None:
        self._live: dict[str, SessionCounters] = {}
        self._recent: deque[SessionCounters] = deque(maxlen=keep_closed)
        self._closed_totals = dict.fromkeys(COUNTERS, 0)
        self._opened = 0
        self._closed = 0

    def open(self, session_id: str, *, path: str, model: str) -> SessionCounters:
        counters = SessionCounters(session_id=session_id, path=path, model=model)
        self._live[session_id] = counters
        self._opened += 1
        return counters

    def close(self, counters: SessionCounters) -> None:
        if self._live.pop(counters.session_id, None) is None:
            return
        counters.closed = time.time()
        self._closed += 1
        for name in COUNTERS:
            self._closed_totals[name] += getattr(counters, name)
        self._recent.append(counters)

    @property
    def live_count(self) -> int:
        return len(self._live)

    def snapshot(self) -> dict[str, Any]:
        totals = dict(self._closed_totals)
        for counters in self._live.values():
            for name in COUNTERS:
                totals[name] += getattr(counters, name)
        return {
            "live": len(self._live),
            "opened": self._opened,
            "closed": self._closed,
            "totals": totals,
            "sessions": [c.as_dict() for c in self._live.values()],
            "recently_closed": [c.as_dict() for c in self._recent],
        }
