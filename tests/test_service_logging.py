"""The services' logging: JSON lines, credentials redacted, and never blocking the caller."""

from __future__ import annotations

import io
import json
import logging
import threading
import time

import pytest

from stack.service import configure_logging, log_fields, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZXR0eUAxMjMuY29tIn0.c2lnbmF0dXJlLXBhcnQ"


@pytest.fixture
def restore_root_logging():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    "text",
    [
        f"token={JWT}",
        f"Authorization: Bearer {JWT}",
        "api-key: sk-abc123secret",
        '{"password": "Betty@123.com"}',
        "ws://127.0.0.1:8080/ws/realtime?token=abc.def",
    ],
)
def test_redact_masks_credentials(text: str) -> None:
    masked = redact(text)
    for secret in (JWT, "sk-abc123secret", "Betty@123.com", "abc.def"):
        assert secret not in masked
    assert "REDACTED" in masked


def test_masked_lines_stay_valid_json(restore_root_logging: None) -> None:
    stream = io.StringIO()
    listener = configure_logging("unit", stream=stream)
    logging.getLogger("uvicorn.error").info('127.0.0.1:1 - "WebSocket /ws/realtime?token=%s" [accepted]', JWT)
    logging.getLogger("unit").info("upstream", extra=log_fields(headers={"api-key": "sk-abc123secret"}))
    listener.stop()
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert entries[0]["msg"].endswith('" [accepted]')
    assert JWT not in stream.getvalue()
    assert "sk-abc123secret" not in stream.getvalue()


def test_records_are_json_lines_with_fields(restore_root_logging: None) -> None:
    stream = io.StringIO()
    listener = configure_logging("unit", stream=stream)
    logging.getLogger("unit.test").info("slot acquired", extra=log_fields(live_id="live_1", active=3))
    listener.stop()
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["service"] == "unit"
    assert entry["msg"] == "slot acquired"
    assert entry["live_id"] == "live_1"
    assert entry["active"] == 3
    assert entry["level"] == "info"


class _BlockedStream(io.StringIO):
    """A log destination that hangs on write, like a full pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.release.wait(timeout=30)
        return super().write(text)


def test_logging_never_blocks_the_caller_when_the_writer_hangs(restore_root_logging: None) -> None:
    """The seed's HTTP hang came from a synchronous logger in middleware: ours only enqueues."""
    stream = _BlockedStream()
    listener = configure_logging("unit", stream=stream)
    log = logging.getLogger("unit.blocked")
    started = time.monotonic()
    for n in range(2000):
        log.info("request", extra=log_fields(n=n))
    elapsed = time.monotonic() - started
    stream.release.set()
    listener.stop()
    # A hang detector, not a speed test: a synchronous writer would block for 30 s here.
    assert elapsed < 10, f"logging blocked the caller for {elapsed:.1f} s"
    assert stream.getvalue().count("\n") == 2000


def test_a_stuck_writer_bounds_the_queue_and_counts_what_it_dropped(restore_root_logging: None) -> None:
    """A stderr nobody reads must not grow memory without limit: the queue is bounded."""
    stream = _BlockedStream()
    listener = configure_logging("unit", stream=stream, max_queued=100)
    log = logging.getLogger("unit.flood")
    for n in range(5000):
        log.info("request", extra=log_fields(n=n))
    queued = listener.queue.qsize()
    stream.release.set()
    deadline = time.monotonic() + 10
    while listener.queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)
    log.info("after the flood")
    listener.stop()
    assert queued <= 100, f"{queued} records queued behind a stuck writer"
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [e for e in entries if e["msg"] == "request"]
    notices = [e for e in entries if e["msg"].startswith("log records dropped")]
    assert notices, "the writer never said that it dropped records"
    assert sum(e["dropped"] for e in notices) == 5000 - len(requests) > 0
    assert notices[-1]["dropped_total"] == 5000 - len(requests)
    assert {e["level"] for e in notices} == {"warning"}
    assert entries[-1]["msg"] == "after the flood"
