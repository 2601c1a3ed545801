"""One scrubber for everything the harness writes: attachments, logs, summaries, console output.

It masks what looks like a credential (JWTs, ``Bearer`` values, ``api-key`` / ``password`` /
``secret`` / ``token`` assignments, ``?token=`` query values) and every literal secret the
run registered (the account's password, the API keys it set, the tokens it was issued),
so a secret with no recognisable shape is masked too. Playwright traces and HAR files
record tokens unmasked (playwright#35848); whatever is attached passes through here.
"""

from __future__ import annotations

import re
import threading
from typing import Any

__all__ = ["MASK", "register_secret", "scrub", "scrub_tree"]

MASK = "[REDACTED]"

_PATTERNS = [
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), "[REDACTED-JWT]"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1" + MASK),
    (re.compile(r"(?i)([?&]token=)[^&#\s\"']+"), r"\1" + MASK),
    (
        re.compile(
            r"(?i)((?:api[-_]?key|password|passwd|secret|token|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"
        ),
        r"\1" + MASK,
    ),
]
_SECRET_KEY = re.compile(r"(?i)(api[-_]?key|password|passwd|secret|token|authorization|cookie)")
_MIN_LITERAL = 6  # shorter values would mask ordinary words

_literals: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears from now on (idempotent)."""
    if value and len(value) >= _MIN_LITERAL:
        with _lock:
            _literals.add(value)


def scrub(text: str) -> str:
    """``text`` with every registered secret and every credential-shaped value masked."""
    with _lock:
        literals = sorted(_literals, key=len, reverse=True)
    for literal in literals:
        if literal in text:
            text = text.replace(literal, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_tree(value: Any) -> Any:
    """Scrub strings anywhere in a JSON-like structure; values under secret-looking keys entirely."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {
            key: MASK if isinstance(key, str) and _SECRET_KEY.search(key) and value[key] else scrub_tree(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [scrub_tree(item) for item in value]
    return value
