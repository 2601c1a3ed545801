"""Root conftest: command-line options and plugin registration only (DESIGN.md: no god-conftest).

The options choose and describe the target the qualification suites (``e2e/``, ``load/``)
run against; ``fixtures.target`` owns what they mean. The harness's own tests
(``tests/``) ignore them. ``--base-url`` (the front end) and the browser flags
(``--headed``, ``--browser-channel``, ``--slowmo``, ``--tracing``, ``--video``,
``--screenshot``, ``--output``) are pytest-playwright-asyncio's own.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["fixtures.stack_registry", "fixtures.target", "fixtures.browser_plugin", "reports.plugin"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("realtime-qa", "realtime-qa target")
    group.addoption(
        "--stack",
        choices=("auto", "docker", "local", "external"),
        default="auto",
        help="where the target comes from: auto (docker when the daemon answers and the image builds, "
        "else local), docker, local (processes), external (--api-url/--ws-url). Default: auto",
    )
    group.addoption("--api-url", default="", help="external: the app's REST URL (e.g. http://host:8080)")
    group.addoption(
        "--ws-url", default="", help="external: the realtime WebSocket URL (e.g. ws://host:8080/ws/realtime)"
    )
    group.addoption("--email", default="", help="account to log in with (default: RQA_EMAIL, the profile, the seeds')")
    group.addoption(
        "--password-env",
        default="",
        metavar="NAME",
        help="environment variable holding the password (default: RQA_PASSWORD); never a password on the command line",
    )
    group.addoption("--profile", default="", metavar="FILE.toml", help="target profile overriding [tool.realtime-qa]")
    group.addoption(
        "--keep-stack",
        action="store_true",
        help="leave the stack the harness started running after the tests, and print its URLs",
    )
