"""Locust's master/worker mode with the realtime user: the master's totals are the workers' sums."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fixtures.local_stack import LocalStack
from load.locust_process import LOAD_DIR, LocustRun

pytestmark = [pytest.mark.slow, pytest.mark.load, pytest.mark.timeout(300)]


def _aggregated(stats_csv: Path) -> dict[str, int]:
    with stats_csv.open() as rows:
        row = next(r for r in csv.DictReader(rows) if r["Name"] == "Aggregated")
    return {"requests": int(row["Request Count"]), "failures": int(row["Failure Count"])}


def _per_process(out: Path) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {}
    for path in out.glob("events.*.jsonl"):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        requests = [e for e in lines if e["type"] != "mark"]
        counts[int(path.name.split(".")[1])] = {
            "requests": len(requests),
            "failures": sum(1 for e in requests if e["error"]),
        }
    return counts


def test_a_two_worker_run_counts_what_its_workers_sent(tmp_path: Path) -> None:
    with LocalStack(services=["realtime-sim", "app"], env={"ENGINE_CONCURRENCY_LIMIT": "6"}) as stack:
        run = LocustRun(
            LOAD_DIR / "locustfile.py",
            ["--host", stack.app_url, "--ws-url", stack.ws_url, "-u", "8", "-r", "8", "-t", "15s", "--turns", "1",
             "--events-log", str(tmp_path / "events"), "--csv", str(tmp_path / "locust"), "--only-summary"],
            tmp_path,
            workers=2,
            timeout_s=120,
        )  # fmt: skip
        code = run.run()
    assert code in (0, 1), run.output[-3000:]  # 1: the 4002 refusals past the pool of 6 are failures
    master = _aggregated(tmp_path / "locust_stats.csv")
    workers = {pid: n for pid, n in _per_process(tmp_path).items() if n["requests"]}
    worker_log = (tmp_path / "locust-worker-0.log").read_text(errors="replace")[-2000:]
    assert len(workers) == 2, f"events from {len(workers)} worker process(es), expected 2: {workers}\n{worker_log}"
    assert master["requests"] == sum(w["requests"] for w in workers.values()), (master, workers)
    assert master["failures"] == sum(w["failures"] for w in workers.values()), (master, workers)
    assert master["failures"] > 0, "8 users against a pool of 6: some sessions must have been refused (4002)"
    print(f"master {master}; workers {workers}")
