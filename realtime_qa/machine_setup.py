"""Prepare this machine for the test suite: what pip cannot install.

``realtime-qa test`` calls this before pytest so a fresh clone needs nothing done by hand:
the Debian packages (Chromium, espeak-ng, sox, debootstrap, a CJK font) when we may
install them, and the local Docker base image when Docker answers and no registry base
exists. Both scripts are idempotent and quick when everything is already there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEM_DEPS_SCRIPT = REPO_ROOT / "scripts" / "install-system-deps.sh"
BASE_IMAGE_SCRIPT = REPO_ROOT / "scripts" / "build-base-image.sh"


def _say(message: str) -> None:
    print(f"realtime-qa: {message}", flush=True)


def _can_install_system_packages() -> bool:
    if os.geteuid() == 0:
        return True
    return shutil.which("sudo") is not None and subprocess.call(["sudo", "-n", "true"], stderr=subprocess.DEVNULL) == 0


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        return subprocess.call(["docker", "info"], timeout=10, **quiet) == 0
    except subprocess.TimeoutExpired:
        return False


def prepare_machine() -> None:
    """Install what is missing where we may; otherwise say what the skipped tests need."""
    if _can_install_system_packages():
        if subprocess.call(["bash", str(SYSTEM_DEPS_SCRIPT)]) != 0:
            _say(f"{SYSTEM_DEPS_SCRIPT.name} failed: browser tests will skip, Docker tests may fail")
    else:
        _say(f"not root and no passwordless sudo: run 'sudo {SYSTEM_DEPS_SCRIPT}' for the browser and Docker tests")

    if not _docker_answers():
        _say("Docker does not answer: the Docker tests will be skipped")
        return
    if os.geteuid() != 0:
        _say(f"the Docker tests need a base image; if none exists, run 'sudo {BASE_IMAGE_SCRIPT}'")
        return
    if subprocess.call(["bash", str(BASE_IMAGE_SCRIPT)]) != 0:
        _say(f"{BASE_IMAGE_SCRIPT.name} failed: the Docker tests will say what is missing")


def prepare_unless_told_not_to(args: list[str]) -> list[str]:
    """``args`` without ``--no-setup``; prepares the machine first unless that flag was there.

    Shared by the commands that run pytest (``qualify``, ``test``): the flag is theirs, not pytest's.
    """
    if "--no-setup" in args:
        return [a for a in args if a != "--no-setup"]
    prepare_machine()
    return list(args)
