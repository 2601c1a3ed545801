"""``realtime-qa qualify`` / ``report`` and ``--keep-stack``, run as a user runs them."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(autouse=True)
def _nested_runs_use_a_tmp_of_their_own(short_tmp: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing or --keep-stack run keeps its logs by design: in this test's TMPDIR, not the machine's."""
    monkeypatch.setenv("TMPDIR", short_tmp)


def command(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    return subprocess.run(
        [sys.executable, "-m", "realtime_qa.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def test_qualify_runs_the_suite_and_prints_its_summary(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    done = command("qualify", "--no-setup", "--no-browser", "--stack=local", "-k", "health", f"--alluredir={results}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    out = done.stdout
    assert "test_health_answers_status_ok PASSED" in out  # progress: each test as it runs
    summary = out[out.index("realtime-qa qualification summary") :]
    assert "target      local (--stack=local)" in summary
    assert "passed      Timeout / hang (2 passed)" in summary
    assert "pool limit  4 (profile)" in summary
    assert f"report      {tmp_path / 'summary.html'}" in summary
    assert summary.rstrip().endswith("QUALIFIED")


def test_qualify_exits_1_when_a_check_fails_and_names_the_remedy(tmp_path: Path) -> None:
    profile = tmp_path / "strict.toml"
    profile.write_text("[slo]\nhealth_p95_ms = 0.001\n")  # no deployment answers in a microsecond
    results = tmp_path / "allure-results"
    done = command(
        "qualify", "--no-setup", "--stack=local", "-k", "stays_fast", f"--profile={profile}", f"--alluredir={results}"
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert "FAILED      Timeout / hang" in done.stdout
    assert "remedy: look for blocking calls on the event loop" in done.stdout
    assert "NOT QUALIFIED" in done.stdout


def test_report_builds_the_summary_page_and_says_how_to_get_the_cli(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    assert command("qualify", "--no-setup", "--stack=local", "-k", "no_token", f"--alluredir={results}").returncode == 0
    (tmp_path / "summary.html").unlink()
    done = command("report", "--results", str(results))
    assert done.returncode == 0, done.stderr
    assert re.search(rf"summary: {re.escape(str(tmp_path / 'summary.html'))} \(\d+ passed\)", done.stdout), done.stdout
    assert "the allure CLI is not installed" in done.stdout
    assert (tmp_path / "summary.html").exists()
    empty = command("report", "--results", str(tmp_path / "nothing"))
    assert empty.returncode == 2
    assert "run `realtime-qa qualify` first" in empty.stderr


def test_keep_stack_leaves_the_stack_up_and_says_how_to_stop_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "e2e",
            "-k",
            "health_answers",
            "--stack=local",
            "--keep-stack",
            "-p",
            "no:cacheprovider",
            f"--alluredir={tmp_path / 'r'}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    urls = re.search(r"app (http://127\.0\.0\.1:\d+)", done.stdout)
    pids = re.search(r"stop it with: kill ([\d ]+)", done.stdout)
    assert urls, done.stdout[-2000:]
    assert pids, done.stdout[-2000:]
    try:
        assert httpx.get(f"{urls.group(1)}/health", timeout=5).status_code == 200  # still up after pytest exited
    finally:
        for pid in pids.group(1).split():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pid), signal.SIGTERM)
