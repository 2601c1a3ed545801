"""``realtime-qa probe`` against real stacks of known limits: the limit found exactly, every check proved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.local_stack import LocalStack

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def probe(api_url: str, ws_url: str, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "realtime_qa.cli",
            "probe",
            "--api-url",
            api_url,
            "--ws-url",
            ws_url,
            "--json",
            str(out),
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    return result, json.loads(out.read_text()) if out.exists() else {}


@pytest.mark.parametrize("limit", [1, 7, 64, 500])
def test_the_probe_finds_the_limit_exactly_and_proves_it(limit: int, tmp_path: Path) -> None:
    env = {"ENGINE_CONCURRENCY_LIMIT": str(limit)}
    with LocalStack(services=["realtime-sim", "app"], env=env, upstream_proxy=False) as stack:
        done, found = probe(
            stack.app_url, stack.ws_url, tmp_path / "probe.json", "--max-sessions", str(max(64, limit + 10))
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert found["limit"] == limit
    assert found["refused_code"] == "4002"
    assert found["refused_close_code"] == 4002
    assert found["refused_message"] == (
        "Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)"
    )
    assert found["slot_reuse_ok"] is True
    assert found["leaked_sessions"] == []
    assert all(found["checks"].values()), found["checks"]
    assert "sessions held" in done.stdout  # progress while it ramps
    print(f"limit {limit}: found in {found['timings']['ramp_s']} s, proved in {found['timings']['total_s']} s")


def test_no_refusal_within_max_sessions_is_a_failed_check(tmp_path: Path) -> None:
    with LocalStack(services=["realtime-sim", "app"], env={"ENGINE_CONCURRENCY_LIMIT": "8"}) as stack:
        done, found = probe(stack.app_url, stack.ws_url, tmp_path / "probe.json", "--max-sessions", "5")
    assert done.returncode == 1
    assert found["checks"] == {"refused_within_max_sessions": False, "no_session_left_behind": True}


def test_a_leaking_deployment_fails_the_leak_check(tmp_path: Path) -> None:
    """Sessions held by someone else before the probe are counted, and never called the probe's leak."""
    with LocalStack(services=["realtime-sim", "app"], env={"ENGINE_CONCURRENCY_LIMIT": "4"}) as stack:
        import httpx

        token = httpx.post(
            f"{stack.app_url}/api/auth/login", json={"email": "betty@123.com", "password": "Betty@123.com"}
        ).json()["access_token"]
        httpx.post(
            f"{stack.app_url}/api/digital_human_develop/start_live",
            json={},
            headers={"Authorization": f"Bearer {token}"},
        )
        done, found = probe(stack.app_url, stack.ws_url, tmp_path / "probe.json")
    assert done.returncode == 0, done.stdout[-2000:]
    assert found["limit"] == 4
    assert found["leaked_sessions"] == []
    assert any("already held" in note for note in found["notes"])


def test_an_unreachable_deployment_is_a_setup_error(tmp_path: Path) -> None:
    from fixtures.ports import free_port

    port = free_port()
    done, _ = probe(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws/realtime", tmp_path / "probe.json")
    assert done.returncode == 6
    assert "does not answer" in done.stderr
