"""realtime-sim's environment knobs set every session's defaults; metadata overrides them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.errors import StackStartError
from fixtures.local_stack import LocalStack
from tests.test_sim_protocol import of_type, open_session

DELAY_MS = 300


@pytest.fixture(scope="module")
def failing_sim() -> Iterator[LocalStack]:
    env = {"SIM_RESPONSE_DELAY_MS": str(DELAY_MS), "SIM_FAULT": "error_event"}
    with LocalStack(services=["realtime-sim"], env=env) as stack:
        yield stack


async def test_env_fault_and_delay_apply_to_every_session(failing_sim: LocalStack) -> None:
    async with open_session(failing_sim, "azure") as client:
        started = time.monotonic()
        event_id = await client.send("response.create")
        events = await client.until("error")
        assert time.monotonic() - started >= DELAY_MS / 1000
        assert not of_type(events, "response.created")
        assert (events[-1]["error"]["type"], events[-1]["error"]["event_id"]) == ("server_error", event_id)


async def test_session_metadata_overrides_the_env_fault_but_keeps_the_delay(failing_sim: LocalStack) -> None:
    async with open_session(failing_sim) as client:
        await client.update({"type": "realtime", "metadata": {"sim_fault": "none"}})
        started = time.monotonic()
        await client.send("response.create")
        await client.until("response.created")
        assert time.monotonic() - started >= DELAY_MS / 1000
        assert (await client.until("response.done"))[-1]["response"]["status"] == "completed"


def test_a_bad_env_knob_stops_the_sim_at_start_naming_it(tmp_path: Path) -> None:
    stack = LocalStack(services=["realtime-sim"], env={"SIM_FAULT": "explode"}, startup_timeout_s=15, log_dir=tmp_path)
    with pytest.raises(StackStartError, match="realtime-sim exited") as failed:
        stack.start()
    assert "SIM_FAULT" in failed.value.details  # the log tail says which knob was wrong
