"""The capacity run as files a planner reads: capacity.json, capacity.html and three PNG charts.

Charts (matplotlib, no display): time to first audio p50/p95/p99 per step, sessions held beside
them, with the SLO line and the knee; errors by code per step; the load generator's CPU and send lag
per step (if those were over their limits, the page says the figures are not trustworthy).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reports.scrub import scrub_tree

if TYPE_CHECKING:
    from load.capacity import CapacityResult

__all__ = ["write_report"]


def _ttfa_chart(result: CapacityResult, path: Path) -> None:
    """TTFA percentiles per step (users asked for), sessions held on a second axis, the SLO and the knee.

    By step rather than by sessions held: past the limit several steps hold the same count,
    and a planner wants to see what the extra users did to those already in. The time axis is
    logarithmic so a few ms and an SLO of seconds are both readable.
    """
    steps = result.steps
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    x = [s.users for s in steps]
    for attr, label in (("ttfa_p50_ms", "p50"), ("ttfa_p95_ms", "p95"), ("ttfa_p99_ms", "p99")):
        ax.plot(x, [getattr(s, attr) for s in steps], marker="o", label=f"time to first audio {label}")
    ax.axhline(result.slo_ttfa_p95_ms, color="red", linestyle="--", label=f"SLO p95 {result.slo_ttfa_p95_ms:.0f} ms")
    if result.knee_users is not None:
        ax.axvline(result.knee_users, color="grey", linestyle=":", label=f"knee ({result.knee_users} users)")
    ax.set_yscale("log")
    ax.set_xlabel("users (sessions asked for)")
    ax.set_ylabel("time to first audio (ms, log)")
    ax.set_title("Time to first audio per step")
    ax.grid(alpha=0.3, which="both")
    held = ax.twinx()
    held.step(x, [s.sessions_held for s in steps], where="mid", color="black", alpha=0.5, label="sessions held")
    held.set_ylabel("sessions held (/api/sessions)")
    held.set_ylim(bottom=0)
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = held.get_legend_handles_labels()
    ax.legend(lines + more, labels + more_labels, fontsize=8, loc="center left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _errors_chart(result: CapacityResult, path: Path) -> None:
    codes = sorted({code for s in result.steps for code in s.errors})
    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    labels = [f"{s.users} users" for s in result.steps]
    bottom = [0] * len(result.steps)
    for code in codes:
        counts = [s.errors.get(code, 0) for s in result.steps]
        ax.bar(labels, counts, bottom=bottom, label=code)
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("failed requests")
    ax.set_title("Errors by close / error code, per step" + ("" if codes else " (none)"))
    if codes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _generator_chart(result: CapacityResult, path: Path) -> None:
    fig, cpu_axis = plt.subplots(figsize=(8, 3.5), dpi=100)
    labels = [f"{s.users}" for s in result.steps]
    cpu_axis.bar(labels, [s.generator_cpu_percent or 0 for s in result.steps], color="#9ab", label="CPU %")
    cpu_axis.axhline(90, color="#9ab", linestyle="--")
    cpu_axis.set_xlabel("users (sessions asked for)")
    cpu_axis.set_ylabel("generator CPU %")
    lag_axis = cpu_axis.twinx()
    lag_axis.plot(labels, [s.generator_lag_p99_ms or 0 for s in result.steps], color="darkorange", marker="o")
    lag_axis.axhline(20, color="darkorange", linestyle="--")
    lag_axis.set_ylabel("send lag p99 (ms)", color="darkorange")
    cpu_axis.set_title("The load generator itself (limits dashed: 90% CPU, 20 ms lag)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _html(result: CapacityResult) -> str:
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            s.users, s.sessions_held, s.sessions_opened, s.turns, s.ttfa_p50_ms, s.ttfa_p95_ms, s.ttfa_p99_ms,
            ", ".join(f"{k}: {n}" for k, n in s.errors.items()) or "-", f"{s.error_rate:.1%}",
            s.generator_cpu_percent, s.generator_lag_p99_ms, "yes" if s.slo_ok else "no",
        )) + "</tr>"
        for s in result.steps
    )  # fmt: skip
    warning = "" if result.trustworthy else (
        "<p class=warn>The load generator was over its limits (CPU 90%, send lag p99 20 ms) during the run: "
        "these figures are not trustworthy. Add workers (--workers N) or lower the load.</p>"
    )  # fmt: skip
    head = ("users", "sessions held", "opened", "turns", "TTFA p50", "p95", "p99", "errors", "error rate",
            "gen CPU %", "gen lag p99 ms", "meets SLO")  # fmt: skip
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>realtime-qa capacity</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{border:1px solid #ccc;padding:4px 8px}}
table{{border-collapse:collapse}} .warn{{color:#b00;font-weight:bold}}</style></head><body>
<h1>Capacity</h1>{warning}
<p>Knee: {html.escape(str(result.knee_users))} users ({html.escape(str(result.knee_sessions))} sessions held).
Largest session count meeting time to first audio p95 &le; {result.slo_ttfa_p95_ms:.0f} ms:
<b>{html.escape(str(result.slo_ok_sessions))}</b>.
Pool limit seen (4002 refusals): {html.escape(str(result.pool_limit_seen))}.</p>
<img src="ttfa.png" alt="time to first audio"><br><img src="errors.png" alt="errors"><br>
<img src="generator.png" alt="load generator">
<table><tr>{"".join(f"<th>{h}</th>" for h in head)}</tr>{rows}</table>
<p>Locust's own report: <a href="locust-report.html">locust-report.html</a>, CSV: locust_stats.csv,
locust_stats_history.csv, locust_failures.csv.</p></body></html>"""


def write_report(result: CapacityResult, out_dir: Path) -> None:
    charts = {"ttfa": _ttfa_chart, "errors": _errors_chart, "generator": _generator_chart}
    for name, draw in charts.items():
        draw(result, out_dir / f"{name}.png")
        result.files[name] = str(out_dir / f"{name}.png")
    (out_dir / "capacity.html").write_text(_html(result), encoding="utf-8")
    result.files["html"] = str(out_dir / "capacity.html")
    result.files["json"] = str(out_dir / "capacity.json")
    (out_dir / "capacity.json").write_text(json.dumps(scrub_tree(result.as_json()), indent=2) + "\n")
