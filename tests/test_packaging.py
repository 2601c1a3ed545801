"""What a fresh clone's first command installs: the command only, quietly, in its own venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERIC_NAMES = ["stack", "fixtures", "load", "reports", "e2e", "tests", "bench"]


def _importable(python: str, module: str) -> bool:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", probe], cwd="/", env=env, timeout=60).returncode == 0


@pytest.mark.parametrize("name", GENERIC_NAMES)
def test_no_generic_top_level_name_is_installed(name: str) -> None:
    """The repository's directories are importable through pytest's pythonpath, never site-packages."""
    assert _importable(sys.executable, "realtime_qa")
    assert not _importable(sys.executable, name), f"'{name}' is importable from outside the repository"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_first_install_prints_only_what_it_does(tmp_path: Path) -> None:
    """The wrapper on a machine without the venv: no setuptools notices, no tracebacks."""
    venv = tmp_path / "venv"
    result = subprocess.run(
        [str(ROOT / "realtime-qa"), "stack", "up", "--services", "none"],
        cwd=tmp_path,
        env={**os.environ, "REALTIME_QA_VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert result.returncode == 2  # the bad --services value, after the install
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[:2] == [
        f"realtime-qa: creating virtual environment in {venv}",
        f"realtime-qa: installing the project and its dependencies into {venv}",
    ], result.stderr
    assert all(line.startswith(("realtime-qa", "usage:")) for line in lines), result.stderr
    assert not _importable(str(venv / "bin" / "python"), "stack")
    assert _importable(str(venv / "bin" / "python"), "realtime_qa")
