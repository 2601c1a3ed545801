"""Every request event of a Locust process, one JSON line each: what capacity reports are binned from.

Locust's own CSV history is per interval and merges names' percentiles; a capacity step
wants exact percentiles of the events inside its time window, and the per-code failures.
Each process (master, or each worker) appends to its own file; lines carry wall-clock time.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any, TextIO

__all__ = ["EventLog", "event_files", "read_events"]


class EventLog:
    def __init__(self, prefix: Path) -> None:
        self.pid = os.getpid()
        self.path = prefix.with_name(f"{prefix.name}.{self.pid}.jsonl")  # one file per process: no interleaving
        self._file: TextIO = self.path.open("a", buffering=1 << 16)
        self.count = 0

    def request(self, request_type: str, name: str, response_time: float, response_length: int,
                exception: BaseException | None = None, **_kwargs: Any) -> None:  # fmt: skip
        self.count += 1
        entry = {"t": round(time.time(), 4), "type": request_type, "name": name, "ms": round(response_time, 2),
                 "bytes": response_length, "error": str(exception) if exception else None, "pid": self.pid}  # fmt: skip
        self._file.write(json.dumps(entry) + "\n")

    def mark(self, what: str) -> None:
        """A moment of the run (``test_start``: where step 0 begins)."""
        self._file.write(json.dumps({"t": round(time.time(), 4), "type": "mark", "name": what, "pid": self.pid}) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def event_files(prefix: Path) -> list[Path]:
    """The files ``EventLog(prefix)`` wrote, one per process (``events.123.jsonl``; not ``events.warmup.123.jsonl``)."""
    own = re.compile(re.escape(prefix.name) + r"\.\d+\.jsonl")
    return sorted(p for p in prefix.parent.glob(f"{prefix.name}.*.jsonl") if own.fullmatch(p.name))


def read_events(prefix: Path) -> list[dict[str, Any]]:
    """Every process's events of the run written with ``prefix``, in time order."""
    events: list[dict[str, Any]] = []
    for path in event_files(prefix):
        with path.open() as lines:
            events += [json.loads(line) for line in lines if line.strip()]
    return sorted(events, key=lambda e: e["t"])
