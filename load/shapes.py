"""Load shapes: a step load to (and past) the pool's limit, for capacity reports.

``--steps 2,4,8,12 --step-s 20`` holds 2 users for 20 s, then 4, ... then stops. Each user
holds one session (``--turns 0``), so users are sessions. Step ``i`` starts ``i * step_s``
after the test starts (the events log records that moment), which is how a report bins
events by step.
"""

from __future__ import annotations

from locust import LoadTestShape

__all__ = ["StepLoad"]


class StepLoad(LoadTestShape):
    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options if self.runner else None
        steps = [int(s) for s in (getattr(options, "steps", "") or "").split(",") if s.strip()]
        if not steps:
            return None
        hold = float(getattr(options, "step_s", 20.0))
        index = int(self.get_run_time() // hold)
        if index >= len(steps):
            return None
        users = steps[index]
        return users, max(users, 1) * 4.0  # a step's new users arrive within about a quarter of a second
