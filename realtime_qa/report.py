"""``realtime-qa report``: turn the last run's Allure results into something to open.

With the ``allure`` CLI on PATH: its full HTML report (``reports/out/allure-report``).
Without it (npm and Maven are out of reach on our machines): the one-page
``reports/out/summary.html`` rebuilt from the results, and a line on how to get the CLI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from realtime_qa.paths import REPO_ROOT

__all__ = ["add_arguments", "run_report"]

DEFAULT_RESULTS = REPO_ROOT / "reports" / "out" / "allure-results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results", type=Path, default=DEFAULT_RESULTS, help=f"allure results directory (default: {DEFAULT_RESULTS})"
    )
    parser.add_argument("--out", type=Path, default=None, help="where the report goes (default: next to the results)")


def run_report(args: argparse.Namespace) -> int:
    from reports.allure_cli import find_allure, generate_html, install_hint
    from reports.summary_html import build_summary

    results: Path = args.results
    if not results.is_dir() or not any(results.glob("*-result.json")):
        print(f"realtime-qa: no Allure results in {results}; run `realtime-qa qualify` first", file=sys.stderr)
        return 2
    out_dir: Path = args.out or results.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = out_dir / "summary.html"
    stats = build_summary(results, summary)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(stats.statuses.items()) if n)
    print(f"summary: {summary} ({counts})")
    if find_allure() is not None:
        html = out_dir / "allure-report"
        if generate_html(results, html):
            print(f"allure report: {html / 'index.html'}")
            return 0
        print("realtime-qa: `allure generate` failed; the summary page above has the results", file=sys.stderr)
        return 1
    print(install_hint(out_dir))
    return 0
