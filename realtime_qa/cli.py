"""realtime-qa: qualifies realtime voice AI web apps before release.

  realtime-qa qualify    bring the target up, run the qualification suite, summarise
  realtime-qa report     the last run's report (Allure HTML, or the summary page)
  realtime-qa diagnose   the seeds' one-click diagnosis of a running deployment
  realtime-qa probe      the exact 4002 limit of a running deployment, proved
  realtime-qa capacity   a step load past the limit: where time to first audio breaks
  realtime-qa stack up   run the reference stack on 127.0.0.1 until Ctrl-C
  realtime-qa test       prepare the machine, then run the harness's own tests

Imports here are the standard library's only (the rest is imported by the command that
needs it), so that --help and --version answer at once, even before the virtual
environment exists.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from realtime_qa.paths import REPO_ROOT, use_repository

SERVICE_NAMES = ("realtime-sim", "app", "frontend")  # fixtures.services' order (kept here: --help imports nothing)

TEST_HELP = """\
usage: realtime-qa test [--no-setup] [PYTEST ARGS ...]

Run the harness's own test suite (tests/) with pytest.

Before pytest it prepares the machine with two idempotent scripts:
  scripts/install-system-deps.sh   Chromium, espeak-ng, sox, debootstrap, CJK and emoji
                                   fonts (Debian packages; as root or with sudo)
  scripts/build-base-image.sh      the local Docker base image, when Docker answers

options:
  -h, --help    show this help and exit (nothing is installed or run)
  --no-setup    skip the machine preparation, run pytest at once

Every other argument goes to pytest unchanged, e.g.
  realtime-qa test -m "not docker and not slow"
  realtime-qa test tests/test_app_realtime.py -x
pytest's own options: .venv/bin/python -m pytest --help
"""


def version() -> str:
    """The installed distribution's version, else the one pyproject.toml declares."""
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed_version

        return installed_version("realtime-qa")
    except PackageNotFoundError:
        match = re.search(r'^version\s*=\s*"([^"]+)"', (REPO_ROOT / "pyproject.toml").read_text(), re.M)
        return match.group(1) if match else "unknown"


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name}={raw!r} is not a port number; set it to e.g. {default}")
    return int(raw)


def _stack_up(args: argparse.Namespace) -> int:
    from fixtures.errors import HarnessError
    from fixtures.local_stack import LocalStack
    from fixtures.services import SERVICES

    try:
        ports = {spec.port_attr: _env_port(spec.port_env, spec.default_port) for spec in SERVICES.values()}
        stack = LocalStack(
            **ports,
            services=args.services,
            log_dir=Path(args.log_dir) if args.log_dir else None,
            upstream_proxy=False,  # nothing here cuts the upstream: the app talks to the sim directly
        )
    except (HarnessError, ValueError) as exc:
        print(f"realtime-qa: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    kept = "" if args.log_dir else " (removed at exit; --log-dir DIR keeps them)"
    try:
        print(f"starting {', '.join(stack.services)} (logs in {stack.log_dir}{kept}) ...", flush=True)
        try:
            stack.start()
        except HarnessError as exc:
            print(f"realtime-qa: {exc.with_details()}\nrealtime-qa: logs kept in {stack.log_dir}", file=sys.stderr)
            return 1
        if stop.is_set():
            return 130
        for name in stack.services:
            print(f"  {name:<13} {stack.url_of(name)}", flush=True)
        if "app" in stack.services:
            print(f"  {'realtime ws':<13} {stack.ws_url}", flush=True)
        print("stack is up; Ctrl-C (or SIGTERM) stops it.", flush=True)
        while not stop.wait(0.5):
            for name in stack.services:
                code = stack.process(name).poll()
                if code is not None:
                    stack.keep_logs = True
                    print(
                        f"realtime-qa: {name} exited unexpectedly with code {code}; stopping the stack.\n"
                        f"--- last lines of its log ---\n{stack.log_tail(name)}\n"
                        f"realtime-qa: logs kept in {stack.log_dir}",
                        file=sys.stderr,
                    )
                    return 1
        print("stopping ...", flush=True)
        return 0
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            print("stack stopped.", flush=True)


def run_tests(pytest_args: list[str]) -> int:
    """Prepare the machine (unless --no-setup), then run the harness's own tests; other arguments go to pytest."""
    pytest_args = list(pytest_args)
    if "-h" in pytest_args or "--help" in pytest_args:
        print(TEST_HELP, end="")
        return 0
    from realtime_qa.machine_setup import prepare_unless_told_not_to

    command = [sys.executable, "-m", "pytest", *prepare_unless_told_not_to(pytest_args)]
    return subprocess.call(command, cwd=REPO_ROOT)


def _services(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = sorted(set(names) - set(SERVICE_NAMES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown service(s) {unknown or [text]}; choose from {','.join(SERVICE_NAMES)}"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtime-qa",
        description="Qualifies realtime voice AI web apps before release.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'realtime-qa COMMAND --help' for what a command does and its options.",
    )
    parser.add_argument("--version", action="version", version=f"realtime-qa {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "qualify",
        help="bring the target up (or reach it), run the qualification suite, write the report, summarise",
        add_help=False,
    )
    report = commands.add_parser(
        "report",
        help="the last run's report: Allure HTML when the allure CLI is installed, else reports/out/summary.html",
        description="Build the report of the last qualification run from its Allure results: the allure CLI's "
        "HTML when it is on PATH, otherwise the one-page reports/out/summary.html and how to install the CLI.",
    )
    from realtime_qa import report as report_command

    report_command.add_arguments(report)
    report.set_defaults(handler=report_command.run_report)
    diagnose = commands.add_parser(
        "diagnose",
        help="check a running deployment the seeds' way: health, login, sessions, WebSocket, one turn",
        description="The seeds' one-click diagnosis: health, (front end,) login, the session count against the "
        "pool limit, the WebSocket handshake and one spoken turn. Each line is ✅ or ❌ with the seed's remedy; "
        "exit 1 when a check failed. Credentials: RQA_EMAIL / RQA_PASSWORD, or --email and --password-env NAME.",
    )
    from realtime_qa import capacity_command, probe_command
    from realtime_qa import diagnose as diagnose_command

    diagnose_command.add_arguments(diagnose)
    diagnose.set_defaults(handler=diagnose_command.run_diagnose)
    probe = commands.add_parser(
        "probe",
        help="find the engine pool's exact limit (sessions until 4002) and prove it, leaks included",
        description="Hold realtime sessions, doubling the batch, until the deployment refuses one: the limit is "
        "the number held. Then prove it: that many listed, one more refused with 4002 and the seed's text, a freed "
        "slot reusable, nothing left behind. --json PATH writes the result; exit 1 when a check failed.",
    )
    probe_command.add_arguments(probe)
    probe.set_defaults(handler=probe_command.run_probe_command)
    capacity = commands.add_parser(
        "capacity",
        help="a step load to and past the limit: sessions held, time to first audio, errors, the knee, the SLO",
        description="Locust streams real-time audio over a growing number of sessions (--steps), each step held "
        "--step-s. Per step: sessions held, time to first audio p50/p95/p99, errors by code, the load generator's "
        "CPU and send lag. Names the knee and the largest session count meeting --slo-ttfa-p95-ms. Writes JSON, "
        "HTML, PNG charts and Locust's CSV/HTML report to --out; --workers N runs N local Locust workers.",
    )
    capacity_command.add_arguments(capacity)
    capacity.set_defaults(handler=capacity_command.run_capacity_command)

    stack = commands.add_parser(
        "stack",
        help="run the reference stack (the embedded default target)",
        description="The reference stack: realtime-sim (model simulator), app (backend), frontend (pages).",
    ).add_subparsers(dest="action", required=True, metavar="ACTION")
    up = stack.add_parser(
        "up",
        help="run the reference stack on 127.0.0.1 until Ctrl-C",
        description="Run the reference stack on 127.0.0.1 in the foreground; print the URLs once every "
        "service answers its health check; Ctrl-C or SIGTERM stops it. Ports come from APP_PORT, "
        "FRONTEND_PORT, SIM_PORT (8080, 3000, 8090); the pool limit from ENGINE_CONCURRENCY_LIMIT (8); "
        "the idle timeout from SESSION_IDLE_TIMEOUT_S (300).",
    )
    up.add_argument(
        "--services",
        type=_services,
        default=list(SERVICE_NAMES),
        help=f"comma-separated subset of {','.join(SERVICE_NAMES)} (default: all)",
    )
    up.add_argument(
        "--log-dir",
        help="keep each service's JSON log as DIR/<name>.log (default: a temporary directory, removed at exit)",
    )
    up.set_defaults(handler=_stack_up)

    commands.add_parser(
        "test",
        help="prepare the machine (Debian packages, Docker base image) unless --no-setup, then run pytest",
        add_help=False,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    use_repository()
    if argv[:1] == ["test"]:
        # Everything after "test" belongs to pytest, options included: argparse would mangle it.
        return run_tests(argv[1:])
    if argv[:1] == ["qualify"]:
        from realtime_qa.qualify import qualify

        return qualify(argv[1:])
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
