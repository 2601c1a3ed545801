#!/usr/bin/env python3
"""Wall time of ``realtime-qa qualify``, split into bring-up, tests and teardown, per mode.

Each run is the real command (``--no-setup``: the machine is already prepared) in a
process of its own; bring-up and teardown come from the run's ``qualification.json``
(timed by the target fixture), tests are the rest (pytest start, collection, the suite).
Prints every run and the median of ``--runs`` per mode. Loopback and the project's own
containers only; each run is bounded by ``--timeout``.

    .venv/bin/python bench/qualify.py [--modes local,docker] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "reports" / "out" / "qualification.json"


def one_run(mode: str, timeout_s: float) -> dict[str, float]:
    started = time.monotonic()
    command = [sys.executable, "-m", "realtime_qa.cli", "qualify", "--no-setup", f"--stack={mode}", "-q"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    total = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(
            f"qualify --stack={mode} exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-1000:]}"
        )
    facts = json.loads(RESULTS.read_text())
    timings = facts.get("timings", {})
    bring_up, teardown = float(timings["bring_up_s"]), float(timings["teardown_s"])
    return {
        "total_s": total,
        "bring_up_s": bring_up,
        "tests_s": total - bring_up - teardown,
        "teardown_s": teardown,
        "tests": float(facts.get("totals", {}).get("total", 0)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="local,docker")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    medians: dict[str, dict[str, float]] = {}
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        runs = []
        for n in range(1, args.runs + 1):
            run = one_run(mode, args.timeout)
            runs.append(run)
            print(
                f"{mode} run {n}: total {run['total_s']:.1f} s = bring-up {run['bring_up_s']:.1f} + "
                f"tests {run['tests_s']:.1f} + teardown {run['teardown_s']:.1f} ({run['tests']:.0f} tests)",
                flush=True,
            )
        medians[mode] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    print(f"median of {args.runs} runs:")
    for mode, m in medians.items():
        print(
            f"  {mode:<7} total {m['total_s']:.1f} s: bring-up {m['bring_up_s']:.1f} s, tests {m['tests_s']:.1f} s, "
            f"teardown {m['teardown_s']:.1f} s"
        )
    if "local" in medians and "docker" in medians:
        ratio = medians["docker"]["total_s"] / medians["local"]["total_s"]
        print(f"docker/local total: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
