"""``realtime-qa stack up``: foreground run, URLs once healthy, clean stop on SIGTERM/SIGINT, clear errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from stack.launcher import free_port, reap_leftovers

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


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_stack_up_prints_urls_and_stops_everything_on_signal(stop_signal: signal.Signals) -> None:
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
    assert "APP_PORT='eighty' is not a whole number" in output
    assert "Traceback" not in output


def test_services_of_a_killed_run_are_reaped() -> None:
    """A run killed with SIGKILL cannot stop its children; the next run's reaper does."""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from stack.launcher import LocalStack\n"
            "s = LocalStack(services=['realtime-sim']).start()\n"
            "print(s.sim_port, flush=True); time.sleep(120)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    port = int(owner.stdout.readline())
    assert port_open(port)
    owner.kill()
    owner.wait(timeout=10)
    assert port_open(port), "the orphaned service should still be running before the reaper"
    assert reap_leftovers()
    deadline = time.monotonic() + 10
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not port_open(port), "the reaper did not stop the orphaned service"
