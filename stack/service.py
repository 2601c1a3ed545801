"""What the three reference services share: settings from the environment, logging, serving.

Logging goes through a ``QueueHandler``: the event loop only enqueues a record and a
background thread formats and writes it. The seed's HTTP hang came from a synchronous
logger inside request middleware; with a queue, a slow or blocked stderr can never stall
a request. The queue is bounded: behind a stuck stderr, records beyond the bound are
dropped and counted, and the writer says how many once it can write again, so memory
stays flat. Every record passes a redaction filter so tokens and keys cannot leak.

A service started by the harness's process runner watches a pipe from its owner
(``REALTIME_QA_OWNER_FD``) and shuts down when the owner is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import logging.handlers
import os
import queue
import re
import signal
import sys
import threading
import time
from typing import Any

import uvicorn

__all__ = [
    "ConfigError",
    "configure_logging",
    "env_float",
    "env_int",
    "env_str",
    "log_fields",
    "redact",
    "serve",
]


class ConfigError(SystemExit):
    """A setting in the environment is wrong; the message names it and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to e.g. {default}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


# JWTs (three base64url parts), bearer credentials, key/password/token assignments.
_SECRET_PATTERNS = [
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"),
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)((?:api[-_]?key|password|passwd|secret|token)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"),
]


def redact(text: str) -> str:
    """Mask anything that looks like a credential."""
    text = _SECRET_PATTERNS[0].sub("[REDACTED-JWT]", text)
    text = _SECRET_PATTERNS[1].sub(r"\1[REDACTED]", text)
    return _SECRET_PATTERNS[2].sub(r"\1[REDACTED]", text)


_SECRET_KEY = re.compile(r"(?i)(api[-_]?key|password|passwd|secret|token|authorization|cookie)")


def _redact_tree(value: Any) -> Any:
    """Redact strings anywhere in a structure; values under secret-looking keys entirely."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: "[REDACTED]" if isinstance(key, str) and _SECRET_KEY.search(key) else _redact_tree(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact_tree(item) for item in value]
    return value


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to grep, easy to attach to a report."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "service": self.service,
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # Redact values before encoding: masking the encoded line could eat an escape and break the JSON.
        return json.dumps(_redact_tree(entry), ensure_ascii=False, default=lambda value: redact(str(value)))


class _DropCount:
    """Records refused by a full queue since the writer last reported them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self.total = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1
            self.total += 1

    def take(self) -> int:
        with self._lock:
            count, self._count = self._count, 0
            return count


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """Enqueue without ever waiting: when the queue is full, count the record and move on."""

    def __init__(self, records: queue.Queue[logging.LogRecord], dropped: _DropCount) -> None:
        super().__init__(records)
        self.dropped = dropped

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped.add()


class _ReportingWriter(logging.StreamHandler):  # type: ignore[type-arg]
    """The writer thread's handler: before the next record, says how many were dropped."""

    def __init__(self, stream: Any, dropped: _DropCount) -> None:
        super().__init__(stream)
        self.dropped = dropped

    def handle(self, record: logging.LogRecord) -> bool:
        count = self.dropped.take()
        if count:
            notice = logging.LogRecord(
                "service.logging", logging.WARNING, __file__, 0,
                "log records dropped: the log writer could not keep up", None, None,
            )  # fmt: skip
            notice.fields = {"dropped": count, "dropped_total": self.dropped.total}
            super().handle(notice)
        return bool(super().handle(record))


class _BoundedQueueListener(logging.handlers.QueueListener):
    """A listener whose stop waits (bounded) for room in a full queue instead of raising."""

    def enqueue_sentinel(self) -> None:
        with contextlib.suppress(queue.Full):
            self.queue.put(self._sentinel, timeout=5)


DEFAULT_MAX_QUEUED = 10_000


def configure_logging(
    service: str, level: str | None = None, stream: Any = None, *, max_queued: int = DEFAULT_MAX_QUEUED
) -> logging.handlers.QueueListener:
    """Route all logging (ours and uvicorn's) through a bounded queue to a JSON writer thread."""
    level_name = (level or env_str("LOG_LEVEL", "info")).upper()
    records: queue.Queue[logging.LogRecord] = queue.Queue(maxsize=max_queued)
    dropped = _DropCount()
    writer = _ReportingWriter(stream or sys.stderr, dropped)
    writer.setFormatter(_JsonFormatter(service))
    listener = _BoundedQueueListener(records, writer, respect_handler_level=False)
    listener.start()
    atexit.register(_stop_listener, listener)

    root = logging.getLogger()
    root.handlers[:] = [_DroppingQueueHandler(records, dropped)]
    root.setLevel(level_name)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Access logs carry query strings (?token=...); they pass the redaction filter,
    # but there is no reason to pay for them on the hot path.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    return listener


def _stop_listener(listener: logging.handlers.QueueListener) -> None:
    """Flush what is queued at exit (idempotent: tests may have stopped it already)."""
    if getattr(listener, "_thread", None) is not None:
        listener.stop()


def log_fields(**fields: Any) -> dict[str, Any]:
    """``logger.info("msg", extra=log_fields(a=1))`` puts a=1 into the JSON line."""
    return {"fields": fields}


def _exit_after_graceful_shutdown(signum: int, _frame: object) -> None:
    raise SystemExit(0)


OWNER_FD_ENV = "REALTIME_QA_OWNER_FD"


def _exit_when_owner_is_gone() -> None:
    """Shut down (SIGTERM to ourselves) when the pipe from the process that started us closes.

    The owner keeps the only write end and never writes, so end-of-file means it exited,
    however it died. Without the variable (a human, a container) nothing is watched.
    """
    raw = os.environ.get(OWNER_FD_ENV, "").strip()
    if not raw.isdigit():
        return
    fd = int(raw)

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 64):
                pass
        logging.getLogger("service").warning("the process that started this service is gone; shutting down")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="owner-watch", daemon=True).start()


def serve(app: Any, *, host: str, port: int, ws_max_size: int = 16 * 1024 * 1024) -> None:
    """Run an ASGI app with uvicorn until SIGINT/SIGTERM (or its owner's exit), using our logging setup."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        ws_max_size=ws_max_size,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, restores the handlers it found, then
    # re-raises the signal. With the default handlers that kills the process before atexit
    # flushes the log queue (the last lines, "shutdown complete" among them, were lost);
    # with these, the re-raised signal becomes a clean exit 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_after_graceful_shutdown)
    _exit_when_owner_is_gone()
    server.run()
    if not server.started:
        # uvicorn already logged why (usually: port taken); say it plainly too.
        raise SystemExit(f"could not start on {host}:{port} (is the port already taken?)")
