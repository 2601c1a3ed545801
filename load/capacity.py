"""``realtime-qa capacity``: a step load to and past the pool's limit, and what each step held.

Locust runs ``RealtimeUser`` under ``StepLoad`` (each user one session, turning for as long
as it lives) in processes of its own; meanwhile this process samples ``/api/sessions``
every second (what the deployment says it holds). Afterwards the run's request events
(``load.event_log``) and the generator's health are binned by step: sessions held, time to
first audio p50/p95/p99, errors by code, the generator's CPU and send lag. The knee is the
first step where time to first audio p95 exceeds 1.5× the first step's (and by 50 ms at
least), or errors start;
``slo_ok_sessions`` is the most sessions held at a step that met the SLO.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fixtures.percentiles import percentile
from fixtures.profile import TargetProfile
from fixtures.session_ledger import SessionLedger
from load.event_log import event_files, read_events
from load.locust_process import LOAD_DIR, LocustRun

__all__ = ["CapacityResult", "StepResult", "analyse", "run_capacity"]

SETTLE_S = 2.0  # the start of a step belongs to its ramp, not to what it holds
KNEE_RATIO = 1.5  # time to first audio p95 this many times the first step's ...
KNEE_FLOOR_MS = 50.0  # ... and this much above it (a few ms of jitter on a fast target is no knee)


@dataclass
class StepResult:
    users: int
    started_s: float
    sessions_held: float
    sessions_opened: int
    ttfa_p50_ms: float | None
    ttfa_p95_ms: float | None
    ttfa_p99_ms: float | None
    turns: int
    requests: int
    errors: dict[str, int]
    error_rate: float
    generator_cpu_percent: float | None
    generator_lag_p99_ms: float | None
    slo_ok: bool = False


@dataclass
class CapacityResult:
    steps: list[StepResult] = field(default_factory=list)
    slo_ttfa_p95_ms: float = 0.0
    knee_users: int | None = None
    knee_sessions: float | None = None
    slo_ok_sessions: float | None = None
    pool_limit_seen: int | None = None
    generator: dict[str, Any] = field(default_factory=dict)
    trustworthy: bool = True
    locust_returncode: int | None = None
    files: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class SessionSampler(threading.Thread):
    """What the deployment says it holds, once a second (a thread: this process runs no loop)."""

    def __init__(self, api_url: str, token: str, profile: TargetProfile) -> None:
        super().__init__(name="session-sampler", daemon=True)
        self.ledger = SessionLedger(api_url, token, profile)
        self.samples: list[tuple[float, int]] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(1.0):
            ids = self.ledger.ids()
            if ids is not None:  # the app did not answer: no sample rather than a false zero
                self.samples.append((time.time(), len(ids)))

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=10)
        self.ledger.close()


def analyse(
    events: list[dict[str, Any]], sessions: list[tuple[float, int]], health: dict[str, Any],
    steps: list[int], step_s: float, slo_ttfa_p95_ms: float,
) -> CapacityResult:  # fmt: skip
    """Bin a run's events by step and say where it broke."""
    starts = [e["t"] for e in events if e.get("type") == "mark" and e.get("name") == "test_start"]
    origin = min(starts) if starts else (events[0]["t"] if events else time.time())
    result = CapacityResult(
        slo_ttfa_p95_ms=slo_ttfa_p95_ms, generator={k: v for k, v in health.items() if k != "samples"}
    )
    samples = health.get("samples", [])
    for index, users in enumerate(steps):
        low, high = origin + index * step_s + SETTLE_S, origin + (index + 1) * step_s
        window = [e for e in events if low <= e["t"] < high and e.get("type") == "WS"]
        ttfa = [e["ms"] for e in window if e["name"] == "time_to_first_audio" and not e["error"]]
        errors = Counter(e["name"] for e in window if e["error"])
        held = [n for t, n in sessions if low <= t < high]
        gen = [s for s in samples if low <= s["t"] < high + 5]
        step = StepResult(
            users=users,
            started_s=round(index * step_s, 1),
            sessions_held=statistics.median(held) if held else 0.0,
            sessions_opened=sum(
                1
                for e in events
                if e.get("name") == "session_created" and not e.get("error") and low - SETTLE_S <= e["t"] < high
            ),
            ttfa_p50_ms=percentile(ttfa, 50) if ttfa else None,
            ttfa_p95_ms=percentile(ttfa, 95) if ttfa else None,
            ttfa_p99_ms=percentile(ttfa, 99) if ttfa else None,
            turns=sum(1 for e in window if e["name"] in ("response_done", "barge_in") and not e["error"]),
            requests=len(window),
            errors=dict(errors),
            error_rate=round(sum(errors.values()) / len(window), 4) if window else 0.0,
            generator_cpu_percent=max((s["cpu_percent"] for s in gen), default=None),
            generator_lag_p99_ms=max((s["lag_p99_ms"] for s in gen if s["lag_p99_ms"] is not None), default=None),
        )
        step.slo_ok = bool(ttfa) and (step.ttfa_p95_ms or 0) <= slo_ttfa_p95_ms and not errors
        result.steps.append(step)
    baseline = next((s.ttfa_p95_ms for s in result.steps if s.ttfa_p95_ms), None)
    for step in result.steps:
        degraded = (
            baseline is not None
            and step.ttfa_p95_ms is not None
            and step.ttfa_p95_ms > max(KNEE_RATIO * baseline, baseline + KNEE_FLOOR_MS)
        )
        if degraded or step.errors:
            result.knee_users, result.knee_sessions = step.users, step.sessions_held
            break
    ok = [s.sessions_held for s in result.steps if s.slo_ok]
    result.slo_ok_sessions = max(ok) if ok else None
    refused = [s for s in result.steps if any(name.endswith("4002") for name in s.errors)]
    if refused:
        result.pool_limit_seen = int(max(s.sessions_held for s in refused))
    result.trustworthy = not health.get("flagged", False)
    return result


def run_capacity(
    api_url: str, ws_url: str, token_for_sampler: str, profile: TargetProfile, *, steps: list[int], step_s: float,
    slo_ttfa_p95_ms: float, out_dir: Path, workers: int = 0, chunk_ms: int = 100, env: dict[str, str] | None = None,
) -> CapacityResult:  # fmt: skip
    """Run the step load and write capacity.json / .html / charts and Locust's CSV and HTML under ``out_dir``."""
    from load.capacity_report import write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    events_prefix = out_dir / "events"
    health_file = out_dir / "generator-health.json"
    for stale in [health_file, *event_files(events_prefix)]:  # an earlier run's events would join this one's
        stale.unlink(missing_ok=True)
    args = [
        "--host", api_url, "--ws-url", ws_url, "--steps", ",".join(map(str, steps)), "--step-s", str(step_s),
        "--turns", "0", "--chunk-ms", str(chunk_ms), "--events-log", str(events_prefix),
        "--lag-report", str(health_file), "--csv", str(out_dir / "locust"), "--csv-full-history",
        "--html", str(out_dir / "locust-report.html"), "--only-summary", "--stop-timeout", "5",
    ]  # fmt: skip
    sampler = SessionSampler(api_url, token_for_sampler, profile)
    sampler.start()
    run = LocustRun(LOAD_DIR / "capacity_locustfile.py", args, out_dir, workers=workers, env=env or {},
                    timeout_s=len(steps) * step_s + 120)  # fmt: skip
    try:
        code = run.run()
    finally:
        sampler.stop()
    health = json.loads(health_file.read_text()) if health_file.exists() else {}
    result = analyse(read_events(events_prefix), sampler.samples, health, steps, step_s, slo_ttfa_p95_ms)
    result.locust_returncode = code
    write_report(result, out_dir)
    return result
