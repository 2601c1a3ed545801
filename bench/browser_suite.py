#!/usr/bin/env python3
"""Wall time of the browser suite (``e2e/browser``), median of ``--runs``, and its slowest tests.

Each run is ``pytest e2e/browser --stack=<mode>`` in a process of its own (bring-up and
teardown included: that is what a user waits for); per-test times come from the run's
JUnit XML (setup, call and teardown of each test). Prints every run, the median, and the
three slowest tests with what makes each slow. Loopback only; bounded by ``--timeout``.

    .venv/bin/python bench/browser_suite.py [--mode local] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each slow test waits for (its own bounded waits), so a reader knows why it costs what it does.
WHY = {
    "test_a_dropped_connection_shows_the_banner_backs_off_and_recovers":
        "watches 12 reconnect attempts of a backoff that doubles to its cap (RECONNECT_BASE_MS 300, "
        "RECONNECT_CAP_MS 3000 on the reference stack), then restarts the app and waits for 已连接",
    "test_a_socket_that_never_opens_shows_the_connect_timeout":
        "waits out the page's connect timeout (CONNECT_TIMEOUT_MS 3000) with the app paused, then its reconnect",
    "test_a_full_pool_shows_4002_to_the_second_page_until_the_first_leaves":
        "two browser contexts; the refused page retries with backoff until the first one leaves",
    "test_recording_moves_the_waveform_and_the_answer_is_heard":
        "records 2.5 s of the spoken prompt in real time, then waits for the echoed answer to be played",
    "test_the_health_check_fails_when_the_app_is_down":
        "kills the app and restarts it (health wait) for each of the two diagnostics pages",
    "test_a_bad_token_shows_auth_failed_and_never_retries":
        "watches 3 s for a retry that must not come, for each of two tokens",
}  # fmt: skip


def one_run(mode: str, timeout_s: float) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="rqa-bench-") as work:
        junit = Path(work) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "e2e/browser", f"--stack={mode}", "-q", "-p", "no:cacheprovider",
                   f"--alluredir={work}/allure-results", f"--junitxml={junit}"]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        wall = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"the browser suite exited {done.returncode}:\n{done.stdout[-3000:]}")
        tests: dict[str, float] = defaultdict(float)
        for case in ET.parse(junit).iter("testcase"):  # noqa: S314 - pytest wrote it, just now
            name = case.get("name", "?").split("[")[0]
            tests[name] += float(case.get("time", 0))
        return wall, dict(tests)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="local")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1200.0)
    args = parser.parse_args()
    walls: list[float] = []
    per_test: dict[str, list[float]] = defaultdict(list)
    for n in range(1, args.runs + 1):
        wall, tests = one_run(args.mode, args.timeout)
        walls.append(wall)
        for name, seconds in tests.items():
            per_test[name].append(seconds)
        print(f"run {n}: {wall:.1f} s wall, {len(tests)} tests, {sum(tests.values()):.1f} s in tests", flush=True)
    print(f"browser suite ({args.mode}): median {statistics.median(walls):.1f} s over {args.runs} runs")
    medians = sorted(((statistics.median(v), k) for k, v in per_test.items()), reverse=True)
    print("slowest (median s, summed over parameters):")
    for seconds, name in medians[:3]:
        print(f"  {seconds:5.1f} s  {name}: {WHY.get(name, 'no known reason')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
