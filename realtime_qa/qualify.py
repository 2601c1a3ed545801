"""``realtime-qa qualify``: bring the target up, run the qualification suite, summarise, tear down.

The suite is plain pytest (``pytest e2e/`` with the same options behaves the same); this
command prepares the machine first, runs pytest in a process of its own with the
suite's defaults, and prints a one-screen summary from ``reports/out/qualification.json``
(written by the ``reports`` plugin). The exit code is pytest's: 0 passed, 1 a test
failed, 2 interrupted, 3 internal error, 4 usage error, 5 no tests; 6 means the target
could not be brought up or reached.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from realtime_qa.paths import REPO_ROOT

__all__ = ["HELP", "format_summary", "qualify"]

RESULTS = REPO_ROOT / "reports" / "out" / "qualification.json"
SUITES = ["e2e", "load"]
BROWSER_SUITE = "e2e/browser"
LOAD_SUITE = "load"

HELP = """\
usage: realtime-qa qualify [--no-setup] [--stack auto|docker|local|external] [OPTIONS] [PYTEST ARGS ...]

Qualify a realtime voice deployment: bring the target up (or reach it), run the
qualification suite (e2e/: API, WebSocket, and the browser suite e2e/browser in a real
Chromium with a fake microphone; load/: a short Locust smoke of streaming sessions, to
the pool's limit and past it), write the Allure results and a summary page to
reports/out/, tear the target down, and print a one-screen summary.

target (pytest options of the suite; `pytest e2e/` takes the same):
  --stack MODE          auto (default: Docker when the daemon answers and the image
                        builds, else local processes), docker, local, external
  --api-url URL         external: the app, e.g. http://host:8080
  --ws-url URL          external: the realtime socket, e.g. ws://host:8080/ws/realtime
  --base-url URL        external: the front end, e.g. http://host:3000
  --email EMAIL         the account (default: RQA_EMAIL, the profile, the seeds' test account)
  --password-env NAME   the variable holding its password (default: RQA_PASSWORD)
  --profile FILE.toml   what the deployment is checked against (paths, pool limit,
                        strings, close codes, SLOs); overrides pyproject's [tool.realtime-qa]
  --keep-stack          leave the stack the harness started running, print its URLs

this command:
  -h, --help            show this help and exit (nothing is installed or run)
  --no-setup            skip the machine preparation (Debian packages, Docker base image)
  --no-browser          skip the browser suite (e2e/browser); without it, a missing
                        Chromium is a setup error (exit 6)
  --no-load             skip the load smoke (load/, about 45 s); `realtime-qa capacity`
                        is its long form

browser (pytest-playwright's flags): --headed, --browser-channel CHANNEL, --slowmo MS,
  --tracing on|off|retain-on-failure, --video ..., --screenshot ..., --output DIR
  (traces and videos are kept for failing tests unless given)

Any other argument goes to pytest (e.g. -k health, -x, --alluredir DIR).
Exit codes: 0 passed, 1 a check failed, 2 interrupted, 4 usage error,
5 no tests, 6 the target could not be brought up or reached.
"""


def qualify(args: list[str]) -> int:
    args = list(args)
    if "-h" in args or "--help" in args:
        print(HELP, end="")
        return 0
    from realtime_qa.machine_setup import prepare_unless_told_not_to

    args = prepare_unless_told_not_to(args)
    if "--no-browser" in args:
        args = [a for a in args if a != "--no-browser"] + [f"--ignore={BROWSER_SUITE}"]
    if "--no-load" in args:
        args = [a for a in args if a != "--no-load"] + [f"--ignore={LOAD_SUITE}"]
    results_file = _results_file(args)
    results_file.unlink(missing_ok=True)
    verbosity = [] if any(a in ("-q", "-v", "-vv", "--quiet", "--verbose") for a in args) else ["-v"]
    has_paths = any(not a.startswith("-") and (REPO_ROOT / a.split("::")[0]).exists() for a in args)
    command = [sys.executable, "-m", "pytest", *([] if has_paths else SUITES), *verbosity, "--tb=short", *args]
    code = subprocess.call(command, cwd=REPO_ROOT)
    summary = read_results(results_file)
    if summary is not None:
        print(format_summary(summary, code), flush=True)
    return code


def _results_file(args: list[str]) -> Path:
    """qualification.json sits beside the Allure results: --alluredir's parent, else reports/out."""
    for n, arg in enumerate(args):
        if arg.startswith("--alluredir="):
            return (REPO_ROOT / arg.split("=", 1)[1]).parent / "qualification.json"
        if arg == "--alluredir" and n + 1 < len(args):
            return (REPO_ROOT / args[n + 1]).parent / "qualification.json"
    return RESULTS


def read_results(path: Path = RESULTS) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _ms(values: list[float], pct: float) -> str:
    from fixtures.percentiles import percentile

    return f"{percentile(values, pct):.0f} ms" if values else "-"


def format_summary(results: dict[str, Any], exit_code: int) -> str:
    """The one screen a person reads after a run: per seed class, the figures, where the report is."""
    from reports.categories import CLASSES

    target = results.get("target") or {}
    lines = ["", "realtime-qa qualification summary", "=" * 34]
    if target:
        lines.append(f"target      {target.get('mode')} ({target.get('why')}) {target.get('app_url', '')}")
    if results.get("setup_error"):
        lines.append(f"setup       FAILED: {results['setup_error']}")
    classes = results.get("classes") or {}
    for seed in CLASSES:
        counts = classes.get(seed.id)
        if not counts:
            continue
        failed = counts.get("failed", 0) + counts.get("broken", 0) + counts.get("error", 0)
        verdict = "FAILED" if failed else ("passed" if counts.get("passed") else "skipped")
        detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()) if n)
        lines.append(f"{verdict:<7}     {seed.title} ({detail})")
        if failed:
            lines.append(f"            remedy: {seed.remedy}")
    for key, where in (("ttfa_ms", "socket"), ("browser_ttfa_ms", "browser")):
        ttfa = [float(v) for v in results.get(key) or [] if v is not None]
        if ttfa:
            lines.append(f"first audio p50 {_ms(ttfa, 50)}, p95 {_ms(ttfa, 95)} over {len(ttfa)} turn(s) ({where})")
    limit = results.get("pool_limit")
    if limit is not None or results.get("pool_limit_source"):
        shown = limit if limit is not None else "unknown"
        lines.append(f"pool limit  {shown} ({results.get('pool_limit_source', '')})")
    totals = results.get("totals") or {}
    lines.append("tests       " + ", ".join(f"{n} {k}" for k, n in sorted(totals.items()) if n))
    if results.get("summary_html"):
        lines.append(f"report      {results['summary_html']}  (realtime-qa report: the Allure HTML)")
    verdicts = {0: "QUALIFIED", 1: "NOT QUALIFIED: a check failed"}
    lines.append(verdicts.get(exit_code, f"NOT RUN TO THE END (exit {exit_code})"))
    return "\n".join(lines)
