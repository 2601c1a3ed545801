"""``realtime-qa stack up``: foreground run, URLs once healthy, clean stop on SIGTERM/SIGINT, clear errors."""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from fixtures.local_reaper import reap_leftovers
from fixtures.ports import free_port
from tests.test_launcher import killed_owner

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "realtime_qa.cli", "stack", "up", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(process: subprocess.Popen[str], marker: str, timeout_s: float = 60.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            lines.append(line.rstrip("\n"))
            if marker in line:
                return lines
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"waited {timeout_s} s for {marker!r}; the command printed:\n" + "\n".join(lines))


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _log_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "realtime-qa-*")))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stack_up_prints_urls_and_stops_everything_on_signal(stop_signal: signal.Signals) -> None:
    before = _log_dirs()
    ports = {"APP_PORT": free_port(), "FRONTEND_PORT": free_port(), "SIM_PORT": free_port()}
    process = start_cli({name: str(port) for name, port in ports.items()} | {"ENGINE_CONCURRENCY_LIMIT": "3"})
    try:
        output = "\n".join(read_until(process, "stack is up"))
        for port in ports.values():
            assert f"http://127.0.0.1:{port}" in output
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['APP_PORT']}/health", timeout=5) as response:
            assert b'"limit":3' in response.read().replace(b" ", b"")
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not any(port_open(port) for port in ports.values()), "a service still listens after the stack stopped"
    assert _log_dirs() <= before, "the run left its temporary log directory behind"


def test_stack_up_again_right_after_a_stop_finds_its_ports_free() -> None:
    """A clean stop leaves TIME-WAIT connections, not listeners: the next start must not refuse."""
    ports = {"APP_PORT": free_port(), "SIM_PORT": free_port()}
    env = {name: str(port) for name, port in ports.items()}
    for _ in range(2):
        process = start_cli(env, "--services", "realtime-sim,app")
        try:
            read_until(process, "stack is up")
            # HTTP/1.0: the server closes first, so its side of the connection stays in TIME-WAIT.
            with socket.create_connection(("127.0.0.1", ports["APP_PORT"]), timeout=5) as conn:
                conn.sendall(b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n")
                while conn.recv(4096):
                    pass
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
        states = subprocess.run(["ss", "-tan", f"sport = :{ports['APP_PORT']}"], capture_output=True, text=True)
        assert "TIME-WAIT" in states.stdout, f"the test did not leave a TIME-WAIT connection: {states.stdout}"


def test_services_subset_ignores_ports_of_services_it_does_not_start() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        env = {
            "FRONTEND_PORT": str(blocker.getsockname()[1]),
            "APP_PORT": str(free_port()),
            "SIM_PORT": str(free_port()),
        }
        process = start_cli(env, "--services", "app,realtime-sim")
        try:
            read_until(process, "stack is up")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()


def run_wrapper(*args: str, venv: Path) -> subprocess.CompletedProcess[str]:
    """The front-door script, with a virtual environment that does not exist yet."""
    env = {**os.environ, "REALTIME_QA_VENV": str(venv)}
    return subprocess.run(
        [str(ROOT / "realtime-qa"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], "realtime-qa COMMAND --help"),
        (["--version"], "realtime-qa 0."),
        (["stack", "--help"], "reference stack"),
        (["stack", "up", "--help"], "--services"),
        (["test", "--help"], "--no-setup"),
        (["qualify", "--help"], "--stack MODE"),
        (["report", "--help"], "--results"),
        (["diagnose", "--help"], "--api-url"),
    ],
)
def test_help_and_version_answer_at_once_without_installing_anything(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    started = time.monotonic()
    result = run_wrapper(*args, venv=tmp_path / "venv")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    assert "``" not in result.stdout, "raw backticks in help text"
    assert not (tmp_path / "venv").exists(), "help created the virtual environment"
    assert "installing" not in result.stdout + result.stderr
    assert elapsed < 10, f"help took {elapsed:.1f} s"  # a hang detector: setup takes minutes


def test_test_help_describes_its_own_options_and_runs_no_setup() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "realtime_qa.cli", "test", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "--no-setup" in result.stdout
    assert "system packages" not in result.stdout  # install-system-deps.sh never ran
    assert "pytest" in result.stdout


def test_taken_port_is_reported_with_the_fix() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        process = start_cli({"APP_PORT": str(taken), "FRONTEND_PORT": str(free_port()), "SIM_PORT": str(free_port())})
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert f"port {taken}" in output
    assert "set APP_PORT to a free port" in output
    assert "Traceback" not in output


def test_bad_setting_is_reported_without_a_traceback() -> None:
    process = start_cli({"APP_PORT": "eighty"})
    output, _ = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "APP_PORT='eighty' is not a port number" in output
    assert "Traceback" not in output


def test_services_of_a_killed_run_are_reaped() -> None:
    """The second line: services that could not notice their owner's death are reaped by the next run."""
    port = int(killed_owner("services=['realtime-sim'], tie_to_owner=False", "s.sim_port"))
    assert port_open(port), "the orphaned service should still be running before the reaper"
    assert reap_leftovers()
    deadline = time.monotonic() + 10
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not port_open(port), "the reaper did not stop the orphaned service"
