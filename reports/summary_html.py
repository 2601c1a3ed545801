"""A one-page HTML summary of an allure-results directory, for machines without the allure CLI.

It shows what a release decision needs: totals, every test with its outcome and first
message line, the failures grouped by the seeds' classes with each class's remedy, links
to the attachments (relative, so the page and the results can move together) and the
environment. One file, no scripts, no external assets; every string is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from reports.allure_files import read_environment
from reports.categories import CLASSES, SeedClass, classify
from reports.scrub import scrub

__all__ = ["STATUSES", "SummaryStats", "build_summary"]

STATUSES = ("passed", "failed", "broken", "skipped", "unknown")
FAILED = ("failed", "broken")
_LABELS = ("epic", "feature", "story", "parentSuite", "suite", "subSuite")
_MESSAGE_CHARS = 300


@dataclass
class SummaryStats:
    """Counts per status, and failed/broken results per seed class (``unclassified`` for the rest)."""

    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    classes: dict[str, int] = field(default_factory=lambda: {c.id: 0 for c in CLASSES})
    unclassified: int = 0

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


@dataclass
class _Result:
    data: dict[str, Any]
    attachments: list[dict[str, Any]]

    @property
    def status(self) -> str:
        status = self.data.get("status")
        return status if status in STATUSES else "unknown"

    @property
    def message(self) -> str:
        return str((self.data.get("statusDetails") or {}).get("message") or "")

    @property
    def trace(self) -> str:
        return str((self.data.get("statusDetails") or {}).get("trace") or "")

    @property
    def seed_class(self) -> SeedClass | None:
        return classify(self.message, self.trace) if self.status in FAILED else None

    def label(self, name: str) -> str:
        return ", ".join(str(x.get("value")) for x in self.data.get("labels", []) if x.get("name") == name)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _attachments(executable: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An executable's attachments and those of its steps, depth first."""
    yield from executable.get("attachments", [])
    for step in executable.get("steps", []):
        yield from _attachments(step)


def _load_results(results_dir: Path) -> list[_Result]:
    """The test results in run order, each with its own and its fixtures' attachments."""
    fixtures: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(results_dir.glob("*-container.json")):
        container = _read_json(path) or {}
        found = [a for part in ("befores", "afters") for f in container.get(part, []) for a in _attachments(f)]
        for child in container.get("children", []):
            fixtures.setdefault(child, []).extend(found)
    results = []
    for path in results_dir.glob("*-result.json"):
        data = _read_json(path)
        if data is not None:
            results.append(_Result(data, [*_attachments(data), *fixtures.get(data.get("uuid", ""), [])]))
    results.sort(key=lambda r: (r.data.get("start") or 0, r.data.get("fullName") or ""))
    return results


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= _MESSAGE_CHARS else line[:_MESSAGE_CHARS] + "…"


def _e(text: object) -> str:
    return html.escape(scrub(str(text)), quote=True)


def _duration(data: dict[str, Any]) -> str:
    start, stop = data.get("start"), data.get("stop")
    if not isinstance(start, (int, float)) or not isinstance(stop, (int, float)):
        return ""
    return f"{(stop - start) / 1000:.2f} s"


def _links(attachments: list[dict[str, Any]], results_dir: Path, out_dir: Path) -> str:
    links = []
    for attachment in attachments:
        source = attachment.get("source")
        if not source:
            continue
        href = quote(Path(os.path.relpath(results_dir / source, out_dir)).as_posix())
        links.append(f'<a href="{_e(href)}">{_e(attachment.get("name") or source)}</a>')
    return "<br>".join(links)


def _tests_table(results: list[_Result], results_dir: Path, out_dir: Path) -> str:
    rows = []
    for result in results:
        data = result.data
        where = " › ".join(v for v in (result.label("epic"), result.label("feature"), result.label("story")) if v)
        rows.append(
            f'<tr class="{result.status}"><td class="status">{result.status}</td>'
            f'<td title="{_e(data.get("fullName", ""))}">{_e(data.get("name", ""))}</td>'
            f"<td>{_e(where or result.label('suite'))}</td><td class=num>{_duration(data)}</td>"
            f"<td>{_e(_first_line(result.message))}</td>"
            f"<td>{_links(result.attachments, results_dir, out_dir)}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("outcome", "test", "seed / suite", "duration", "message", "attachments"))
    head = f"<tr>{head}</tr>"
    return f"<table>{head}{''.join(rows)}</table>" if rows else "<p>No test results.</p>"


def _failure_groups(results: list[_Result]) -> str:
    failed = [r for r in results if r.status in FAILED]
    if not failed:
        return "<p>No failures.</p>"
    parts = []
    for seed_class in [*CLASSES, None]:
        members = [r for r in failed if r.seed_class == seed_class]
        if not members:
            continue
        items = "".join(
            f"<li><b>{_e(r.data.get('name', ''))}</b> ({r.status}): <code>{_e(_first_line(r.message))}</code></li>"
            for r in members
        )
        if seed_class is None:
            parts.append(f'<section class="group other"><h3>Not in the seeds\' classes</h3><ul>{items}</ul></section>')
        else:
            parts.append(
                f'<section class="group" id="class-{_e(seed_class.id)}"><h3>{_e(seed_class.title)}</h3>'
                f'<p class="seed">{_e(seed_class.seed)} — {_e(seed_class.section)}</p>'
                f'<p class="remedy"><b>Remedy:</b> {_e(seed_class.remedy)}</p><ul>{items}</ul></section>'
            )
    return "".join(parts)


def _environment(results_dir: Path) -> str:
    props = read_environment(results_dir)
    if not props:
        return "<p>No environment.properties.</p>"
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in props.items())
    return f"<table class=env>{rows}</table>"


def _globals(results_dir: Path, out_dir: Path) -> str:
    files = sorted(results_dir.glob("*-globals.json"))
    attachments = [a for path in files for a in (_read_json(path) or {}).get("attachments", [])]
    return f"<h2>Run attachments</h2><p>{_links(attachments, results_dir, out_dir)}</p>" if attachments else ""


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}
.totals span{display:inline-block;margin-right:1em;padding:2px 10px;border-radius:10px;background:#eee}
.passed .status,.totals .passed{color:#1a7f37}.failed .status,.totals .failed{color:#cf222e}
.broken .status,.totals .broken{color:#bc4c00}.skipped .status,.totals .skipped{color:#6e7781}
.group{border-left:4px solid #cf222e;padding:0 1em;margin:1em 0}.group.other{border-color:#8c959f}.seed{color:#555}
code{white-space:pre-wrap}table.env th{width:30%}
"""


def build_summary(results_dir: Path | str, out_html: Path | str) -> SummaryStats:
    """Write ``out_html`` from ``results_dir`` and return the counts it shows."""
    results_dir, out_html = Path(results_dir).resolve(), Path(out_html).resolve()
    results = _load_results(results_dir)
    stats = SummaryStats()
    for result in results:
        stats.statuses[result.status] += 1
        if result.status in FAILED:
            seed_class = result.seed_class
            if seed_class is None:
                stats.unclassified += 1
            else:
                stats.classes[seed_class.id] += 1
    totals = "".join(f'<span class="{s}">{s}: {n}</span>' for s, n in stats.statuses.items() if n or s != "unknown")
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>realtime-qa qualification</title><style>{_STYLE}</style></head><body>"
        f"<h1>realtime-qa qualification</h1><p>{stats.total} tests · generated {generated} · "
        f"results in <code>{_e(results_dir)}</code></p>"
        f'<p class="totals">{totals}</p>'
        f"<h2>Failures by seed class</h2>{_failure_groups(results)}"
        f"<h2>Tests</h2>{_tests_table(results, results_dir, out_html.parent)}"
        f"{_globals(results_dir, out_html.parent)}"
        f"<h2>Environment</h2>{_environment(results_dir)}"
        "</body></html>\n"
    )
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(page, encoding="utf-8")
    return stats
