"""The engine pool: one slot per live session or realtime WebSocket, exact under concurrency.

All pool operations are synchronous and run on the event loop thread, so the check and the
insert in ``try_acquire`` can never interleave with another acquire: L simultaneous
requests against limit L get L slots, and L+k get L slots and k refusals. Releasing is
idempotent, so every exit path (disconnect, upstream failure, exception, cancellation,
idle reaper, operator clear, shutdown) may call it without double-freeing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

from stack.service import log_fields

log = logging.getLogger("app.pool")

SessionKind = Literal["live", "realtime"]

POOL_FULL_MESSAGE = "Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)"


class CloseCode(IntEnum):
    """WebSocket close codes the app uses (the README documents them)."""

    NORMAL = 1000
    GOING_AWAY = 1001  # app shutting down
    INTERNAL_ERROR = 1011  # upstream failure or server error, after an `error` event
    SESSION_CLEARED = 4000  # leave_room or clear_all_sessions freed this session's slot
    AUTH_FAILED = 4001  # missing, invalid or expired token
    POOL_FULL = 4002  # engine pool at its limit
    IDLE_TIMEOUT = 4008  # no traffic for SESSION_IDLE_TIMEOUT_S


# Why a slot was freed -> the close code a live realtime socket gets.
RELEASE_CLOSE_CODES: dict[str, CloseCode] = {
    "leave_room": CloseCode.SESSION_CLEARED,
    "clear_all_sessions": CloseCode.SESSION_CLEARED,
    "idle_timeout": CloseCode.IDLE_TIMEOUT,
    "shutdown": CloseCode.GOING_AWAY,
}

Evictor = Callable[[CloseCode, str], None]


@dataclass
class EngineSession:
    live_id: str
    kind: SessionKind
    user: str
    created_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)
    _last_active_mono: float = field(default_factory=time.monotonic, repr=False)
    # Set by the realtime relay: closes the socket when the slot is freed from outside.
    evictor: Evictor | None = field(default=None, repr=False)

    def touch(self) -> None:
        self.last_active_at = time.time()
        self._last_active_mono = time.monotonic()

    def idle_for(self, now_mono: float) -> float:
        return now_mono - self._last_active_mono

    def public(self) -> dict[str, object]:
        return {
            "live_id": self.live_id,
            "kind": self.kind,
            "user": self.user,
            "created_at": _iso(self.created_at),
            "last_active_at": _iso(self.last_active_at),
        }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


class EnginePool:
    def __init__(self, limit: int, on_release: Callable[[str, SessionKind], None] | None = None) -> None:
        self.limit = limit
        self._sessions: dict[str, EngineSession] = {}
        self.on_release = on_release

    def __len__(self) -> int:
        return len(self._sessions)

    def active_by_kind(self) -> dict[str, int]:
        counts = {"live": 0, "realtime": 0}
        for session in self._sessions.values():
            counts[session.kind] += 1
        return counts

    def sessions(self) -> list[EngineSession]:
        return sorted(self._sessions.values(), key=lambda s: s.created_at)

    def get(self, live_id: str) -> EngineSession | None:
        return self._sessions.get(live_id)

    def try_acquire(self, kind: SessionKind, user: str) -> EngineSession | None:
        """A new session holding one slot, or None when the pool is full. Never awaits."""
        if len(self._sessions) >= self.limit:
            log.warning(
                "engine pool full",
                extra=log_fields(kind=kind, user=user, active=len(self._sessions), limit=self.limit),
            )
            return None
        session = EngineSession(live_id=f"live_{uuid.uuid4().hex}", kind=kind, user=user)
        self._sessions[session.live_id] = session
        log.info(
            "engine slot acquired",
            extra=log_fields(live_id=session.live_id, kind=kind, user=user, active=len(self._sessions)),
        )
        return session

    def release(self, live_id: str, reason: str) -> EngineSession | None:
        """Free a slot (idempotent, never awaits). Sessions freed from outside their socket get evicted.

        None when nothing was freed (unknown id, or another release came first): a caller that
        tells someone "freed" must check, as leave_room does.
        """
        session = self._sessions.pop(live_id, None)
        if session is None:
            return None
        log.info(
            "engine slot released",
            extra=log_fields(live_id=live_id, kind=session.kind, reason=reason, active=len(self._sessions)),
        )
        if self.on_release is not None:
            self.on_release(reason, session.kind)
        code = RELEASE_CLOSE_CODES.get(reason)
        if code is not None and session.evictor is not None:
            session.evictor(code, reason)
        return session

    def clear(self, reason: str) -> int:
        ids = list(self._sessions)
        return sum(1 for live_id in ids if self.release(live_id, reason) is not None)

    def reap_idle(self, idle_timeout_s: float) -> int:
        now = time.monotonic()
        stale = [s.live_id for s in self._sessions.values() if s.idle_for(now) > idle_timeout_s]
        return sum(1 for live_id in stale if self.release(live_id, "idle_timeout") is not None)
