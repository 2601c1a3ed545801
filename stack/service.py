"""What the three reference services share: settings from the environment, logging, serving.

Logging goes through a ``QueueHandler``: the event loop only enqueues a record and a
background thread formats and writes it. The seed's HTTP hang came from a synchronous
logger inside request middleware; with a queue, a slow or blocked stderr can never stall
a request. Every record passes a redaction filter so tokens and keys cannot leak.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import os
import queue
import re
import signal
import sys
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
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
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


def configure_logging(service: str, level: str | None = None, stream: Any = None) -> logging.handlers.QueueListener:
    """Route all logging (ours and uvicorn's) through a queue to a JSON writer thread."""
    level_name = (level or env_str("LOG_LEVEL", "info")).upper()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = logging.StreamHandler(stream or sys.stderr)
    writer.setFormatter(_JsonFormatter(service))
    listener = logging.handlers.QueueListener(records, writer, respect_handler_level=False)
    listener.start()
    atexit.register(_stop_listener, listener)

    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
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


def serve(app: Any, *, host: str, port: int, ws_max_size: int = 16 * 1024 * 1024) -> None:
    """Run an ASGI app with uvicorn until SIGINT/SIGTERM, using our logging setup."""
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
    server.run()
    if not server.started:
        # uvicorn already logged why (usually: port taken); say it plainly too.
        raise SystemExit(f"could not start on {host}:{port} (is the port already taken?)")
