"""One scrubber for everything the harness writes: attachments, logs, summaries, console output.

It masks what looks like a credential (JWTs, ``Bearer``/``Basic`` values, ``sk-`` API keys,
``api-key`` / ``password`` / ``secret`` / ``token`` assignments, ``Cookie`` headers, token-like
query values) and every literal secret the run registered (the account's password, the API
keys it set, the tokens it was issued) in the encodings it travels in (as is, URL-encoded,
JSON-escaped), so a secret with no recognisable shape is masked too. Playwright traces and
HAR files record tokens unmasked (playwright#35848); whatever is attached passes through here.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "register_secret", "scrub", "scrub_tree", "secret_forms"]

MASK = "[REDACTED]"

# Values stop at a quote even when it is escaped (JSON inside a JSON string: \"password\": \"x\"),
# so the escape survives and the document stays valid; other backslashes belong to the value.
_VALUE = r"(?:\\[^\"']|[^\s\"'&,;}\\])+"
_QUOTE = r"\\?[\"']?"
_PATTERNS = [
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), "[REDACTED-JWT]"),
    (re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{16,}"), "[REDACTED-KEY]"),
    (re.compile(r"(?i)\b((?:bearer|basic)\s+)[^\s\"',;\\]+"), r"\1" + MASK),
    (
        re.compile(r"(?i)([?&](?:[a-z_]*token|api[-_]?key|key|sig|signature|password|secret)=)[^&#\s\"'\\]+"),
        r"\1" + MASK,
    ),
    # A Cookie header's value runs to the end of the line or quote: every cookie in it goes.
    (
        re.compile(r"(?i)(\b(?:set-)?cookie" + _QUOTE + r"\s*[:=]\s*" + _QUOTE + r")(?:\\[^\"']|[^\"'\r\n\\])+"),
        r"\1" + MASK,
    ),
    (
        re.compile(
            r"(?i)((?:api[-_]?key|access[-_]?key|secret[-_]?key|password|passwd|secret|token|authorization)"
            + _QUOTE
            + r"\s*[:=]\s*"
            + _QUOTE
            + ")"
            + _VALUE
        ),
        r"\1" + MASK,
    ),
]
# Keys whose values are secrets; token *counts* (``max_tokens``, ``input_token_details``) are not.
_SECRET_KEY = re.compile(r"(?i)(api[-_]?key|password|passwd|secret|token(?!s|_details|_count)|authorization|cookie)")
_MIN_LITERAL = 6  # shorter values would mask ordinary words

_literals: set[str] = set()
_lock = threading.Lock()


def secret_forms(value: str) -> set[str]:
    """The spellings ``value`` takes on its way into a file: raw, URL-encoded, JSON-escaped."""
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }
    return {form for form in forms if len(form) >= _MIN_LITERAL}


def register_secret(value: str | None) -> None:
    """Mask this exact value (and its encoded spellings) wherever it appears from now on (idempotent)."""
    if value and len(value) >= _MIN_LITERAL:
        with _lock:
            _literals.update(secret_forms(value))


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
