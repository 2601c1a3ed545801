"""``realtime-qa capacity``: a step load to and past the limit; where time to first audio breaks.

Logs in like ``probe``, runs ``load.capacity`` (Locust in processes of its own, ``--workers N``
of them as local workers), prints a line per step and the verdicts, and leaves
capacity.json / capacity.html / PNG charts and Locust's CSV and HTML report in ``--out``.
Exit 0 when the run completed and its generator stayed within its limits, 1 when the
figures are not trustworthy or Locust failed, 2 for a usage error, 6 when the deployment
cannot be reached or refuses the account.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from realtime_qa.deployment_login import add_target_arguments
from realtime_qa.paths import REPO_ROOT

if TYPE_CHECKING:
    from fixtures.target_setup import Target

__all__ = ["add_arguments", "run_capacity_command"]


def _steps(text: str) -> list[int]:
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--steps {text!r} must be comma-separated whole numbers, e.g. 2,4,8"
        ) from None
    if not steps or any(s < 0 for s in steps):
        raise argparse.ArgumentTypeError(f"--steps {text!r} must list at least one user count >= 0")
    return steps


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument(
        "--steps", type=_steps, default=None,
        help="users per step, e.g. 2,4,6,8,10 (default: to 1.5x the pool limit in 5 steps; "
        "the probe finds the limit if the profile does not say)",
    )  # fmt: skip
    parser.add_argument("--step-s", type=float, default=20.0, help="seconds each step is held (default 20)")
    parser.add_argument("--slo-ttfa-p95-ms", type=float, default=0.0,
                        help="the SLO for time to first audio p95 (default: the profile's)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=0, help="local Locust workers (0: one process)")
    parser.add_argument("--chunk-ms", type=int, default=100, help="audio per append event, 20-200 ms (default 100)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "reports" / "out" / "capacity",
                        help="where the report goes (default: reports/out/capacity)")  # fmt: skip


def default_steps(limit: int) -> list[int]:
    top = max(2, round(limit * 1.5))
    return sorted({max(1, round(top * n / 5)) for n in range(1, 6)})


def _find_limit(target: Target) -> int:
    """The pool limit the steps go past, from the probe when the profile does not know it."""
    import asyncio

    from load.probe import run_probe

    print("capacity: the profile does not know the pool limit; probing for it", flush=True)
    stack, profile = target.stack, target.profile
    found = asyncio.run(run_probe(stack.app_url, stack.ws_url, target.token, profile, say=lambda _line: None))
    if found.limit is None:
        print(f"capacity: no limit within max_sessions={profile.pool.max_sessions}; stepping to it", flush=True)
        return profile.pool.max_sessions
    print(f"capacity: the pool holds {found.limit} sessions", flush=True)
    return found.limit


def run_capacity_command(args: argparse.Namespace) -> int:
    from load.capacity import run_capacity
    from realtime_qa.deployment_login import log_in_to

    if not 20 <= args.chunk_ms <= 200 or args.workers < 0 or args.step_s <= 0:
        print("realtime-qa: --chunk-ms must be 20-200, --workers >= 0, --step-s > 0", file=sys.stderr)
        return 2
    target = log_in_to(args, "capacity")
    if isinstance(target, int):
        return target
    stack, profile, password = target.stack, target.profile, target.password
    steps = args.steps or default_steps(profile.pool.limit or _find_limit(target))
    slo = args.slo_ttfa_p95_ms or profile.slo.ttfa_p95_ms
    print(f"capacity: steps {steps} users, {args.step_s:.0f} s each, SLO time to first audio p95 <= {slo:.0f} ms",
          flush=True)  # fmt: skip
    env = {"RQA_EMAIL": profile.email, "RQA_PASSWORD": password}
    result = run_capacity(
        stack.app_url, stack.ws_url, target.token, profile, steps=steps, step_s=args.step_s,
        slo_ttfa_p95_ms=slo, out_dir=args.out, workers=args.workers, chunk_ms=args.chunk_ms, env=env,
    )  # fmt: skip
    for step in result.steps:
        errors = ", ".join(f"{k} x{n}" for k, n in step.errors.items()) or "no errors"
        print(f"  {step.users:>4} users: {step.sessions_held:>5.0f} held, TTFA p50/p95/p99 "
              f"{step.ttfa_p50_ms}/{step.ttfa_p95_ms}/{step.ttfa_p99_ms} ms, {errors}, "
              f"generator CPU {step.generator_cpu_percent}% lag p99 {step.generator_lag_p99_ms} ms"
              f"{'' if step.slo_ok else '  (misses the SLO)'}")  # fmt: skip
    print(f"knee at {result.knee_users} users ({result.knee_sessions} sessions); largest count meeting the SLO: "
          f"{result.slo_ok_sessions}; pool limit seen: {result.pool_limit_seen}")  # fmt: skip
    if not result.trustworthy:
        print("realtime-qa: the load generator was over its limits: these figures are NOT trustworthy "
              "(add --workers, or lower the load)", file=sys.stderr)  # fmt: skip
    print(f"report: {result.files.get('html')}")
    return 0 if result.trustworthy and result.locust_returncode in (0, 1) else 1
