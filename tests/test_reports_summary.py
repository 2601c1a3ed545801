"""reports.summary_html and reports.allure_cli: the page without the CLI, and the CLI when present."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from urllib.parse import unquote

import pytest

from reports import allure_cli
from reports.allure_files import write_environment
from reports.categories import by_id
from reports.summary_html import build_summary

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"


def _result(results: Path, uuid: str, name: str, status: str, message: str = "", **extra: object) -> None:
    data: dict[str, object] = {
        "uuid": uuid,
        "name": name,
        "fullName": f"e2e.test_x#{name}",
        "status": status,
        "start": 1_000,
        "stop": 3_500,
        "labels": [{"name": "suite", "value": "e2e.test_x"}],
        **extra,
    }
    if message:
        data["statusDetails"] = {"message": message, "trace": "E   " + message}
    (results / f"{uuid}-result.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def results(tmp_path: Path) -> Path:
    results = tmp_path / "out" / "allure-results"
    results.mkdir(parents=True)
    (results / "log-attachment.txt").write_text("app log")
    (results / "fixture-attachment.txt").write_text("fixture log")
    (results / "step-attachment.json").write_text("{}")
    (results / "chart-attachment.svg").write_text("<svg/>")
    _result(results, "u1", "test_ok", "passed")
    _result(
        results,
        "u2",
        "test_pool_full",
        "failed",
        "AssertionError: Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)",
        labels=[
            {"name": "epic", "value": by_id("concurrency").seed},
            {"name": "feature", "value": by_id("concurrency").section},
            {"name": "story", "value": "pool refuses"},
        ],
        attachments=[{"name": "local app log", "source": "log-attachment.txt", "type": "text/plain"}],
        steps=[{"name": "s", "attachments": [{"name": "step json", "source": "step-attachment.json"}]}],
    )
    _result(results, "u3", "test_<script>alert(1)</script>", "broken", f"RuntimeError: odd <b>thing</b> {JWT}")
    _result(results, "u4", "test_skip", "skipped", "Skipped: no chromium")
    container = {
        "uuid": "c1",
        "children": ["u2"],
        "befores": [{"name": "stack", "attachments": [{"name": "fixture note", "source": "fixture-attachment.txt"}]}],
    }
    (results / "c1-container.json").write_text(json.dumps(container))
    (results / "g-globals.json").write_text(
        json.dumps({"attachments": [{"name": "capacity", "source": "chart-attachment.svg"}]})
    )
    (results / "broken-result.json").write_text("{not json")
    write_environment(results, {"mode": "local", "app_url": "http://127.0.0.1:8080", "界面": "已连接"})
    return results


def test_summary_counts_groups_and_links(results: Path) -> None:
    out = results.parent / "summary.html"
    stats = build_summary(results, out)
    assert stats.statuses == {"passed": 1, "failed": 1, "broken": 1, "skipped": 1, "unknown": 0}
    assert stats.total == 4
    assert stats.classes["concurrency"] == 1
    assert sum(stats.classes.values()) == 1
    assert stats.unclassified == 1
    page = out.read_text(encoding="utf-8")
    group = page[page.index('id="class-concurrency"') :].split("</section>", 1)[0]
    assert "test_pool_full" in group
    assert "clear_all_sessions" in group
    assert "1. 并发限制错误" in group
    assert "Not in the seeds' classes" in page
    assert "2.50 s" in page
    assert "local" in page
    assert "已连接" in page


def test_summary_escapes_and_scrubs(results: Path) -> None:
    out = results.parent / "summary.html"
    build_summary(results, out)
    page = out.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "<b>thing</b>" not in page
    assert JWT not in page
    assert "http://" not in re.sub(r"<td>http://127\.0\.0\.1:8080</td>", "", page)  # no external assets


def test_summary_links_are_relative_and_resolve(results: Path, tmp_path: Path) -> None:
    for out in (results.parent / "summary.html", tmp_path / "elsewhere" / "deep" / "s.html"):
        build_summary(results, out)
        hrefs = re.findall(r'href="([^"]+)"', out.read_text(encoding="utf-8"))
        assert len(hrefs) == 4  # test's own, its step's, its fixture's, the run's global
        for href in hrefs:
            assert not href.startswith("/")
            assert (out.parent / unquote(href)).resolve().is_file(), href


def test_summary_of_an_empty_directory(tmp_path: Path) -> None:
    stats = build_summary(tmp_path, tmp_path / "summary.html")
    assert stats.total == 0
    assert "No test results." in (tmp_path / "summary.html").read_text()


def test_install_hint_and_no_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert allure_cli.find_allure() is None
    assert allure_cli.generate_html(tmp_path, tmp_path / "html") is False
    assert allure_cli.install_hint("reports/out") == (
        "the allure CLI is not installed: install it (https://allurereport.org/docs/install/, "
        "e.g. `brew install allure` or the zip from GitHub releases, needs Java) for the full report; "
        "until then open reports/out/summary.html"
    )


def test_generate_html_runs_allure_generate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "allure"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\n[ "$1" = generate ]\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert allure_cli.find_allure() == str(fake)
    assert allure_cli.generate_html(tmp_path / "results", tmp_path / "html") is True
    assert (fake.parent / "args").read_text().split() == [
        "generate",
        "--clean",
        "-o",
        str(tmp_path / "html"),
        str(tmp_path / "results"),
    ]
