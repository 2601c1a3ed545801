"""``realtime-qa capacity`` end to end against a real stack of a known limit: steps, verdicts, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.local_stack import LocalStack
from fixtures.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.load, pytest.mark.timeout(300)]


def capacity(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    return subprocess.run(
        [sys.executable, "-m", "realtime_qa.cli", "capacity", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_a_step_load_past_the_limit_names_the_knee_and_leaves_its_report(tmp_path: Path) -> None:
    with LocalStack(services=["realtime-sim", "app"], env={"ENGINE_CONCURRENCY_LIMIT": "2"}) as stack:
        done = capacity("--api-url", stack.app_url, "--ws-url", stack.ws_url, "--steps", "1,2,4", "--step-s", "7",
                        "--slo-ttfa-p95-ms", "1500", "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    found = json.loads((tmp_path / "capacity.json").read_text())
    assert [s["users"] for s in found["steps"]] == [1, 2, 4]
    assert [s["sessions_held"] for s in found["steps"]] == [1, 2, 2]
    assert found["knee_users"] == 4, found  # errors (4002) start past the limit
    assert found["pool_limit_seen"] == 2
    assert found["slo_ok_sessions"] == 2
    assert found["steps"][2]["errors"].get("closed 4002", 0) > 0
    assert all(s["ttfa_p95_ms"] is not None for s in found["steps"])
    for name in ("capacity.html", "ttfa.png", "errors.png", "generator.png", "locust_stats.csv",
                 "locust_stats_history.csv", "locust-report.html"):  # fmt: skip
        assert (tmp_path / name).stat().st_size > 0, name
    assert "knee at 4 users" in done.stdout
    assert "Betty@123.com" not in (tmp_path / "capacity.json").read_text()


def test_bad_steps_are_a_usage_error() -> None:
    done = capacity("--api-url", "http://127.0.0.1:1", "--ws-url", "ws://127.0.0.1:1/ws", "--steps", "2,x")
    assert done.returncode == 2
    assert "--steps '2,x' must be comma-separated whole numbers" in done.stderr


def test_an_unreachable_deployment_is_a_setup_error() -> None:
    port = free_port()
    done = capacity("--api-url", f"http://127.0.0.1:{port}", "--ws-url", f"ws://127.0.0.1:{port}/ws/realtime")
    assert done.returncode == 6, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
