"""The Allure layer of a qualification run, as a pytest plugin.

- A run of the qualification suites (``e2e/``, ``load/``, or ``--realtime-qa-report``) writes
  allure results to ``reports/out/allure-results`` unless ``--alluredir`` or ``--no-report``
  says otherwise; ``pytest tests/`` writes nothing.
- Other plugins describe the run through ``config.stash``: ``ENVIRONMENT`` (mode, URLs,
  versions: environment.properties) and ``QUALIFICATION`` (figures for qualification.json,
  e.g. time-to-first-audio samples, the pool limit seen). Use ``config.stash.setdefault``.
- ``@pytest.mark.seed_class("concurrency", story="...")`` files a test under its seed in
  Allure's Behaviors (epic = seed, feature = section, story) and counts its outcome per class.
- A failed test gets the last lines of every service log of the stacks it used.
- At the very end the results are scrubbed in place, then summary.html and qualification.json
  are written next to the results directory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import platform
from collections.abc import Generator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from reports.allure_cli import find_allure, install_hint
from reports.allure_files import write_categories, write_environment, write_executor
from reports.attachments import attach_text
from reports.categories import CLASSES, by_id
from reports.scrub import scrub_tree
from reports.summary_html import build_summary
from reports.sweep import scrub_directory

__all__ = ["ENVIRONMENT", "LOG_LINES", "QUALIFICATION", "SUITES", "default_results_dir"]

ENVIRONMENT = pytest.StashKey[dict[str, str]]()
QUALIFICATION = pytest.StashKey[dict[str, object]]()
SUITES = ("e2e", "load")  # the directories whose runs are qualification runs
LOG_LINES = 400
_OUTCOMES = ("passed", "failed", "skipped")
_LOGS_ATTACHED = pytest.StashKey[bool]()
_SEED_PROPERTY = "seed_class"


def default_results_dir(config: pytest.Config) -> Path:
    return config.rootpath / "reports" / "out" / "allure-results"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtime-qa report")
    group.addoption(
        "--realtime-qa-report",
        action="store_true",
        default=False,
        help="write the Allure results and summary.html to reports/out even outside e2e/ and load/",
    )
    group.addoption(
        "--no-report",
        action="store_true",
        default=False,
        help="do not write reports/out/allure-results by default (an explicit --alluredir still works)",
    )


def _is_suite_run(config: pytest.Config) -> bool:
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::", 1)[0]).resolve()
        try:
            parts = path.relative_to(config.rootpath.resolve()).parts
        except ValueError:
            continue
        if parts and parts[0] in SUITES:
            return True
    return False


def _wants_default_report(config: pytest.Config) -> bool:
    """A qualification run with no --alluredir of its own (and allure-pytest loaded to write it)."""
    option = config.option
    if not hasattr(option, "allure_report_dir"):  # -p no:allure_pytest
        return False
    if option.allure_report_dir or option.no_report or option.collectonly:
        return False
    return bool(option.realtime_qa_report) or _is_suite_run(config)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Runs before allure-pytest's own pytest_configure, which reads ``allure_report_dir``."""
    config.addinivalue_line(
        "markers",
        "seed_class(id, story=None): the seed failure class a test qualifies "
        f"({', '.join(c.id for c in CLASSES)}); sets Allure epic/feature/story",
    )
    config.stash.setdefault(ENVIRONMENT, {})
    config.stash.setdefault(QUALIFICATION, {})
    if _wants_default_report(config):
        config.option.allure_report_dir = str(default_results_dir(config))
        # xdist workers share the directory with the controller, which already cleaned it
        config.option.clean_alluredir = not hasattr(config, "workerinput")
    config.pluginmanager.register(_Run(config), "realtime-qa-report")


def _results_dir(config: pytest.Config) -> Path | None:
    """Where allure-pytest writes this run's results (it resolves the option against the cwd)."""
    report_dir = getattr(config.option, "allure_report_dir", None)
    return Path(report_dir).absolute() if report_dir else None


def _versions() -> dict[str, str]:
    """The run's own versions, named like fixtures.target's ``version.<package>`` facts."""
    props = {
        "version.python": platform.python_version(),
        "version.pytest": pytest.__version__,
        "platform": platform.platform(),
    }
    for dist in ("allure-pytest", "realtime-qa"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            props[f"version.{dist}"] = metadata.version(dist)
    return props


def _tail(text: str, lines: int) -> str:
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) + ("\n" if kept else "")


class _Run:
    """What one run records (per-class outcomes) and writes at its end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = dt.datetime.now(dt.timezone.utc)
        self.outcomes: dict[str, tuple[str, str]] = {}  # nodeid -> (class id, worst outcome so far)

    @property
    def results_dir(self) -> Path | None:
        if self.config.option.collectonly or hasattr(self.config, "workerinput"):
            return None  # nothing ran, or the controller does the writing
        return _results_dir(self.config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Seed labels, before allure-pytest selects by label (--allure-epics ...)."""
        allure_loaded = hasattr(self.config.option, "allure_report_dir")
        for item in items:
            marker = item.get_closest_marker("seed_class")
            if marker is None:
                continue
            if len(marker.args) != 1:
                raise pytest.UsageError(f"{item.nodeid}: seed_class takes one class id, e.g. seed_class('concurrency')")
            try:
                seed_class = by_id(marker.args[0])
            except KeyError as error:
                raise pytest.UsageError(f"{item.nodeid}: {error.args[0]}") from None
            item.user_properties.append((_SEED_PROPERTY, seed_class.id))  # travels with every report
            if allure_loaded:
                story = marker.kwargs.get("story") or item.name
                for label_type, value in (("epic", seed_class.seed), ("feature", seed_class.section), ("story", story)):
                    item.add_marker(pytest.mark.allure_label(value, label_type=label_type))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """On the first failing phase, attach the service logs of every stack the test used."""
        # Imported here: importing it at load time (``-p reports.plugin``) would stop pytest from
        # assertion-rewriting it when the root conftest registers it as a plugin.
        from fixtures.stack_registry import stacks_of

        report = yield
        if report.failed and not item.stash.get(_LOGS_ATTACHED, False):
            item.stash[_LOGS_ATTACHED] = True
            for stack in stacks_of(item):
                for service in stack.services:
                    try:
                        text = _tail(stack.log_text(service), LOG_LINES)
                    except Exception as error:  # a stopped or external stack: say so in the report
                        text = f"could not read the {service} log: {error!r}\n"
                    attach_text(f"{stack.mode} {service} log (last {LOG_LINES} lines)", text)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        class_id = dict(report.user_properties).get(_SEED_PROPERTY)
        if class_id is None:
            return
        outcome = "failed" if report.failed else "skipped" if report.skipped else "passed"
        previous = self.outcomes.get(report.nodeid, (class_id, "passed"))[1]
        worst = max(previous, outcome, key=("passed", "skipped", "failed").index)
        self.outcomes[report.nodeid] = (str(class_id), worst)

    def class_outcomes(self) -> dict[str, dict[str, int]]:
        """Outcomes of the marked tests per class, in table order; a class no test exercised is absent."""
        counts: dict[str, dict[str, int]] = {}
        for seed_class in CLASSES:
            for class_id, outcome in self.outcomes.values():
                if class_id == seed_class.id:
                    counts.setdefault(class_id, dict.fromkeys(_OUTCOMES, 0))[outcome] += 1
        return counts

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """environment.properties, executor.json, categories.json (trylast: after others fill ENVIRONMENT)."""
        results_dir = self.results_dir
        if results_dir is None:
            return
        write_environment(results_dir, {**_versions(), **self.config.stash.get(ENVIRONMENT, {})})
        summary = results_dir.parent / "summary.html"
        build = f"{self.started:%Y-%m-%d %H:%M:%S} UTC on {platform.node()}"
        write_executor(results_dir, "realtime-qa", build_name=build, report_url=summary.as_uri())
        write_categories(results_dir)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results_dir = self.results_dir
        if results_dir is None:
            return
        summary = results_dir.parent / "summary.html"
        terminalreporter.write_line(f"realtime-qa report: {summary} (allure results: {results_dir})")
        if find_allure() is None:
            terminalreporter.write_line(install_hint(results_dir.parent))

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """After allure-pytest wrote everything: scrub it, then summary.html and qualification.json."""
        results_dir = self.results_dir
        if results_dir is None or not results_dir.is_dir():
            return
        scrub_directory(results_dir)
        summary = results_dir.parent / "summary.html"
        stats = build_summary(results_dir, summary)
        qualification: dict[str, Any] = {
            **config.stash.get(QUALIFICATION, {}),
            "totals": {**stats.statuses, "total": stats.total},
            "classes": self.class_outcomes(),
            "failures_by_class": {**stats.classes, "unclassified": stats.unclassified},
            "results_dir": str(results_dir),
            "summary_html": str(summary),
        }
        text = json.dumps(scrub_tree(qualification), ensure_ascii=False, indent=2, default=str)
        (results_dir.parent / "qualification.json").write_text(text + "\n", encoding="utf-8")
