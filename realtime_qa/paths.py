"""Where the repository is, and making its directories importable for this command only.

Only ``realtime_qa`` is installed as a package; ``stack``, ``fixtures`` and the suites are
generic names that must not land in site-packages. The command puts the repository on
``sys.path`` (and on ``PYTHONPATH`` for the processes it starts: pytest, the services)
instead, so it works from any working directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def use_repository() -> None:
    """Make the repository's top-level directories importable here and in child processes."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    entries = [e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e]
    if root not in entries:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *entries])
