"""Locust in processes of its own: a master (or a standalone runner) and local workers.

Locust monkey-patches everything with gevent when imported, so the harness never imports
it: every run is ``python -m locust`` in a subprocess, bounded in time, its output kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fixtures.ports import free_port

__all__ = ["LocustRun"]

LOAD_DIR = Path(__file__).resolve().parent
REPO_ROOT = LOAD_DIR.parent


@dataclass
class LocustRun:
    """One headless Locust run: ``args`` go to the master (workers get its custom options with each
    spawn, as Locust sends them); ``workers`` > 0 makes it distributed."""

    locustfile: Path
    args: list[str]
    out_dir: Path
    workers: int = 0
    env: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 600.0
    returncode: int | None = None
    output: str = ""

    def _command(self, role: list[str]) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", str(self.locustfile), *role]

    def run(self) -> int:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "PYTHONPATH": str(REPO_ROOT)}
        master_role = ["--headless", *self.args]
        workers: list[subprocess.Popen[bytes]] = []
        if self.workers:
            port = free_port()
            master_role += ["--master", "--expect-workers", str(self.workers), "--master-bind-port", str(port)]
        logs = [(self.out_dir / "locust-master.log").open("wb")]
        log = logs[0]
        master = subprocess.Popen(
            self._command(master_role), cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            for n in range(self.workers):
                worker_log = (self.out_dir / f"locust-worker-{n}.log").open("wb")
                logs.append(worker_log)
                role = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
                workers.append(
                    subprocess.Popen(
                        self._command(role), cwd=REPO_ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT
                    )
                )
            deadline = time.monotonic() + self.timeout_s
            while master.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            if master.poll() is None:
                master.terminate()
                master.wait(timeout=30)
                self.returncode = -1
            else:
                self.returncode = master.returncode
        finally:
            for process in (master, *workers):
                if process.poll() is None:
                    process.terminate()
            for process in (master, *workers):
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            for handle in logs:
                handle.close()
        self.output = (self.out_dir / "locust-master.log").read_text(errors="replace")
        return self.returncode
