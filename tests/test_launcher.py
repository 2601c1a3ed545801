"""The local process runner: ports, subsets, log directories, services tied to their owner."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fixtures.local_stack import LocalStack
from fixtures.ports import free_port, port_is_taken

ROOT = Path(__file__).resolve().parent.parent


def _time_wait_port() -> int:
    """A port with a TIME-WAIT socket on it and nothing listening: what a clean stop leaves.

    The listener sets SO_REUSEADDR as uvicorn's does; its connections inherit it.
    """
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server side closes first: its end goes to TIME-WAIT
        client.recv(1)
        client.close()
    return port


def test_a_port_in_time_wait_is_free() -> None:
    port = _time_wait_port()
    states = subprocess.run(["ss", "-tan", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert "TIME-WAIT" in states, states
    assert not port_is_taken(port)


def test_a_listening_port_is_taken() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert port_is_taken(listener.getsockname()[1])


def test_only_the_chosen_services_ports_are_checked() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        stack = LocalStack(services=["realtime-sim"], frontend_port=taken, app_port=taken, sim_port=0)
        try:
            assert stack.services == ("realtime-sim",)
        finally:
            stack.stop()


def _our_temp_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "realtime-qa-*")))


def test_a_run_removes_the_log_directory_it_created() -> None:
    before = _our_temp_dirs()
    with LocalStack(services=["realtime-sim"]) as stack:
        assert stack.log_dir is not None
        assert stack.log_dir.exists()
    assert _our_temp_dirs() == before


def test_logs_are_kept_when_asked_or_when_the_run_failed(tmp_path: Path) -> None:
    kept = LocalStack(services=["realtime-sim"], keep_logs=True)
    with kept:
        pass
    assert kept.log_dir is not None
    assert (kept.log_dir / "realtime-sim.log").exists()
    failed = LocalStack(services=["realtime-sim"])
    with failed:
        failed.keep_logs = True  # what the pytest fixtures do when a test using the stack failed
    assert failed.log_dir is not None
    assert (failed.log_dir / "realtime-sim.log").exists()
    given = LocalStack(services=["realtime-sim"], log_dir=tmp_path / "logs")
    with given:
        pass
    assert (tmp_path / "logs" / "realtime-sim.log").exists(), "a directory the caller chose is never removed"
    for stack in (kept, failed):
        import shutil

        shutil.rmtree(stack.log_dir)  # type: ignore[arg-type]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def killed_owner(stack_args: str, prints: str) -> str:
    """Start a stack in a process of its own, read what it prints once up, then SIGKILL that process."""
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from fixtures.local_stack import LocalStack\n"
            f"s = LocalStack({stack_args}).start()\n"
            f"print({prints}, flush=True); time.sleep(120)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    printed = owner.stdout.readline().strip()
    owner.kill()
    owner.wait(timeout=10)
    return printed


@pytest.mark.slow
def test_services_die_with_the_run_that_started_them() -> None:
    """SIGKILL the owner: its services notice (their pipe to it closes) and exit, no reaper needed."""
    ports = [int(p) for p in killed_owner("services=['realtime-sim', 'app']", "s.sim_port, s.app_port").split()]
    deadline = time.monotonic() + 15
    while any(_port_open(p) for p in ports) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_port_open(p) for p in ports), "services outlived the run that started them"


def test_free_port_is_free() -> None:
    assert not port_is_taken(free_port())


@pytest.mark.slow
def test_the_next_run_removes_the_log_directory_of_a_killed_run() -> None:
    log_dir = Path(killed_owner("services=['realtime-sim']", "s.log_dir"))
    with LocalStack(services=["realtime-sim"]):  # its start reaps what the killed run left
        pass
    assert not log_dir.exists(), "the killed run's temporary log directory is still there"


def test_a_picked_port_taken_before_the_service_binds_it_is_picked_again() -> None:
    """free_port's race, made certain: the port is taken between picking it and starting."""
    stack = LocalStack(services=["realtime-sim"])
    with socket.socket() as thief:
        thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        thief.bind(("127.0.0.1", stack.sim_port))
        thief.listen()
        taken = stack.sim_port
        with stack:
            assert stack.sim_port != taken
            assert _port_open(stack.sim_port)
