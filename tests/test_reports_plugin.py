"""reports.plugin, end to end: real pytest runs with allure-pytest, in subprocesses (allure keeps global state).

A generated suite passes, fails with the seed's 4002 message and leaks canary secrets every way a
test can (print, stderr, logging, raw ``allure.attach``, the failure message, a stack's log); the
results directory and summary.html must hold none of them, and everything else must be there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from reports.categories import by_id
from reports.sweep import find_secrets

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
LITERAL = "canary-Literal-7f3a9c"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"
URL_TOKEN = "urltok-canary-5d1e2b"
CANARIES = [LITERAL, JWT, URL_TOKEN]
PLUGINS = ("-p", "reports.plugin", "-p", "allure_pytest")  # allure_pytest: its entry-point name

CONFTEST = f"""
import pytest
from reports.plugin import ENVIRONMENT, QUALIFICATION

def pytest_configure(config):
    config.stash.setdefault(ENVIRONMENT, {{}}).update(
        {{"mode": "fake", "app_url": "http://127.0.0.1:8080/?token={URL_TOKEN}"}}
    )

def pytest_sessionfinish(session):
    session.config.stash.setdefault(QUALIFICATION, {{}})["pool_limit"] = 4
"""

SUITE = f"""
import logging
import sys

import allure
import pytest

from fixtures.stack_registry import use_stack
from reports.attachments import attach_text, attach_ws_frames
from reports.scrub import register_secret

LITERAL, JWT, URL_TOKEN = {LITERAL!r}, {JWT!r}, {URL_TOKEN!r}
register_secret(LITERAL)


class FakeStack:
    mode = "fake"
    services = ("app", "realtime-sim")

    def log_text(self, service):
        if service == "realtime-sim":
            raise RuntimeError("stopped")
        lines = [f"line {{i}}" for i in range(1000)]
        return "\\n".join(lines + [f"AZURE_OPENAI_REALTIME_API_KEY={{LITERAL}}"]) + "\\n"


@pytest.fixture
def stack(request):
    attach_text("fixture note", f"fixture saw {{LITERAL}}")
    return use_stack(request, FakeStack())


def test_passes():
    pass


@pytest.mark.seed_class("concurrency", story="the pool refuses with 4002")
def test_pool_full(stack):
    raise AssertionError(
        "Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)"
    )


@pytest.mark.seed_class("auth")
def test_login_works():
    pass


@pytest.mark.seed_class("microphone")
def test_no_chromium():
    pytest.skip("no chromium here")


def test_leaks_canaries():
    print(f"login password={{LITERAL}} token {{JWT}} ws://h/ws?token={{URL_TOKEN}}")
    sys.stderr.write(f"stderr {{LITERAL}}\\n")
    logging.getLogger("app").warning("Authorization: Bearer %s", JWT)
    allure.attach(f"raw {{LITERAL}} {{JWT}} ?token={{URL_TOKEN}}", name="raw, unscrubbed attach")
    attach_ws_frames("frames", [{{"dir": "sent", "t": 0.0, "event": {{"type": "x", "url": f"?token={{URL_TOKEN}}"}}}}])
    assert LITERAL == JWT, f"leaked ?token={{URL_TOKEN}}"
"""


def _write_suite(where: Path) -> None:
    (where / "pytest.ini").write_text("[pytest]\n")  # rootdir = where, as pyproject.toml makes it the repository
    (where / "conftest.py").write_text(CONFTEST)
    (where / "test_canary.py").write_text(SUITE)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT)  # reports/ and fixtures/ live in the repository, not site-packages
    return env


@dataclass
class Run:
    results: Path
    returncode: int
    stdout: str


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One real run shared by the checks below (a subprocess: allure-pytest keeps global state)."""
    where = tmp_path_factory.mktemp("suite")
    _write_suite(where)
    results = where / "out" / "allure-results"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *PLUGINS,
            f"--alluredir={results}",
            "--strict-markers",
            "-o",
            "log_level=INFO",
        ],
        cwd=where,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Run(results, done.returncode, done.stdout + done.stderr)


def _results(results: Path) -> dict[str, dict]:
    found = {}
    for path in results.glob("*-result.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        found[data["name"]] = data
    return found


def test_a_run_writes_the_files_allure_pytest_does_not(finished_run: Run) -> None:
    results = finished_run.results
    assert finished_run.returncode == pytest.ExitCode.TESTS_FAILED, finished_run.stdout
    assert "2 failed, 2 passed, 1 skipped" in finished_run.stdout
    props = (results / "environment.properties").read_text(encoding="ascii")
    assert "mode=fake" in props
    assert "version.python=" in props
    assert "version.pytest=" in props
    assert "version.allure-pytest=" in props
    assert json.loads((results / "executor.json").read_text())["name"] == "realtime-qa"
    categories = json.loads((results / "categories.json").read_text(encoding="utf-8"))
    assert categories[0]["name"] == by_id("concurrency").category_name
    assert f"realtime-qa report: {results.parent / 'summary.html'}" in finished_run.stdout


def test_no_canary_survives_anywhere(finished_run: Run) -> None:
    results = finished_run.results
    leaked = find_secrets(results.parent, CANARIES)  # the results, summary.html and qualification.json
    assert leaked == []
    raw = _results(results)["test_leaks_canaries"]
    names = {a["name"] for a in raw["attachments"]}
    assert {"stdout", "stderr", "log", "raw, unscrubbed attach", "frames"} <= names  # they were written, then swept


def test_seed_labels_and_failure_logs(finished_run: Run) -> None:
    results = finished_run.results
    pool_full = _results(results)["test_pool_full"]
    labels = {(label["name"], label["value"]) for label in pool_full["labels"]}
    concurrency = by_id("concurrency")
    assert {
        ("epic", concurrency.seed),
        ("feature", concurrency.section),
        ("story", "the pool refuses with 4002"),
    } <= labels
    login = {(label["name"], label["value"]) for label in _results(results)["test_login_works"]["labels"]}
    assert ("story", "test_login_works") in login
    logs = {a["name"]: (results / a["source"]).read_text() for a in pool_full["attachments"]}
    app_log = logs["fake app log (last 400 lines)"].splitlines()
    assert len(app_log) == 400
    assert app_log[-1] == "AZURE_OPENAI_REALTIME_API_KEY=[REDACTED]"
    assert "could not read the realtime-sim log" in logs["fake realtime-sim log (last 400 lines)"]
    assert "fake app log (last 400 lines)" not in {
        a["name"] for a in _results(results)["test_passes"].get("attachments", [])
    }


def test_summary_and_qualification(finished_run: Run) -> None:
    results = finished_run.results
    summary = results.parent / "summary.html"
    page = summary.read_text(encoding="utf-8")
    group = page[page.index('id="class-concurrency"') :].split("</section>", 1)[0]
    assert "test_pool_full" in group
    assert "clear_all_sessions" in group
    assert "test_leaks_canaries" not in group
    cell = page.index(">test_pool_full</td>")
    row = page[page.rindex("<tr", 0, cell) :].split("</tr>", 1)[0]
    assert "fake app log (last 400 lines)</a>" in row
    assert "fixture note</a>" in row
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert len(hrefs) >= 8
    for href in hrefs:
        assert (summary.parent / unquote(href)).resolve().is_file(), href
    qualification = json.loads((results.parent / "qualification.json").read_text(encoding="utf-8"))
    assert qualification["totals"] == {"passed": 2, "failed": 2, "broken": 0, "skipped": 1, "unknown": 0, "total": 5}
    assert qualification["classes"]["concurrency"] == {"passed": 0, "failed": 1, "skipped": 0}
    assert qualification["classes"]["auth"] == {"passed": 1, "failed": 0, "skipped": 0}
    assert qualification["classes"]["microphone"] == {"passed": 0, "failed": 0, "skipped": 1}
    assert list(qualification["classes"]) == ["concurrency", "auth", "microphone"]  # only the exercised
    assert qualification["failures_by_class"]["concurrency"] == 1
    assert qualification["pool_limit"] == 4
    assert qualification["summary_html"] == str(summary)
    assert qualification["results_dir"] == str(results)


def test_an_unknown_seed_class_is_a_usage_error(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_typo="import pytest\n@pytest.mark.seed_class('4002')\ndef test_x():\n    pass\n")
    run = pytester.runpytest_subprocess(*PLUGINS, "test_typo.py")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown seed class '4002'" in run.stderr.str()


@pytest.mark.parametrize(
    ("args", "writes"),
    [
        (["e2e/test_api.py::test_health"], True),
        (["load"], True),
        (["tests"], False),
        (["e2e", "--no-report"], False),
        (["tests", "--realtime-qa-report"], True),
        (["e2e", "-p", "no:allure_pytest"], False),
    ],
    ids=["e2e-node", "load", "tests", "no-report", "flag", "no-allure"],
)
def test_default_results_dir_for_the_qualification_suites(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], writes: bool
) -> None:
    """Registered the way the root conftest registers it; allure-pytest must see our directory."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeini("[pytest]\n")
    pytester.makeconftest('pytest_plugins = ["reports.plugin"]\n')
    for suite_dir in ("e2e", "load", "tests"):
        (pytester.path / suite_dir).mkdir()
        (pytester.path / suite_dir / "test_api.py").write_text("def test_health():\n    pass\n")
    results = pytester.path / "reports" / "out" / "allure-results"
    results.mkdir(parents=True)
    stale = results / "stale-result.json"
    stale.write_text("{}")
    run = pytester.runpytest_subprocess(*args)
    run.assert_outcomes(passed=1)
    written = list(results.glob("*-result.json"))
    if writes:
        assert not stale.exists()  # cleaned: one run, one set of results
        assert len(written) == 1
        assert (results / "categories.json").is_file()
        assert (results.parent / "summary.html").is_file()
        assert (results.parent / "qualification.json").is_file()
    else:
        assert written == [stale]
        assert not (results.parent / "summary.html").exists()
