"""The compose ``load`` profile through the harness's Docker runner: a Locust master and two
worker containers on the stack's network, streaming voice sessions to the app container."""

from __future__ import annotations

import re
import time

import pytest

from fixtures.docker_engine import docker_available, docker_client
from fixtures.docker_stack import DockerStack

pytestmark = [pytest.mark.docker, pytest.mark.load, pytest.mark.slow, pytest.mark.timeout(900)]


def test_the_load_profile_runs_a_master_and_two_workers_against_the_stack() -> None:
    ok, why = docker_available()
    if not ok:
        pytest.skip(why)
    client = docker_client()
    variables = {"LOAD_WORKERS": "2", "LOAD_USERS": "4", "LOAD_RATE": "4", "LOAD_TIME": "12s", "LOAD_TURNS": "1"}
    try:
        with DockerStack(
            client=client, services=["app", "locust-master", "locust-worker"], profiles=["load"],
            replicas={"locust-worker": 2}, env=variables,
        ) as stack:  # fmt: skip
            master = stack.container("locust-master")
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                master.reload()
                if master.status == "exited":
                    break
                time.sleep(1)
            log = stack.logs("locust-master")
            code = master.attrs["State"]["ExitCode"]
    finally:
        client.close()
    assert master.status == "exited", f"the master did not finish within 120 s:\n{log[-2000:]}"
    assert "2 workers connected" in log, log[-3000:]
    aggregated = re.search(r"^\s+Aggregated\s+(\d+)\s+(\d+)\(", log, re.MULTILINE)
    assert aggregated, f"no summary in the master's output:\n{log[-3000:]}"
    requests, failures = int(aggregated[1]), int(aggregated[2])
    assert requests > 0, log[-3000:]
    assert failures == 0, log[-3000:]
    assert code == 0, log[-3000:]
    for name in ("ws_connect", "session_created", "time_to_first_audio", "response_done"):
        assert re.search(rf"^WS\s+{name}\s+[1-9]", log, re.MULTILINE), f"no {name} requests:\n{log[-3000:]}"
