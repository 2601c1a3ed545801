"""A load generator that knows when it lies: its own CPU and how late its sends go out.

A saturated generator measures itself: latencies grow because it cannot keep up, not
because the target slowed. Every paced send records how late it left against its
schedule; every ``window_s`` the process's CPU and the p99 lag of its last 1000 sends
are checked (a p99 of a handful of sends is one scheduler hiccup, not a trend).
Over the limits (CPU 90%, p99 lag 20 ms) it warns during the run and the run is flagged,
so the report can mark its figures as untrustworthy. Workers send theirs to the master.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import psutil

from fixtures.percentiles import percentile

__all__ = ["GeneratorHealth"]

log = logging.getLogger("realtime_qa.load")
MIN_LAGS = 200  # a p99 of fewer sends is two or three of them: no verdict yet (the run's end has one)


@dataclass
class GeneratorHealth:
    cpu_limit: float = 90.0
    lag_p99_limit_ms: float = 20.0
    window_s: float = 5.0
    samples: list[dict[str, float | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    recent: int = 1000  # p99 over the last this many sends: over fewer, one hiccup is "the p99"
    _window: deque[float] = field(init=False)
    _all_lags: deque[float] = field(default_factory=lambda: deque(maxlen=500_000))
    _sends: int = 0
    _sends_at_check: int = 0

    def __post_init__(self) -> None:
        self._window = deque(maxlen=self.recent)
        self._process = psutil.Process()
        self._process.cpu_percent(interval=None)  # starts the measurement

    def record_lag(self, lag_s: float) -> None:
        ms = max(0.0, lag_s * 1000)
        self._window.append(ms)
        self._all_lags.append(ms)
        self._sends += 1

    def check(self) -> dict[str, float | None]:
        """One window's reading; warns (and flags the run) when over a limit."""
        cpu = self._process.cpu_percent(interval=None)
        lags = list(self._window)
        sample = {
            "t": round(time.time(), 3),
            "cpu_percent": round(cpu, 1),
            "lag_p50_ms": round(percentile(lags, 50), 2),
            "lag_p99_ms": round(percentile(lags, 99), 2) if len(lags) >= MIN_LAGS else None,
            "sends": float(self._sends - self._sends_at_check),
        }
        self._sends_at_check = self._sends
        self.samples.append(sample)
        if cpu > self.cpu_limit:
            self._warn(f"load generator CPU {cpu:.0f}% > {self.cpu_limit:.0f}%: its figures are not trustworthy")
        if sample["lag_p99_ms"] is not None and sample["lag_p99_ms"] > self.lag_p99_limit_ms:
            self._warn(
                f"load generator send lag p99 {sample['lag_p99_ms']:.1f} ms > {self.lag_p99_limit_ms:.0f} ms: "
                "it cannot keep real-time pace, its figures are not trustworthy"
            )
        return sample

    def _warn(self, text: str) -> None:
        log.warning(text)
        self.warnings.append(text)

    @property
    def flagged(self) -> bool:
        return bool(self.warnings)

    def report(self) -> dict[str, Any]:
        lags = list(self._all_lags)
        whole_p99 = percentile(lags, 99)
        if len(lags) >= MIN_LAGS and whole_p99 > self.lag_p99_limit_ms and not self.flagged:
            self._warn(f"load generator send lag p99 {whole_p99:.1f} ms over the run > {self.lag_p99_limit_ms:.0f} ms")
        return {
            "flagged": self.flagged,
            "warnings": self.warnings[-20:],
            "sends": self._sends,
            "lag_p50_ms": round(percentile(lags, 50), 2),
            "lag_p99_ms": round(percentile(lags, 99), 2),
            "cpu_max_percent": max((s["cpu_percent"] for s in self.samples), default=0.0),
            "samples": self.samples,
        }

    @staticmethod
    def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Several processes' reports (master plus workers) as one: the worst figures win."""
        return {
            "flagged": any(r.get("flagged") for r in reports),
            "warnings": [w for r in reports for w in r.get("warnings", [])][-20:],
            "sends": sum(r.get("sends", 0) for r in reports),
            "lag_p50_ms": max((r.get("lag_p50_ms", 0.0) for r in reports), default=0.0),
            "lag_p99_ms": max((r.get("lag_p99_ms", 0.0) for r in reports), default=0.0),
            "cpu_max_percent": max((r.get("cpu_max_percent", 0.0) for r in reports), default=0.0),
            "processes": len(reports),
            "samples": sorted((s for r in reports for s in r.get("samples", [])), key=lambda s: s["t"]),
        }
