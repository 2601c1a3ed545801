"""The load smoke of the qualification: real-time voice sessions under Locust, judged by the profile's SLO.

Short by design (tens of seconds): ``realtime-qa capacity`` is the long form. Locust runs
in processes of its own; its CSV and HTML report, the capacity page and charts, and the
load generator's own health go into the report.
"""

from __future__ import annotations

from pathlib import Path

import allure
import pytest

from fixtures.target_setup import Target
from load.capacity import CapacityResult, run_capacity

pytestmark = [pytest.mark.load, pytest.mark.timeout(300)]
STEP_S = 10.0


def _attach(result: CapacityResult, out: Path) -> None:
    for name in ("ttfa", "errors", "generator"):
        allure.attach.file(
            str(out / f"{name}.png"), name=f"capacity: {name}", attachment_type=allure.attachment_type.PNG
        )
    allure.attach.file(str(out / "capacity.html"), name="capacity report", attachment_type=allure.attachment_type.HTML)
    allure.attach.file(str(out / "capacity.json"), name="capacity.json", attachment_type=allure.attachment_type.JSON)
    for csv in sorted(out.glob("locust_*.csv")):
        allure.attach.file(str(csv), name=csv.name, attachment_type=allure.attachment_type.CSV)
    if (out / "locust-report.html").exists():
        allure.attach.file(
            str(out / "locust-report.html"), name="Locust report", attachment_type=allure.attachment_type.HTML
        )


def _run(target: Target, out: Path, steps: list[int]) -> CapacityResult:
    env = {"RQA_EMAIL": target.email, "RQA_PASSWORD": target.password}
    result = run_capacity(
        target.stack.app_url, target.stack.ws_url, target.token, target.profile, steps=steps,
        step_s=STEP_S, slo_ttfa_p95_ms=target.profile.slo.ttfa_p95_ms, out_dir=out, env=env,
    )  # fmt: skip
    _attach(result, out)
    return result


@pytest.mark.seed_class("timeout", story="voice sessions under load")
def test_streaming_sessions_meet_the_time_to_first_audio_slo(
    target: Target, pool_limit: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Half the pool, then the pool minus one, streaming real-time audio: every turn answered within the SLO."""
    steps = sorted({max(1, pool_limit // 2), max(1, pool_limit - 1)})
    result = _run(target, tmp_path_factory.mktemp("load-smoke"), steps)
    assert result.locust_returncode in (0, 1), f"Locust exited {result.locust_returncode}"
    assert result.trustworthy, f"the load generator was over its limits: {result.generator.get('warnings')}"
    for step in result.steps:
        assert step.turns > 0, f"no turn completed with {step.users} users"
        assert not step.errors, f"{step.users} users: errors {step.errors}"
        assert step.ttfa_p95_ms is not None
        assert step.ttfa_p95_ms <= target.profile.slo.ttfa_p95_ms, (
            f"time to first audio p95 {step.ttfa_p95_ms:.0f} ms > {target.profile.slo.ttfa_p95_ms:.0f} ms "
            f"with {step.sessions_held:.0f} sessions streaming"
        )


@pytest.mark.seed_class("concurrency", story="4002 under load")
def test_past_the_limit_the_extra_sessions_get_4002_and_the_held_ones_keep_working(
    target: Target, pool_limit: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    result = _run(target, tmp_path_factory.mktemp("load-past-limit"), [pool_limit + 2])
    step = result.steps[0]
    refused = sum(n for code, n in step.errors.items() if code.endswith(str(target.profile.pool.refused_code)))
    assert refused > 0, f"no 4002 with {pool_limit + 2} users against a pool of {pool_limit}: {step.errors}"
    others = {code: n for code, n in step.errors.items() if not code.endswith(str(target.profile.pool.refused_code))}
    assert not others, f"failures other than 4002: {others}"
    assert step.sessions_held == pool_limit, f"{step.sessions_held} sessions held, the pool holds {pool_limit}"
    assert step.turns > 0, "the sessions that got in did not complete a turn"
