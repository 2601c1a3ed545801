"""Run the reference stack as local processes on loopback.

Used by ``realtime-qa stack up`` and by the pytest fixtures' local mode. Each service is
``python -m stack.<module>`` in its own session (so a terminal's Ctrl-C reaches only us,
and we stop the children in order), its output goes to a log file, and it dies with the
run that started it: every service holds the read end of a pipe whose only write end
this process keeps, and shuts down when that pipe reports end-of-file (the owner exited,
however it died). As a second line, each service's pid goes to a state file so a later
run can reap what a killed run left behind (a paused service cannot act on the pipe).
A log directory the runner made itself is removed when the run ends, unless
``keep_logs`` is set (by the caller, or because the run failed).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SERVICE_NAMES",
    "LocalStack",
    "StackAddresses",
    "StackStartError",
    "free_port",
    "port_is_taken",
    "reap_leftovers",
]

LOOPBACK = "127.0.0.1"
_REPO_ROOT = Path(__file__).resolve().parent.parent  # where `python -m stack.<service>` resolves
_STATE_DIR = Path(tempfile.gettempdir()) / "realtime-qa-local"
_MARKER_ENV = "REALTIME_QA_RUN_ID"
# The service side (stack.service) watches this descriptor and shuts down at end-of-file.
OWNER_FD_ENV = "REALTIME_QA_OWNER_FD"


class StackStartError(RuntimeError):
    """A service did not come up; the message says which, what was waited for, and why."""


@dataclass(frozen=True)
class _ServiceSpec:
    name: str
    module: str
    port_env: str
    default_port: int
    health_path: str


_SPECS: dict[str, _ServiceSpec] = {
    "realtime-sim": _ServiceSpec("realtime-sim", "stack.realtime_sim", "SIM_PORT", 8090, "/health"),
    "app": _ServiceSpec("app", "stack.app", "APP_PORT", 8080, "/health"),
    "frontend": _ServiceSpec("frontend", "stack.frontend", "FRONTEND_PORT", 3000, "/healthz"),
}
SERVICE_NAMES: tuple[str, ...] = tuple(_SPECS)  # start order: upstream first


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel just told us is free (a small race remains; good enough for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_taken(port: int, host: str = LOOPBACK) -> bool:
    """Whether something listens on (or holds) ``host:port``.

    Binds with ``SO_REUSEADDR``, as the services themselves do: a port whose last
    connection is in TIME-WAIT after a clean stop is free, a port with a listener is not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


@dataclass
class _Running:
    spec: _ServiceSpec
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path


class StackAddresses:
    """The loopback URLs of a stack whose services publish on ``app_port``, ``frontend_port``, ``sim_port``."""

    app_port: int
    frontend_port: int
    sim_port: int

    @property
    def app_url(self) -> str:
        return f"http://{LOOPBACK}:{self.app_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.app_port}/ws/realtime"

    @property
    def frontend_url(self) -> str:
        return f"http://{LOOPBACK}:{self.frontend_port}"

    @property
    def sim_url(self) -> str:
        return f"http://{LOOPBACK}:{self.sim_port}"

    def url_of(self, service: str) -> str:
        return {"app": self.app_url, "frontend": self.frontend_url, "realtime-sim": self.sim_url}[service]


@dataclass
class LocalStack(StackAddresses):
    """The three services (or a subset) as subprocesses on free or given loopback ports.

    ``env`` adds settings for every service (``ENGINE_CONCURRENCY_LIMIT``, ...); a port of
    0 means "pick a free one"; only the ports of the chosen ``services`` are checked.
    Without ``log_dir`` the logs go to a temporary directory that ``stop`` removes unless
    ``keep_logs`` is true by then. ``tie_to_owner=False`` lets the services outlive this
    process (only the reaper's tests want that). Use as a context manager, or call
    ``start``/``stop``.
    """

    app_port: int = 0
    frontend_port: int = 0
    sim_port: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    services: Iterable[str] = SERVICE_NAMES
    log_dir: Path | None = None
    keep_logs: bool = False
    tie_to_owner: bool = True
    startup_timeout_s: float = 30.0
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    _running: dict[str, _Running] = field(default_factory=dict, init=False, repr=False)
    _made_log_dir: bool = field(default=False, init=False, repr=False)
    _owner_pipe: tuple[int, int] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.services) - set(_SPECS)
        if unknown:
            raise ValueError(f"unknown service(s) {sorted(unknown)}; choose from {list(SERVICE_NAMES)}")
        self.services = tuple(name for name in SERVICE_NAMES if name in set(self.services))
        chosen = set(self.services)
        self.app_port = self._claim_port("APP_PORT", self.app_port, check="app" in chosen)
        self.frontend_port = self._claim_port("FRONTEND_PORT", self.frontend_port, check="frontend" in chosen)
        self.sim_port = self._claim_port("SIM_PORT", self.sim_port, check="realtime-sim" in chosen)
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix=f"realtime-qa-{self.run_id}-"))
            self._made_log_dir = True
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # The app and the simulator share a key made for this run; nothing else knows it.
        self.sim_api_key = self.env.get("SIM_API_KEY") or secrets.token_urlsafe(24)
        # Fixed for the whole run so tokens survive a restart of the app (fault tests).
        self.jwt_secret = self.env.get("JWT_SECRET") or os.environ.get("JWT_SECRET") or secrets.token_urlsafe(32)

    @staticmethod
    def _claim_port(env_name: str, port: int, *, check: bool) -> int:
        if port == 0:
            return free_port()
        if check and port_is_taken(port):
            raise StackStartError(
                f"port {port} on {LOOPBACK} is already in use; stop whatever listens there "
                f"or set {env_name} to a free port"
            )
        return port

    # -- lifecycle ---------------------------------------------------------------------
    def service_env(self, name: str) -> dict[str, str]:
        """The environment one service is started with."""
        env = dict(os.environ)
        env.update(self.env)
        env.update(
            {
                "HOST": LOOPBACK,
                "APP_PORT": str(self.app_port),
                "FRONTEND_PORT": str(self.frontend_port),
                "SIM_PORT": str(self.sim_port),
                "SIM_API_KEY": self.sim_api_key,
                "JWT_SECRET": self.jwt_secret,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join([str(_REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
                _MARKER_ENV: self.run_id,
            }
        )
        if name == "app":
            env.setdefault("AZURE_OPENAI_REALTIME_ENDPOINT", self.sim_url)
            env.setdefault("AZURE_OPENAI_REALTIME_API_KEY", self.sim_api_key)
            env.setdefault(
                "ALLOWED_ORIGINS",
                f"http://{LOOPBACK}:{self.frontend_port},http://localhost:{self.frontend_port}",
            )
        return env

    def start(self) -> LocalStack:
        reap_leftovers()
        try:
            for name in self.services:
                self._spawn(name)
                self.wait_healthy(name)
        except BaseException:
            self.keep_logs = True  # the error names the log; it must still be there
            self.stop()
            raise
        return self

    def _spawn(self, name: str) -> None:
        spec = _SPECS[name]
        assert self.log_dir is not None
        log_path = self.log_dir / f"{name}.log"
        env = self.service_env(name)
        pass_fds: tuple[int, ...] = ()
        if self.tie_to_owner:
            if self._owner_pipe is None:
                self._owner_pipe = os.pipe()  # both ends close-on-exec; only the read end is passed on
            pass_fds = (self._owner_pipe[0],)
            env[OWNER_FD_ENV] = str(self._owner_pipe[0])
        log_file = log_path.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", spec.module],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=pass_fds,
        )
        log_file.close()
        port = {"app": self.app_port, "frontend": self.frontend_port, "realtime-sim": self.sim_port}[name]
        self._running[name] = _Running(spec, port, process, log_path)
        self._write_state()

    def wait_healthy(self, name: str, timeout_s: float | None = None) -> None:
        """Poll the service's health URL; raise naming what was awaited and the log tail."""
        running = self._running[name]
        url = f"http://{LOOPBACK}:{running.port}{running.spec.health_path}"
        timeout_s = self.startup_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = running.process.poll()
            if code is not None:
                raise StackStartError(
                    f"{name} exited with code {code} before {url} answered.\n"
                    f"--- last lines of {running.log_path} ---\n{self.log_tail(name)}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1.0) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(getattr(exc, "reason", exc))
            time.sleep(0.1)
        raise StackStartError(
            f"{name} did not answer {url} with 200 within {timeout_s:.0f} s (last: {last_error}).\n"
            f"--- last lines of {running.log_path} ---\n{self.log_tail(name)}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop every started process, newest first: SIGTERM, then SIGKILL after a grace.

        Then remove the log directory if this runner made it and nobody asked to keep it.
        """
        for name in reversed(list(self._running)):
            self._terminate(self._running[name].process, timeout_s)
        self._running.clear()
        self._state_path().unlink(missing_ok=True)
        if self._owner_pipe is not None:
            for fd in self._owner_pipe:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._owner_pipe = None
        if self._made_log_dir and not self.keep_logs and self.log_dir is not None:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes], timeout_s: float) -> None:
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGCONT)  # a paused service cannot act on SIGTERM
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection and fault injection --------------------------------------------------
    def process(self, name: str) -> subprocess.Popen[bytes]:
        return self._running[name].process

    def log_text(self, name: str) -> str:
        """Everything a service has written so far ("" before it started)."""
        assert self.log_dir is not None
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, name: str, lines: int = 40) -> str:
        return "\n".join(self.log_text(name).splitlines()[-lines:]) or "(no log)"

    def kill(self, name: str) -> None:
        """SIGKILL a service: the abrupt death a crash or OOM kill would cause."""
        process = self._running[name].process
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)

    def pause(self, name: str) -> None:
        os.killpg(self._running[name].process.pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        os.killpg(self._running[name].process.pid, signal.SIGCONT)

    def restart(self, name: str) -> None:
        """Stop (if still running) and start a service again on the same port."""
        self._terminate(self._running[name].process, 10.0)
        self._spawn(name)
        self.wait_healthy(name)

    # -- leftovers ----------------------------------------------------------------------
    def _state_path(self) -> Path:
        return _STATE_DIR / f"{os.getpid()}-{self.run_id}.json"

    def _write_state(self) -> None:
        _STATE_DIR.mkdir(parents=True, exist_ok=True)
        state = {"owner": os.getpid(), "children": [r.process.pid for r in self._running.values()]}
        self._state_path().write_text(json.dumps(state))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_service(pid: int) -> bool:
    """Guard against pid reuse: only touch processes that carry our run marker."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return _MARKER_ENV.encode() + b"=" in environ


def reap_leftovers() -> list[int]:
    """Kill services whose owning run died without stopping them (SIGKILL, crash, closed CI)."""
    reaped: list[int] = []
    if not _STATE_DIR.exists():
        return reaped
    for state_file in _STATE_DIR.glob("*.json"):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state_file.unlink(missing_ok=True)
            continue
        if _pid_alive(int(state.get("owner", 0))):
            continue
        for pid in state.get("children", []):
            if _pid_alive(pid) and _is_our_service(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                reaped.append(pid)
        state_file.unlink(missing_ok=True)
    return reaped
