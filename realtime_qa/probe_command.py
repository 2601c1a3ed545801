"""``realtime-qa probe``: the exact 4002 limit of a running deployment, proved, as a command.

Logs in (RQA_EMAIL / RQA_PASSWORD, or --email and --password-env NAME), runs
``load.probe``, prints progress and one line per check, and writes ``--json PATH``.
Exit 0 when every check held, 1 when one did not, 2 for a usage error, 6 when the
deployment cannot be reached or refuses the account.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from realtime_qa.deployment_login import add_target_arguments

__all__ = ["add_arguments", "run_probe_command"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--max-sessions", type=int, default=0, help="give up above this many (default: the profile's)")
    parser.add_argument("--origin", default="", help="the Origin header to send (default: none)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the result as JSON")


def run_probe_command(args: argparse.Namespace) -> int:
    from load.probe import raise_open_files_limit, run_probe
    from realtime_qa.deployment_login import log_in_to
    from reports.scrub import scrub_tree

    if args.max_sessions < 0:
        print("realtime-qa: --max-sessions must be a positive number", file=sys.stderr)
        return 2
    target = log_in_to(args, "probe")
    if isinstance(target, int):
        return target
    stack, profile = target.stack, target.profile
    raise_open_files_limit()

    def say(line: str) -> None:
        print(line, flush=True)

    result = asyncio.run(
        run_probe(
            stack.app_url,
            stack.ws_url,
            target.token,
            profile,
            max_sessions=args.max_sessions or None,
            origin=args.origin or None,
            say=say,
        )
    )
    for name, ok in result.checks.items():
        print(f"{'✅' if ok else '❌'} {name.replace('_', ' ')}")
    for note in result.notes:
        print(f"   note: {note}")
    print(
        f"limit {result.limit}; refused with {result.refused_code} / close {result.refused_close_code}; "
        f"leaked {len(result.leaked_sessions)}; {result.timings.get('total_s', 0):.1f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(scrub_tree(result.as_json()), ensure_ascii=False, indent=2) + "\n")
    return 0 if result.ok else 1
