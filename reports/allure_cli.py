"""The allure command line, when the machine has it: the full interactive report.

It needs Java and comes from outside PyPI (Homebrew, Scoop, the zip on GitHub releases),
so it is optional: without it the run still leaves summary.html next to the results.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["find_allure", "generate_html", "install_hint"]

GENERATE_TIMEOUT_S = 600


def find_allure() -> str | None:
    return shutil.which("allure")


def install_hint(out_dir: Path | str) -> str:
    """The one line that says how to get the full report, and what to open until then."""
    return (
        "the allure CLI is not installed: install it (https://allurereport.org/docs/install/, "
        "e.g. `brew install allure` or the zip from GitHub releases, needs Java) for the full report; "
        f"until then open {Path(out_dir) / 'summary.html'}"
    )


def generate_html(results_dir: Path | str, out_dir: Path | str) -> bool:
    """``allure generate --clean -o out_dir results_dir``; False when there is no allure or it failed."""
    allure = find_allure()
    if allure is None:
        return False
    try:
        done = subprocess.run(
            [allure, "generate", "--clean", "-o", str(out_dir), str(results_dir)],
            capture_output=True,
            text=True,
            timeout=GENERATE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
