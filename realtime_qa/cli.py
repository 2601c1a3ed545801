"""``realtime-qa``: the command-line front door.

``realtime-qa stack up`` runs the reference stack in the foreground on 127.0.0.1;
``realtime-qa test`` runs the harness's own test suite.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from realtime_qa.machine_setup import prepare_machine
from stack.launcher import SERVICE_NAMES, LocalStack, StackStartError
from stack.service import ConfigError, env_int

REPO_ROOT = Path(__file__).resolve().parent.parent


def _stack_up(args: argparse.Namespace) -> int:
    try:
        stack = LocalStack(
            app_port=env_int("APP_PORT", 8080, minimum=1),
            frontend_port=env_int("FRONTEND_PORT", 3000, minimum=1),
            sim_port=env_int("SIM_PORT", 8090, minimum=1),
            services=args.services,
            log_dir=Path(args.log_dir) if args.log_dir else None,
        )
    except (StackStartError, ValueError, ConfigError) as exc:
        print(f"realtime-qa: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"starting {', '.join(stack.services)} (logs in {stack.log_dir}) ...", flush=True)
        try:
            stack.start()
        except StackStartError as exc:
            print(f"realtime-qa: {exc}", file=sys.stderr)
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
                    print(
                        f"realtime-qa: {name} exited unexpectedly with code {code}; stopping the stack.\n"
                        f"--- last lines of its log ---\n{stack.log_tail(name)}",
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
    if "--no-setup" in pytest_args:
        pytest_args.remove("--no-setup")
    else:
        prepare_machine()
    command = [sys.executable, "-m", "pytest", *pytest_args]
    return subprocess.call(command, cwd=REPO_ROOT)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realtime-qa", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    stack = commands.add_parser("stack", help="the reference stack").add_subparsers(dest="action", required=True)
    up = stack.add_parser(
        "up",
        help="run the reference stack on 127.0.0.1 until Ctrl-C",
        description="Ports come from APP_PORT, FRONTEND_PORT, SIM_PORT (8080, 3000, 8090); the pool limit "
        "from ENGINE_CONCURRENCY_LIMIT (8); the idle timeout from SESSION_IDLE_TIMEOUT_S (300).",
    )
    up.add_argument(
        "--services",
        type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
        default=list(SERVICE_NAMES),
        help=f"comma-separated subset of {','.join(SERVICE_NAMES)} (default: all)",
    )
    up.add_argument("--log-dir", help="where each service writes <name>.log (default: a new temp dir)")
    up.set_defaults(handler=_stack_up)

    test = commands.add_parser(
        "test",
        help="install what the tests need (Debian packages, Docker base image) unless --no-setup, then run pytest",
        add_help=False,
    )
    test.add_argument("pytest_args", nargs="*", help="--no-setup, then any pytest arguments")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if argv[:1] == ["test"]:
        # Everything after "test" belongs to pytest, options included: argparse would mangle it.
        return run_tests(argv[1:])
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
