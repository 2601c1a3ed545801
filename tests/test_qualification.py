"""The qualification suite (``e2e/``) as users run it: in every mode, failing cleanly, leaking nothing.

Each run is a real ``pytest e2e/`` in a subprocess against a real stack, with its Allure
results in a temporary directory: local processes, Docker containers (when Docker
answers), and an external deployment (a separately started ``realtime-qa stack up``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.docker_engine import docker_available, docker_client
from fixtures.docker_reaper import LABEL_RUN_ID
from fixtures.ports import free_port
from reports.allure_files import read_environment
from reports.sweep import find_secrets

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
SETUP_ERROR = 6
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}")


def run_suite(out: Path, *args: str, env: dict[str, str] | None = None, timeout_s: float = 600):  # type: ignore[no-untyped-def]
    """``pytest e2e <args>`` as a user runs it, results under ``out``; returns the process and its output."""
    results = out / "allure-results"
    command = [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", f"--alluredir={results}"]
    if not any(a.startswith("e2e") for a in args):
        command.insert(3, "e2e")
    # Its temporary files (a failed stack keeps its logs) go to a directory of its own, removed
    # after the run; short, because Chromium puts a socket in it (a path of at most 107 bytes).
    own_tmp = tempfile.mkdtemp(prefix="rqa-")
    merged = {**os.environ, "TMPDIR": own_tmp, **(env or {})}
    for name in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST"):
        merged.pop(name, None)
    try:
        result = subprocess.run(command, cwd=ROOT, env=merged, capture_output=True, text=True, timeout=timeout_s)
    finally:
        shutil.rmtree(own_tmp, ignore_errors=True)
    return result, result.stdout + result.stderr


def qualification(out: Path) -> dict:
    return json.loads((out / "qualification.json").read_text())


def test_the_suite_passes_in_local_mode(tmp_path: Path) -> None:
    result, output = run_suite(tmp_path, "--stack=local")
    assert result.returncode == 0, output[-4000:]
    facts = qualification(tmp_path)
    assert facts["target"]["mode"] == "local"
    assert facts["pool_limit"] == 4
    assert facts["ttfa_ms"], "no time to first audio was recorded"
    assert facts["totals"]["failed"] == facts["totals"]["broken"] == 0
    environment = read_environment(tmp_path / "allure-results")
    assert environment["target.mode"] == "local"
    assert (tmp_path / "summary.html").exists()


@pytest.mark.docker
def test_the_suite_passes_in_docker_mode_and_leaves_nothing_behind(tmp_path: Path) -> None:
    ok, why = docker_available()
    if not ok:
        pytest.skip(why)
    result, output = run_suite(tmp_path, "--stack=docker")
    assert result.returncode == 0, output[-4000:]
    run_id = read_environment(tmp_path / "allure-results")["target.run_id"]
    client = docker_client()
    try:
        labelled = {"label": f"{LABEL_RUN_ID}={run_id}"}
        assert client.containers.list(all=True, filters=labelled) == []
        assert client.networks.list(filters=labelled) == []
    finally:
        client.close()


def test_auto_mode_says_which_mode_ran_and_why(tmp_path: Path) -> None:
    """With no Docker to reach, auto falls back to local processes and the report says why."""
    result, output = run_suite(
        tmp_path, "--stack=auto", "-k", "health", env={"DOCKER_HOST": "unix:///nonexistent.sock"}
    )
    assert result.returncode == 0, output[-4000:]
    target = qualification(tmp_path)["target"]
    assert target["mode"] == "local"
    assert "Docker does not answer" in target["why"]
    assert "realtime-qa target: local (Docker does not answer" in output


@pytest.fixture
def stack_up() -> Iterator[dict[str, str]]:
    """A separately started ``realtime-qa stack up``: the external deployment."""
    ports = {"APP_PORT": free_port(), "FRONTEND_PORT": free_port(), "SIM_PORT": free_port()}
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}}
    process = subprocess.Popen(
        [sys.executable, "-m", "realtime_qa.cli", "stack", "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "stack is up" in line or process.poll() is not None:
            break
    assert "stack is up" in lines[-1], "".join(lines)
    try:
        yield {
            "api": f"http://127.0.0.1:{ports['APP_PORT']}",
            "ws": f"ws://127.0.0.1:{ports['APP_PORT']}/ws/realtime",
            "base": f"http://127.0.0.1:{ports['FRONTEND_PORT']}",
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def external(urls: dict[str, str]) -> list[str]:
    return ["--stack=external", f"--api-url={urls['api']}", f"--ws-url={urls['ws']}", f"--base-url={urls['base']}"]


def test_the_suite_passes_against_an_external_deployment(tmp_path: Path, stack_up: dict[str, str]) -> None:
    result, output = run_suite(tmp_path, *external(stack_up), "-rs")
    assert result.returncode == 0, output[-4000:]
    facts = qualification(tmp_path)
    assert facts["target"]["mode"] == "external"
    assert facts["pool_limit"] == 8  # discovered: stack up's default ENGINE_CONCURRENCY_LIMIT
    assert facts["pool_limit_source"] == "discovered"
    assert "fault injection needs a stack the harness runs" in output  # the skips say why


# -- setup errors: one line, the fix named, exit 6 -----------------------------------------------------
def _one_error_line(output: str, expected: str) -> None:
    lines = [line for line in output.splitlines() if line.startswith("realtime-qa: ") and expected in line]
    assert len(lines) == 1, output[-3000:]
    assert "Traceback" not in output


def test_an_unreachable_external_url_is_a_setup_error(tmp_path: Path) -> None:
    port = free_port()
    result, output = run_suite(
        tmp_path, "--stack=external", f"--api-url=http://127.0.0.1:{port}", f"--ws-url=ws://127.0.0.1:{port}/ws"
    )
    assert result.returncode == SETUP_ERROR
    _one_error_line(output, "does not answer at")
    assert "check --api-url" in output


def test_bad_credentials_are_a_setup_error(tmp_path: Path, stack_up: dict[str, str]) -> None:
    result, output = run_suite(
        tmp_path, *external(stack_up), env={"RQA_EMAIL": "nobody@example.com", "RQA_PASSWORD": "not-a-password"}
    )
    assert result.returncode == SETUP_ERROR
    _one_error_line(output, "the target refused nobody@example.com")
    assert "not-a-password" not in output


def test_docker_not_answering_is_a_setup_error_in_docker_mode(tmp_path: Path) -> None:
    result, output = run_suite(tmp_path, "--stack=docker", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.returncode == SETUP_ERROR
    _one_error_line(output, "Docker Engine does not answer")
    assert "systemctl start docker" in output


@pytest.mark.docker
def test_an_image_that_cannot_build_is_a_setup_error_in_docker_mode(tmp_path: Path) -> None:
    ok, why = docker_available()
    if not ok:
        pytest.skip(why)
    result, output = run_suite(tmp_path, "--stack=docker", env={"BASE_IMAGE": "realtime-qa/no-such-base:1"})
    assert result.returncode == SETUP_ERROR
    _one_error_line(output, "base image 'realtime-qa/no-such-base:1'")


def test_a_service_that_never_comes_up_is_a_setup_error_with_its_log(tmp_path: Path) -> None:
    result, output = run_suite(tmp_path, "--stack=local", env={"SIM_FAULT": "explode"})
    assert result.returncode == SETUP_ERROR
    _one_error_line(output, "realtime-sim exited with code")
    details = tmp_path / "setup-error.txt"
    assert f"(details: {details})" in output
    assert "SIM_FAULT" in details.read_text()  # the service's own log says what was wrong


def test_a_bad_profile_key_is_a_usage_error(tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text("[slo]\nhelth_p95_ms = 100\n")
    result, output = run_suite(tmp_path, "--stack=local", f"--profile={profile}")
    assert result.returncode == 4
    assert "unknown key [slo] helth_p95_ms" in output
    assert "Traceback" not in output


# -- secrets ----------------------------------------------------------------------------------------------
def test_no_secret_reaches_the_report(tmp_path: Path) -> None:
    """Canary secrets through a whole run (plus a test that leaks them every way it can): zero hits."""
    canary = {
        "JWT_SECRET": "canary-jwt-secret-4f1d9c2b7e",
        "SIM_API_KEY": "canary-api-key-8a3e55d0c1",
        "RQA_PASSWORD": "Canary-Pass-77e1b9",
    }
    accounts = [{"email": "betty@123.com", "password": canary["RQA_PASSWORD"], "role": "admin"}]
    env = {
        **canary,
        "AUTH_ACCOUNTS": json.dumps(accounts),
        "CANARY_API_KEY": canary["SIM_API_KEY"],
        "CANARY_JWT_SECRET": canary["JWT_SECRET"],
    }
    suite = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "e2e").glob("test_*.py")
    )  # a directory would hide the file
    result, output = run_suite(tmp_path, "--stack=local", *suite, "e2e/selfcheck/canary_leaks.py", env=env)
    assert result.returncode == 1, output[-3000:]  # only the canary test fails
    assert "1 failed" in output
    hits = find_secrets(tmp_path, list(canary.values()))
    assert hits == [], f"secrets in the report: {hits}"
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt", ".html", ".properties", ".log"):
            assert not JWT_SHAPE.search(path.read_text(errors="replace")), f"a JWT in {path}"
    results = (tmp_path / "allure-results").glob("*.json")
    names = [a["name"] for r in results for a in _attachments(json.loads(r.read_text()))]
    for kind in ("local app log", "HTTP GET", "realtime session", "stdout", "stderr", "raw attachment"):
        assert any(kind in name for name in names), f"no {kind!r} attachment to check: {names}"


def _attachments(node: object) -> list[dict]:
    """Every attachment of a result or container file (fixtures' befores/afters and steps too)."""
    if isinstance(node, list):
        return [a for item in node for a in _attachments(item)]
    if not isinstance(node, dict):
        return []
    own = [a for a in node.get("attachments", []) if isinstance(a, dict)]
    return own + [a for key in ("befores", "afters", "steps") for a in _attachments(node.get(key, []))]


# -- interrupted runs: the target still goes down -------------------------------------------------------
def _start_suite(out: Path, tmp: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    env["TMPDIR"] = tmp
    command = [sys.executable, "-m", "pytest", "e2e", *args, "-p", "no:cacheprovider", f"--alluredir={out}", "-v"]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_ctrl_c_as_at_a_terminal,
    )  # fmt: skip


def _ctrl_c_as_at_a_terminal() -> None:
    """A shell's background job (CI under nohup, ``cmd &``) inherits SIGINT ignored; a terminal's does not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_line(process: subprocess.Popen[str], marker: str, timeout_s: float) -> list[str]:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return seen
    process.kill()
    raise AssertionError(f"waited {timeout_s} s for {marker!r}; the run printed:\n{''.join(seen[-40:])}")


def _port_open(url: str) -> bool:
    import socket

    host, port = url.rsplit("//", 1)[1].split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port.split("/")[0]))) == 0


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_an_interrupted_local_run_stops_its_services(tmp_path: Path, short_tmp: str, stop: signal.Signals) -> None:
    process = _start_suite(tmp_path / "allure-results", short_tmp, "--stack=local")
    lines = _wait_for_line(process, "PASSED", 120)  # the target is up and a test has run
    assert process.stdout is not None
    process.send_signal(stop)
    rest = process.communicate(timeout=60)[0]
    output = "".join(lines) + rest
    assert process.returncode != 0, output[-2000:]
    app_url = qualification(tmp_path)["target"]["app_url"]  # written even by an interrupted run
    assert not _port_open(app_url), f"the app still listens after the run was interrupted:\n{output[-2000:]}"


@pytest.mark.docker
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_an_interrupted_docker_run_removes_its_containers(tmp_path: Path, short_tmp: str, stop: signal.Signals) -> None:
    ok, why = docker_available()
    if not ok:
        pytest.skip(why)
    process = _start_suite(tmp_path / "r", short_tmp, "--stack=docker")
    lines = _wait_for_line(process, "PASSED", 300)
    client = docker_client()
    try:
        owned = {"label": f"realtime-qa.owner-pid={process.pid}"}
        assert client.containers.list(all=True, filters=owned), "the run's containers were not found"
        process.send_signal(stop)
        rest = process.communicate(timeout=120)[0]
        assert process.returncode != 0, ("".join(lines) + rest)[-2000:]
        assert client.containers.list(all=True, filters=owned) == []
        assert client.networks.list(filters=owned) == []
    finally:
        client.close()
