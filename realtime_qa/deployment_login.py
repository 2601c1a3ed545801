"""A running deployment reached and logged into, for the commands that load it (probe, capacity).

One set of flags (``--api-url``, ``--ws-url``, ``--email``, ``--password-env``, ``--profile``)
and one way in: the profile as the e2e suite reads it, the deployment's health, a login
whose password is registered with the report scrubber before anything can log it. A bad
profile is a usage error (exit 2); an unreachable deployment or a refused account is a
setup error (exit 6); either is one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fixtures.target_setup import Target

__all__ = ["SETUP_ERROR", "USAGE_ERROR", "add_target_arguments", "log_in_to"]

USAGE_ERROR = 2
SETUP_ERROR = 6


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", required=True, help="the app's REST URL, e.g. http://localhost:8080")
    parser.add_argument("--ws-url", required=True, help="the realtime socket, e.g. ws://localhost:8080/ws/realtime")
    parser.add_argument("--email", default="", help="the account (default: RQA_EMAIL, the profile, the seeds')")
    parser.add_argument("--password-env", default="", metavar="NAME", help="the variable holding its password")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE.toml", help="target profile")


def log_in_to(args: argparse.Namespace, command: str) -> Target | int:
    """The logged-in target, or the exit code after saying in one line why there is none."""
    from fixtures.errors import HarnessError, ProfileError
    from fixtures.external_stack import ExternalStack
    from fixtures.profile import load_profile
    from fixtures.target_setup import Target, log_in
    from reports.scrub import register_secret

    overrides = {key: value for key, value in (("email", args.email), ("password_env", args.password_env)) if value}
    try:
        profile = load_profile(profile_file=args.profile, overrides=overrides)
        stack = ExternalStack(args.api_url, args.ws_url, health_path=profile.paths.health).start()
        password = profile.password()
        register_secret(password)
        target = Target(stack, profile, "external", f"realtime-qa {command}", profile.email, password)
        log_in(target)
    except ProfileError as exc:
        print(f"realtime-qa: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except HarnessError as exc:
        print(f"realtime-qa: {exc}", file=sys.stderr)
        return SETUP_ERROR
    return target
