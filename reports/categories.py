"""The seeds' failure classes: one table for categories.json, the console summary and summary.html.

Each class names the field report and the section it comes from and that section's remedy,
so a failed qualification says what the seeds say to do about it. Order matters: the first
class that matches wins (``classify``), so the most specific comes first — a 4002 close is
a concurrency failure before it is a WebSocket one, ``_ssl.c:1006`` is SSL, not close code
1006, a microphone test that timed out is a microphone failure.

Patterns use only what Python's ``re`` and Java's ``Pattern`` read alike (alternation,
classes, ``\\b``, ``\\A``, lookahead), searched case-insensitively: the same text is what
Allure (Java, full match, DOTALL) applies to ``statusMessage`` / ``statusTrace``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CLASSES", "SeedClass", "allure_categories", "by_id", "classify"]

HIAGENT = "HiAgent RTC 项目错误处理说明"
GPT_REALTIME = "GPT Realtime WebRTC 故障排除指南"


def _error_line(alternatives: str) -> str:
    """A pytest ``E   ...`` line of the trace (any exception of the chain), not the test's source."""
    return r"(?:\A|\n)E[ \t][^\n]*(?:" + alternatives + ")"


@dataclass(frozen=True)
class SeedClass:
    """One failure class of a seed: how to recognise it and what the seed says to do."""

    id: str
    title: str
    seed: str
    section: str
    remedy: str  # the first clause (up to "; ") is the short form used in category names
    message_regex: str
    trace_regex: str
    _message: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _trace: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_message", re.compile(self.message_regex, re.IGNORECASE | re.DOTALL))
        object.__setattr__(self, "_trace", re.compile(self.trace_regex, re.IGNORECASE | re.DOTALL))

    @property
    def short_remedy(self) -> str:
        return self.remedy.split("; ", 1)[0]

    @property
    def category_name(self) -> str:
        return f"{self.title} — {self.short_remedy}"

    def matches(self, message: str | None, trace: str | None) -> bool:
        return bool((message and self._message.search(message)) or (trace and self._trace.search(trace)))


CLASSES: tuple[SeedClass, ...] = (
    SeedClass(
        id="concurrency",
        title="4002 concurrency over limit",
        seed=HIAGENT,
        section="1. 并发限制错误",
        remedy=(
            "clear stale sessions (POST /api/digital_human_develop/clear_all_sessions) and restart the service; "
            "or list them (GET /api/sessions) and free each one "
            "(DELETE /api/digital_human_develop/leave_room/{live_id}); "
            "add a session timeout so a vanished client frees its engine slot"
        ),
        message_regex=(
            r"\b4002\b|concurrency over limit|failed to load or create engine"
            r"|(?:session|slot)s?\b[^\n]{0,60}(?:leak|left behind)"
            r"|(?:leak(?:s|ed|ing)?|left behind)\b[^\n]{0,60}\b(?:session|slot)"
        ),
        trace_regex=_error_line(r"concurrency over limit|\b4002\b"),
    ),
    SeedClass(
        id="auth",
        title="Authentication failed",
        seed=GPT_REALTIME,
        section='问题 1: "请先登录后再使用语音功能" / 问题 3: "认证失败，请重新登录"',
        remedy=(
            "log in again with the test account (betty@123.com) after clearing the browser's localStorage; "
            "check the backend's JWT_SECRET and the token expiry (an expired or foreign token closes with 4001)"
        ),
        message_regex=(
            r"\b(?:401|403|4001)\b|unauthori[sz]ed|forbidden|认证失败|请先登录|请重新登录"
            r"|bad ?credentials|invalid credentials|invalid token|token (?:is )?(?:expired|invalid)|login failed"
        ),
        trace_regex=_error_line(r"BadCredentials|\b(?:401|403|4001)\b|unauthori[sz]ed"),
    ),
    SeedClass(
        id="microphone",
        title="Microphone not granted",
        seed=GPT_REALTIME,
        section="问题 4: 麦克风权限问题",
        remedy=(
            "allow the microphone in the browser (the address-bar microphone icon, or the site settings); "
            "serve the page over HTTPS or from localhost, the only origins where getUserMedia is offered"
        ),
        message_regex=r"getUserMedia|NotAllowedError|NotReadableError|麦克风|microphone|开始录音",
        trace_regex=_error_line(r"getUserMedia|NotAllowedError|NotReadableError"),
    ),
    SeedClass(
        id="ssl",
        title="SSL module broken",
        seed=HIAGENT,
        section="3. SSL 模块错误",
        remedy=(
            "recreate the virtual environment from a Python whose ssl module imports (python -m venv); "
            "reinstall OpenSSL (conda install -c conda-forge openssl) if the environment is conda"
        ),
        message_regex=r"\bssl|_ssl|CERTIFICATE_VERIFY_FAILED|certificate verify failed|DLL load failed",
        trace_regex=_error_line(r"SSLError|SSLCertVerificationError|_ssl|DLL load failed"),
    ),
    SeedClass(
        id="websocket",
        title="WebSocket closed / crash",
        seed=HIAGENT,
        section="2. WebSocket 连接错误",
        remedy=(
            "check connection state the websockets>=14 way (connection.state, ConnectionClosed.rcvd), "
            "never .closed; keep the relay alive when a client vanishes (catch ConnectionClosed, free the slot)"
        ),
        message_regex=(
            r"has no attribute 'closed'|ConnectionClosed|connection (?:was |is )?closed|closed the connection"
            r"|no close frame|websocket[^\n]{0,80}clos|\b10(?:06|11)\b"
        ),
        trace_regex=_error_line(r"ConnectionClosed|has no attribute 'closed'|InvalidState"),
    ),
    SeedClass(
        id="timeout",
        title="Timeout / hang",
        seed=GPT_REALTIME,
        section='最新更新：连接问题已解决 (2025-12-28) / 问题 2: "连接超时，请检查网络连接"',
        remedy=(
            "look for blocking calls on the event loop (synchronous logging in middleware, "
            "a mutex deadlock between metrics collectors); "
            "check /health answers at once, then docker-compose ps and docker-compose restart"
        ),
        message_regex=(
            r"timed? ?out|\bwaited\b|deadline exceeded|\bp9[059]\b[^\n]*\b(?:over|above|exceeds?)\b"
            r"|\bhung\b|\bhangs?\b|deadlock|挂起|死锁|网络连接出现问题|连接超时"
        ),
        trace_regex=_error_line(r"timeout|timed out|deadlock"),
    ),
)


def by_id(class_id: str) -> SeedClass:
    for seed_class in CLASSES:
        if seed_class.id == class_id:
            return seed_class
    raise KeyError(f"unknown seed class {class_id!r}; choose from {[c.id for c in CLASSES]}")


def classify(message: str | None, trace: str | None = None) -> SeedClass | None:
    """The first class whose message pattern finds ``message`` or whose trace pattern finds ``trace``."""
    for seed_class in CLASSES:
        if seed_class.matches(message, trace):
            return seed_class
    return None


def allure_categories() -> list[dict[str, Any]]:
    """categories.json entries that sort failures exactly as ``classify`` does.

    Allure puts a result into *every* category that matches (full match, DOTALL), so each
    class excludes what the classes before it match, and has two entries of one name
    (one for the message, one for the trace): Allure merges same-named categories, and a
    category's message and trace patterns must both hold.
    """
    entries: list[dict[str, Any]] = []
    for index, seed_class in enumerate(CLASSES):
        earlier = CLASSES[:index]
        not_message = "(?!.*(?:" + "|".join(c.message_regex for c in earlier) + "))" if earlier else ""
        not_trace = "(?!.*(?:" + "|".join(c.trace_regex for c in earlier) + "))" if earlier else ""
        own_message = f"(?is){not_message}.*(?:{seed_class.message_regex}).*"
        own_trace = f"(?is){not_trace}.*(?:{seed_class.trace_regex}).*"
        base = {"name": seed_class.category_name, "matchedStatuses": ["failed", "broken"]}
        by_message = {**base, "messageRegex": own_message}
        by_trace = {**base, "traceRegex": own_trace}
        if earlier:
            by_message["traceRegex"] = f"(?is){not_trace}.*"
            by_trace["messageRegex"] = f"(?is){not_message}.*"
        entries += [by_message, by_trace]
    return entries
