"""Unit tests of the load package's pure parts: no network, no Docker, no Locust process.

Locust monkey-patches the process with gevent when imported, so nothing here imports it:
``load.shapes`` is loaded under a private name against a stub ``locust`` module.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from fixtures.percentiles import percentile
from load import pacing
from load.capacity import SETTLE_S, analyse
from load.event_log import EventLog, read_events
from load.generator_health import MIN_LAGS, GeneratorHealth
from load.settings import LoadSettings
from realtime_qa.capacity_command import _steps, default_steps

LOAD_DIR = Path(__file__).resolve().parent.parent / "load"


# -- load.generator_health -----------------------------------------------------------------


class _StubProcess:
    """Stands in for ``psutil.Process``: a CPU reading chosen by the test."""

    def __init__(self, cpu: float) -> None:
        self.cpu = cpu

    def cpu_percent(self, interval: float | None = None) -> float:
        return self.cpu


def _health(cpu: float = 10.0, **kwargs: Any) -> GeneratorHealth:
    health = GeneratorHealth(**kwargs)
    health._process = _StubProcess(cpu)  # type: ignore[assignment]
    return health


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        (list(range(1, 101)), 99, 99),
        (list(range(1, 101)), 50, 50),
        (list(range(1, 101)), 100, 100),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.0),
        ([7.0], 99, 7.0),
        ([5.0, 1.0], 0, 1.0),
        ([], 99, 0.0),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    """An SLO's p99 is a value that was observed, not an interpolation; no values reads as 0."""
    assert percentile(values, pct) == expected


def test_health_quiet_when_within_limits() -> None:
    """A generator keeping pace at low CPU must not cast doubt on its figures."""
    health = _health(cpu=30.0)
    for _ in range(MIN_LAGS * 2):
        health.record_lag(0.001)
    sample = health.check()
    assert not health.flagged
    assert health.warnings == []
    assert sample["cpu_percent"] == 30.0
    assert sample["lag_p99_ms"] == 1.0
    assert sample["sends"] == MIN_LAGS * 2


def test_health_flags_cpu_over_limit() -> None:
    """A saturated generator measures itself, so its run must be flagged."""
    health = _health(cpu=97.0, cpu_limit=90.0)
    health.check()
    assert health.flagged
    assert any("CPU 97%" in w for w in health.warnings)


def test_health_flags_lag_p99_over_limit() -> None:
    """Sends leaving late at p99 over enough sends mean it cannot keep real-time pace."""
    health = _health()
    for _ in range(MIN_LAGS - 10):
        health.record_lag(0.0)
    for _ in range(10):
        health.record_lag(0.030)
    sample = health.check()
    assert sample["lag_p99_ms"] == 30.0
    assert health.flagged
    assert any("send lag p99 30.0 ms" in w for w in health.warnings)


def test_health_ignores_one_late_send_among_few() -> None:
    """With fewer than MIN_LAGS sends, one scheduler hiccup would be "the p99": no verdict yet."""
    health = _health()
    for _ in range(20):
        health.record_lag(0.0)
    health.record_lag(0.5)
    sample = health.check()
    assert sample["lag_p99_ms"] is None
    assert not health.flagged
    assert not health.report()["flagged"]


def test_health_negative_lag_counts_as_on_time() -> None:
    """A send that left early is not late: it must not pull percentiles below zero."""
    health = _health()
    health.record_lag(-0.5)
    assert health.report()["lag_p50_ms"] == 0.0


def test_health_sample_counts_sends_since_last_check() -> None:
    """Each window's sample reports its own sends, not the running total."""
    health = _health()
    for _ in range(5):
        health.record_lag(0.0)
    assert health.check()["sends"] == 5
    for _ in range(3):
        health.record_lag(0.0)
    assert health.check()["sends"] == 3
    assert health.report()["sends"] == 8


def test_health_report_flags_whole_run_p99() -> None:
    """Lag the recent windows no longer show still makes the run's p99 and must flag it."""
    health = _health()
    for _ in range(100):
        health.record_lag(0.030)
    for _ in range(1000):
        health.record_lag(0.0)
    health.check()
    assert not health.flagged
    report = health.report()
    assert report["flagged"]
    assert report["lag_p99_ms"] == 30.0
    assert report["sends"] == 1100
    assert any("over the run" in w for w in report["warnings"])


def test_health_report_cpu_max_from_samples() -> None:
    """The report carries the worst CPU reading of the run, not the last."""
    health = _health(cpu=40.0)
    health.check()
    health._process = _StubProcess(70.0)  # type: ignore[assignment]
    health.check()
    health._process = _StubProcess(20.0)  # type: ignore[assignment]
    health.check()
    assert health.report()["cpu_max_percent"] == 70.0


def test_health_recent_sets_the_lag_window() -> None:
    """``recent`` promises a p99 over the last that many sends; old lag must drop out of it."""
    health = _health(recent=MIN_LAGS)
    for _ in range(800):
        health.record_lag(0.030)
    for _ in range(MIN_LAGS):
        health.record_lag(0.0)
    assert health.check()["lag_p99_ms"] == 0.0


def test_health_merge_takes_worst_and_sums_sends() -> None:
    """Master plus workers are one generator: any flag, the worst figures, every send."""
    master = {
        "flagged": False,
        "warnings": [],
        "sends": 100,
        "lag_p50_ms": 1.0,
        "lag_p99_ms": 5.0,
        "cpu_max_percent": 80.0,
        "samples": [{"t": 2.0, "cpu_percent": 80.0}],
    }
    worker = {
        "flagged": True,
        "warnings": ["worker slow"],
        "sends": 250,
        "lag_p50_ms": 0.5,
        "lag_p99_ms": 25.0,
        "cpu_max_percent": 60.0,
        "samples": [{"t": 1.0, "cpu_percent": 60.0}, {"t": 3.0, "cpu_percent": 50.0}],
    }
    merged = GeneratorHealth.merge([master, worker])
    assert merged["flagged"]
    assert merged["warnings"] == ["worker slow"]
    assert merged["sends"] == 350
    assert merged["lag_p50_ms"] == 1.0
    assert merged["lag_p99_ms"] == 25.0
    assert merged["cpu_max_percent"] == 80.0
    assert merged["processes"] == 2
    assert [s["t"] for s in merged["samples"]] == [1.0, 2.0, 3.0]


def test_health_merge_of_nothing() -> None:
    """No reports (a run that never started) merge to an unflagged zero, not an error."""
    merged = GeneratorHealth.merge([])
    assert not merged["flagged"]
    assert merged["sends"] == 0
    assert merged["lag_p99_ms"] == 0.0
    assert merged["processes"] == 0


# -- load.pacing ---------------------------------------------------------------------------


class _FakeClock:
    """``time.monotonic`` under the test's control; ``sleep`` advances it exactly."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _FakeClock:
    fake = _FakeClock()
    monkeypatch.setattr(pacing, "time", fake)
    return fake


def test_pacing_sends_chunk_n_at_n_chunk_s(clock: _FakeClock) -> None:
    """Audio must go out at playback pace: chunk n leaves n * chunk_s after the first."""
    sent: list[tuple[str, float]] = []
    lags: list[float] = []
    pacing.stream_paced(
        lambda chunk: sent.append((chunk, clock.now)), ["a", "b", "c", "d"], 0.1, clock.sleep, lags.append
    )
    assert [chunk for chunk, _ in sent] == ["a", "b", "c", "d"]
    assert [at for _, at in sent] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert lags == pytest.approx([0.0] * 4, abs=1e-9)
    assert len(clock.sleeps) == 3


def test_pacing_records_late_send_and_keeps_schedule(clock: _FakeClock) -> None:
    """A slow send shows up as lag, and later chunks keep the original schedule (no drift)."""
    sent: list[float] = []
    lags: list[float] = []

    def slow_first_send(chunk: str) -> None:
        sent.append(clock.now)
        if chunk == "a":
            clock.now += 0.25

    pacing.stream_paced(slow_first_send, ["a", "b", "c", "d"], 0.1, clock.sleep, lags.append)
    assert lags == pytest.approx([0.0, 0.15, 0.05, 0.0], abs=1e-9)
    assert sent == pytest.approx([0.0, 0.25, 0.25, 0.3])


def test_pacing_no_chunks(clock: _FakeClock) -> None:
    """An empty utterance sends nothing and sleeps not at all."""
    sent: list[str] = []
    pacing.stream_paced(sent.append, [], 0.1, clock.sleep, lambda _lag: None)
    assert sent == []
    assert clock.sleeps == []


# -- load.capacity.analyse -----------------------------------------------------------------

T0 = 1_700_000_000.0
STEP_S = 10.0


def _ws(t: float, name: str, ms: float = 0.0, error: str | None = None, pid: int = 1) -> dict[str, Any]:
    return {"t": t, "type": "WS", "name": name, "ms": ms, "bytes": 0, "error": error, "pid": pid}


def _turns(start: float, ttfas: list[float]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i, ms in enumerate(ttfas):
        t = start + i * 0.2
        events += [_ws(t, "time_to_first_audio", ms), _ws(t + 0.1, "response_done", ms * 3)]
    return events


def _run(health: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], list[tuple[float, int]]]:
    """A 2, 4, 8 user run: steps 0 and 1 healthy, step 2 slow and refused at the pool's limit."""
    events = [
        {"t": T0 + 0.3, "type": "mark", "name": "test_start", "pid": 2},
        {"t": T0, "type": "mark", "name": "test_start", "pid": 1},
        _ws(T0 + 0.5, "session_created"),
        _ws(T0 + 1.0, "session_created"),
        _ws(T0 + 10.5, "ws_connect", error="ramp hiccup"),
        _ws(T0 + 10.8, "session_created"),
        _ws(T0 + 11.0, "session_created"),
        _ws(T0 + 21.0, "session_created"),
        _ws(T0 + 21.5, "session_created", error="timed out"),
        *_turns(T0 + SETTLE_S + 0.5, [100.0 + i for i in range(20)]),
        *_turns(T0 + STEP_S + SETTLE_S + 0.5, [110.0 + i for i in range(20)]),
        *_turns(T0 + 2 * STEP_S + SETTLE_S + 0.5, [300.0 + i for i in range(20)]),
        _ws(T0 + 25.0, "time_to_first_audio", 5000.0, error="late"),
        _ws(T0 + 26.0, "closed 4002", error="4002: pool full"),
        _ws(T0 + 27.0, "closed 4002", error="4002: pool full"),
        _ws(T0 + 31.0, "closed 4002", error="after the run"),
    ]
    sessions = [
        (T0 + 1.0, 99),
        *[(T0 + t, n) for t, n in zip([3, 4, 5, 6, 7], [2, 2, 1, 2, 2], strict=True)],
        *[(T0 + t, n) for t, n in zip([13, 14, 15, 16], [4, 3, 4, 4], strict=True)],
        *[(T0 + t, n) for t, n in zip([23, 24, 25, 26, 27], [6, 7, 6, 6, 7], strict=True)],
    ]
    return sorted(events, key=lambda e: e["t"]), sessions


def _healthy(flagged: bool = False) -> dict[str, Any]:
    return {
        "flagged": flagged,
        "sends": 10,
        "lag_p99_ms": 2.0,
        "samples": [
            {"t": T0 + 3.0, "cpu_percent": 20.0, "lag_p99_ms": None},
            {"t": T0 + 5.0, "cpu_percent": 40.0, "lag_p99_ms": 1.0},
            {"t": T0 + 9.0, "cpu_percent": 55.0, "lag_p99_ms": 3.0},
            {"t": T0 + 25.0, "cpu_percent": 70.0, "lag_p99_ms": 8.0},
        ],
    }


def test_analyse_bins_each_step() -> None:
    """Each step's figures come only from its own window after the ramp settles."""
    events, sessions = _run()
    result = analyse(events, sessions, _healthy(), [2, 4, 8], STEP_S, 200.0)
    first, second, third = result.steps
    assert [s.users for s in result.steps] == [2, 4, 8]
    assert [s.started_s for s in result.steps] == [0.0, 10.0, 20.0]
    assert [s.sessions_held for s in result.steps] == [2, 4, 6]
    assert [s.sessions_opened for s in result.steps] == [2, 2, 1]
    assert (first.ttfa_p50_ms, first.ttfa_p95_ms, first.ttfa_p99_ms) == (109.0, 118.0, 119.0)
    assert (second.ttfa_p50_ms, second.ttfa_p95_ms, second.ttfa_p99_ms) == (119.0, 128.0, 129.0)
    assert (third.ttfa_p50_ms, third.ttfa_p95_ms, third.ttfa_p99_ms) == (309.0, 318.0, 319.0)
    assert [s.turns for s in result.steps] == [20, 20, 20]
    assert first.errors == {}
    assert second.errors == {}
    assert third.errors == {"closed 4002": 2, "time_to_first_audio": 1}
    assert third.requests == 43
    assert third.error_rate == round(3 / 43, 4)
    assert first.generator_cpu_percent == 55.0
    assert first.generator_lag_p99_ms == 3.0
    assert third.generator_lag_p99_ms == 8.0
    assert second.generator_cpu_percent is None


def test_analyse_verdicts() -> None:
    """The knee, the largest SLO-meeting count and the pool limit are what the report is for."""
    events, sessions = _run()
    result = analyse(events, sessions, _healthy(), [2, 4, 8], STEP_S, 200.0)
    assert [s.slo_ok for s in result.steps] == [True, True, False]
    assert result.knee_users == 8
    assert result.knee_sessions == 6
    assert result.slo_ok_sessions == 4
    assert result.pool_limit_seen == 6
    assert result.trustworthy
    assert result.slo_ttfa_p95_ms == 200.0
    assert "samples" not in result.generator
    assert result.generator["sends"] == 10


def test_analyse_untrustworthy_when_generator_flagged() -> None:
    """Figures from a saturated generator must be marked as such."""
    events, sessions = _run()
    result = analyse(events, sessions, _healthy(flagged=True), [2, 4, 8], STEP_S, 200.0)
    assert not result.trustworthy


def test_analyse_tight_slo_fails_every_step() -> None:
    """A step meets the SLO only when its p95 is within it: none does here."""
    events, sessions = _run()
    result = analyse(events, sessions, _healthy(), [2, 4, 8], STEP_S, 100.0)
    assert [s.slo_ok for s in result.steps] == [False, False, False]
    assert result.slo_ok_sessions is None


def test_analyse_knee_from_latency_alone() -> None:
    """Without errors, the knee is the first step whose p95 passes (not reaches) 1.5x the first step's."""
    events = [{"t": T0, "type": "mark", "name": "test_start", "pid": 1}]
    for index, ms in enumerate([100.0, 140.0, 150.0, 400.0]):
        events += _turns(T0 + index * STEP_S + SETTLE_S + 0.5, [ms] * 10)
    result = analyse(events, [], {}, [1, 2, 3, 4], STEP_S, 1000.0)
    assert result.knee_users == 4
    assert result.pool_limit_seen is None
    assert [s.sessions_held for s in result.steps] == [0.0] * 4
    assert result.slo_ok_sessions == 0.0
    assert result.trustworthy


def test_analyse_no_knee_within_floor() -> None:
    """On a fast target 4x a 10 ms p95 is jitter: the knee needs 50 ms over the first step too."""
    events = [{"t": T0, "type": "mark", "name": "test_start", "pid": 1}]
    for index, ms in enumerate([10.0, 40.0, 59.0]):
        events += _turns(T0 + index * STEP_S + SETTLE_S + 0.5, [ms] * 10)
    assert analyse(events, [], {}, [1, 2, 3], STEP_S, 1000.0).knee_users is None
    events += _turns(T0 + 3 * STEP_S + SETTLE_S + 0.5, [61.0] * 10)
    assert analyse(events, [], {}, [1, 2, 3, 4], STEP_S, 1000.0).knee_users == 4


def test_analyse_knee_at_first_step_with_errors() -> None:
    """Errors make a knee even when latency is fine."""
    events = [{"t": T0, "type": "mark", "name": "test_start", "pid": 1}]
    events += _turns(T0 + SETTLE_S + 0.5, [100.0] * 5)
    events += _turns(T0 + STEP_S + SETTLE_S + 0.5, [100.0] * 5)
    events.append(_ws(T0 + STEP_S + 5.0, "closed 1011", error="1011: internal"))
    result = analyse(events, [], {}, [1, 2], STEP_S, 1000.0)
    assert result.knee_users == 2
    assert result.steps[1].errors == {"closed 1011": 1}
    assert result.pool_limit_seen is None


def test_analyse_empty_run() -> None:
    """A run that produced nothing still yields one empty result per step, not an exception."""
    result = analyse([], [], {}, [2, 4], STEP_S, 200.0)
    assert len(result.steps) == 2
    assert all(s.ttfa_p95_ms is None and s.requests == 0 and not s.slo_ok for s in result.steps)
    assert result.knee_users is None
    assert result.slo_ok_sessions is None


# -- load.event_log ------------------------------------------------------------------------


def _event_log(monkeypatch: pytest.MonkeyPatch, prefix: Path, pid: int, clock: list[float]) -> EventLog:
    """An EventLog as process ``pid`` would write it, its timestamps taken from ``clock``."""
    monkeypatch.setattr("load.event_log.os", types.SimpleNamespace(getpid=lambda: pid))
    monkeypatch.setattr("load.event_log.time", types.SimpleNamespace(time=lambda: clock[0]))
    return EventLog(prefix)


def test_event_log_writes_jsonl_per_pid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """One file per process, so workers never interleave half-lines."""
    clock = [100.0]
    log = _event_log(monkeypatch, tmp_path / "events", 4242, clock)
    log.mark("test_start")
    clock[0] = 100.5
    log.request("WS", "time_to_first_audio", 123.456, 10)
    log.request("WS", "closed 4002", 5.0, 0, exception=RuntimeError("4002: pool full"), context={})
    log.close()
    assert log.path == tmp_path / "events.4242.jsonl"
    assert log.count == 2
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert lines == [
        {"t": 100.0, "type": "mark", "name": "test_start", "pid": 4242},
        {"t": 100.5, "type": "WS", "name": "time_to_first_audio", "ms": 123.46, "bytes": 10, "error": None,
         "pid": 4242},
        {"t": 100.5, "type": "WS", "name": "closed 4002", "ms": 5.0, "bytes": 0, "error": "4002: pool full",
         "pid": 4242},
    ]  # fmt: skip


def test_read_events_merges_processes_in_time_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A capacity step bins events from every process, so they must come back as one timeline."""
    prefix = tmp_path / "events"
    clock = [0.0]
    master = _event_log(monkeypatch, prefix, 1, clock)
    worker = _event_log(monkeypatch, prefix, 2, clock)
    for t, log, name in [(1.0, master, "a"), (2.0, worker, "b"), (3.0, master, "c"), (4.0, worker, "d")]:
        clock[0] = t
        log.request("WS", name, 1.0, 0)
    master.close()
    worker.close()
    (tmp_path / "other.3.jsonl").write_text(json.dumps(_ws(0.5, "not this run")) + "\n")
    (tmp_path / "events.9.jsonl").write_text("\n")
    events = read_events(prefix)
    assert [e["name"] for e in events] == ["a", "b", "c", "d"]
    assert [e["pid"] for e in events] == [1, 2, 1, 2]


def test_read_events_nothing_written(tmp_path: Path) -> None:
    """A run whose processes logged nothing reads as no events."""
    assert read_events(tmp_path / "events") == []


def test_read_events_only_its_own_prefix(tmp_path: Path) -> None:
    """Files of another prefix that starts with this one's name are another run's events."""
    (tmp_path / "events.1.jsonl").write_text(json.dumps(_ws(1.0, "mine")) + "\n")
    (tmp_path / "events.warmup.1.jsonl").write_text(json.dumps(_ws(2.0, "warmup")) + "\n")
    assert [e["name"] for e in read_events(tmp_path / "events")] == ["mine"]


# -- load.shapes ---------------------------------------------------------------------------


class _StubShape:
    """Locust's ``LoadTestShape`` as far as ``StepLoad`` uses it."""

    runner: Any = None

    def get_run_time(self) -> float:
        return 0.0


@pytest.fixture
def step_load_class(monkeypatch: pytest.MonkeyPatch) -> type:
    """``load.shapes.StepLoad`` built on a stub: importing Locust would gevent-patch this process."""
    stub = types.ModuleType("locust")
    stub.LoadTestShape = _StubShape  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "locust", stub)
    spec = importlib.util.spec_from_file_location("_shapes_under_test", LOAD_DIR / "shapes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.StepLoad


def _shape(cls: type, monkeypatch: pytest.MonkeyPatch, run_time: float, **options: Any) -> Any:
    shape = cls()
    shape.runner = types.SimpleNamespace(
        environment=types.SimpleNamespace(parsed_options=types.SimpleNamespace(**options))
    )
    monkeypatch.setattr(shape, "get_run_time", lambda: run_time)
    return shape


@pytest.mark.parametrize(("run_time", "expected"), [(0.0, (2, 8.0)), (9.99, (2, 8.0)), (12.0, (4, 16.0)), (25.0, None)])
def test_step_load_tick(
    step_load_class: type, monkeypatch: pytest.MonkeyPatch, run_time: float, expected: tuple[int, float] | None
) -> None:
    """Step i holds steps[i] users for step_s, then the run stops: how a report bins by step."""
    shape = _shape(step_load_class, monkeypatch, run_time, steps="2,4", step_s=10.0)
    assert shape.tick() == expected


@pytest.mark.parametrize("steps", ["", None, " , "])
def test_step_load_without_steps_stops(
    step_load_class: type, monkeypatch: pytest.MonkeyPatch, steps: str | None
) -> None:
    """No --steps means no step load: the shape must not invent one."""
    assert _shape(step_load_class, monkeypatch, 0.0, steps=steps, step_s=10.0).tick() is None


def test_step_load_without_runner_stops(step_load_class: type) -> None:
    """Before Locust attaches a runner there are no options to read."""
    assert step_load_class().tick() is None


def test_step_load_zero_users_still_has_a_rate(step_load_class: type, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step of 0 users must not hand Locust a spawn rate of 0."""
    assert _shape(step_load_class, monkeypatch, 0.0, steps="0,2", step_s=5.0).tick() == (0, 4.0)


# -- load.settings -------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RQA_API_URL", "RQA_WS_URL", "RQA_PROFILE", "RQA_EMAIL"):
        monkeypatch.delenv(name, raising=False)


def _options(**overrides: Any) -> types.SimpleNamespace:
    values: dict[str, Any] = {
        "host": "http://app:8080/",
        "ws_url": "ws://app:8080/ws/realtime",
        "chunk_ms": 40,
        "turns": 3,
        "barge_in": True,
        "wav": "prompt.wav",
        "session_hold_s": 1.5,
        "lag_report": "health.json",
    }
    return types.SimpleNamespace(**{**values, **overrides})


@pytest.mark.usefixtures("clean_env")
def test_settings_from_options() -> None:
    """Every option a user reads reaches its settings, the REST URL without a trailing slash."""
    settings = LoadSettings.from_options(_options())
    assert settings.api_url == "http://app:8080"
    assert settings.ws_url == "ws://app:8080/ws/realtime"
    assert settings.chunk_ms == 40
    assert settings.turns == 3
    assert settings.barge_in is True
    assert settings.wav == "prompt.wav"
    assert settings.hold_s == 1.5
    assert settings.lag_report == "health.json"
    assert settings.profile.email


@pytest.mark.usefixtures("clean_env")
def test_settings_defaults_for_missing_options() -> None:
    """Options Locust did not parse fall back to defaults; negative turns mean "forever" (0)."""
    options = types.SimpleNamespace(host="http://h", ws_url="ws://h/ws", turns=-1, wav=None, lag_report=None)
    settings = LoadSettings.from_options(options)
    assert (settings.chunk_ms, settings.turns, settings.barge_in) == (100, 0, False)
    assert (settings.wav, settings.hold_s, settings.lag_report) == ("", 0.0, "")


@pytest.mark.usefixtures("clean_env")
def test_settings_host_argument_wins() -> None:
    """A worker has the host from its master's spawn, not from its own options."""
    settings = LoadSettings.from_options(_options(host="http://stale:1"), host="http://spawned:8080/")
    assert settings.api_url == "http://spawned:8080"


@pytest.mark.usefixtures("clean_env")
def test_settings_environment_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """RQA_API_URL and RQA_WS_URL set the target when the options do not."""
    monkeypatch.setenv("RQA_API_URL", "http://env:8080")
    monkeypatch.setenv("RQA_WS_URL", "ws://env:8080/ws")
    settings = LoadSettings.from_options(_options(host="", ws_url=""))
    assert (settings.api_url, settings.ws_url) == ("http://env:8080", "ws://env:8080/ws")


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("chunk_ms", [10, 19, 201, 300])
def test_settings_rejects_chunk_ms_out_of_range(chunk_ms: int) -> None:
    """Chunks outside 20-200 ms are not what a real client sends; the error names the option."""
    with pytest.raises(ValueError, match=f"--chunk-ms {chunk_ms}"):
        LoadSettings.from_options(_options(chunk_ms=chunk_ms))


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("chunk_ms", [20, 200])
def test_settings_accepts_chunk_ms_bounds(chunk_ms: int) -> None:
    """The documented range is inclusive."""
    assert LoadSettings.from_options(_options(chunk_ms=chunk_ms)).chunk_ms == chunk_ms


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("missing", ["host", "ws_url"])
def test_settings_missing_target_says_how_to_set_it(missing: str) -> None:
    """Without a target, the error must tell the user the flags and variables that set it."""
    with pytest.raises(ValueError, match="the target is not set") as caught:
        LoadSettings.from_options(_options(**{missing: ""}))
    for hint in ("--host", "--ws-url", "RQA_API_URL", "RQA_WS_URL"):
        assert hint in str(caught.value)


# -- realtime_qa.capacity_command ----------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("2,4,8", [2, 4, 8]), (" 1, 3 ,", [1, 3]), ("0", [0])])
def test_steps_parses_user_counts(text: str, expected: list[int]) -> None:
    """--steps takes comma-separated counts, forgiving blanks and spaces."""
    assert _steps(text) == expected


@pytest.mark.parametrize("text", ["a", "2,x", "1.5", "", ",", "2,-1"])
def test_steps_rejects_bad_lists(text: str) -> None:
    """argparse turns ArgumentTypeError into a usage error (exit 2), not a traceback."""
    with pytest.raises(argparse.ArgumentTypeError, match="--steps"):
        _steps(text)


@pytest.mark.parametrize(
    ("limit", "expected"), [(8, [2, 5, 7, 10, 12]), (4, [1, 2, 4, 5, 6]), (1, [1, 2]), (0, [1, 2])]
)
def test_default_steps_go_past_the_limit(limit: int, expected: list[int]) -> None:
    """Five steps to 1.5x the pool limit, so the run crosses it; never a step of 0 users."""
    assert default_steps(limit) == expected
