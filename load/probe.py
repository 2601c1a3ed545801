"""The 4002 probe: find the engine pool's limit exactly, then prove it from outside.

Realtime sessions are opened and held in batches that double (1, 2, 4, ... up to
``batch_cap``) until the deployment refuses one, so the ramp is fast and the last step is
exact: the limit is the number of sessions held when the first refusal came, whatever the
timing. Then the proof: that many sessions are listed; one more is refused with an
``error`` event carrying the seed's code and text and then close 4002; closing one frees a
slot a new session can take; after everything closes, ``/api/sessions`` is back to what it
was before (anything else is a leak). Each check is one entry of the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from fixtures.polling import WaitTimeout, wait_until
from fixtures.profile import TargetProfile
from fixtures.realtime_client import RealtimeClient, RealtimeTimeout

__all__ = ["ProbeResult", "raise_open_files_limit", "run_probe"]


def raise_open_files_limit() -> None:
    """Hundreds of sockets need more descriptors than a default soft limit of 1024 allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@dataclass
class ProbeResult:
    limit: int | None = None
    refused_code: str | None = None
    refused_message: str | None = None
    refused_close_code: int | None = None
    listed_when_full: int | None = None
    slot_reuse_ok: bool = False
    leaked_sessions: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(self.checks.values())

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class _Attempt:
    outcome: str  # "held", "refused", "failed"
    client: RealtimeClient | None = None
    code: str | None = None
    message: str | None = None
    detail: str = ""


class _Probe:
    def __init__(
        self, api_url: str, ws_url: str, token: str, profile: TargetProfile, origin: str | None,
        say: Callable[[str], None],
    ) -> None:  # fmt: skip
        self.api_url = api_url.rstrip("/")
        self.ws_url = ws_url
        self.token = token
        self.profile = profile
        self.origin = origin
        self.say = say
        self.held: list[RealtimeClient] = []

    async def sessions(self, http: httpx.AsyncClient) -> set[str]:
        response = await http.get(self.profile.paths.sessions)
        response.raise_for_status()
        return {str(s.get("live_id")) for s in response.json().get("sessions", [])}

    async def attempt(self) -> _Attempt:
        try:
            client = await RealtimeClient.connect(self.ws_url, self.token, origin=self.origin, log_size=16)
        except Exception as exc:
            return _Attempt("failed", detail=f"{type(exc).__name__}: {exc}")
        try:
            first = await client.wait_for(["session.created", "error"], timeout_s=20)
        except RealtimeTimeout as exc:
            await client.close()
            return _Attempt("failed", client, detail=str(exc).splitlines()[0])
        if first["type"] == "session.created":
            return _Attempt("held", client)
        error = first.get("error") or {}
        return _Attempt("refused", client, str(error.get("code")), error.get("message"))

    async def ramp(self, max_sessions: int, batch_cap: int) -> _Attempt | None:
        """Hold sessions in doubling batches until one is refused; the first refusal, or None."""
        size = 1
        while len(self.held) <= max_sessions:
            n = min(size, max_sessions + 1 - len(self.held))
            attempts = await asyncio.gather(*(self.attempt() for _ in range(n)))
            self.held += [a.client for a in attempts if a.outcome == "held" and a.client]
            refused = next((a for a in attempts if a.outcome == "refused"), None)
            failed = next((a for a in attempts if a.outcome == "failed"), None)
            for extra in attempts:
                if extra.outcome != "held" and extra.client is not None:
                    await extra.client.close()
            self.say(f"probe: {len(self.held)} sessions held")
            if refused is not None:
                return refused
            if failed is not None:
                raise RuntimeError(f"a session neither opened nor was refused: {failed.detail}")
            size = min(size * 2, batch_cap)
        return None

    async def close_all(self) -> None:
        await asyncio.gather(*(c.close() for c in self.held), return_exceptions=True)
        self.held.clear()

    async def wait_listed(
        self, http: httpx.AsyncClient, accept: Callable[[set[str]], bool], timeout_s: float
    ) -> set[str]:
        """The listed ids once ``accept`` holds, or as they are when the bound runs out (a check then fails)."""
        with contextlib.suppress(WaitTimeout):
            return await wait_until(lambda: self.sessions(http), "the listed sessions", timeout_s=timeout_s,
                                    interval_s=0.1, accept=accept)  # fmt: skip
        return await self.sessions(http)


async def run_probe(
    api_url: str,
    ws_url: str,
    token: str,
    profile: TargetProfile,
    *,
    max_sessions: int | None = None,
    batch_cap: int = 64,
    origin: str | None = None,
    say: Callable[[str], None] = print,
) -> ProbeResult:
    """Find the limit and prove it; the result says what held and what did not."""
    result = ProbeResult()
    probe = _Probe(api_url, ws_url, token, profile, origin, say)
    bound = max_sessions or profile.pool.max_sessions
    release_s = max(profile.slo.slot_release_s, 5.0)
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=probe.api_url, headers=headers, timeout=15) as http:
        before = await probe.sessions(http)
        if before:
            result.notes.append(
                f"{len(before)} session(s) were already held before the probe; they count against the pool"
            )
        try:
            refusal = await probe.ramp(bound, batch_cap)
            result.timings["ramp_s"] = round(time.monotonic() - started, 3)
            if refusal is None:
                result.checks["refused_within_max_sessions"] = False
                result.notes.append(f"no refusal with {len(probe.held)} sessions held (max_sessions={bound})")
                return result
            result.limit = len(probe.held) + len(before)
            result.refused_code, result.refused_message = refusal.code, refusal.message
            proved = time.monotonic()
            listed = await probe.wait_listed(http, lambda ids: len(ids) >= result.limit, release_s)  # type: ignore[arg-type,operator]
            result.listed_when_full = len(listed)
            result.checks["limit_sessions_listed"] = len(listed) == result.limit
            extra = await probe.attempt()
            if extra.client is not None:
                with contextlib.suppress(RealtimeTimeout):
                    result.refused_close_code = await extra.client.wait_closed(timeout_s=10)
            result.checks["one_more_is_refused_with_4002"] = (
                extra.outcome == "refused"
                and str(extra.code) == str(profile.pool.refused_code)
                and result.refused_close_code == profile.close_codes.pool_full
            )
            result.checks["refusal_carries_the_seed_text"] = extra.message == profile.pool.refused_message
            freed = probe.held.pop()
            await freed.close()
            await probe.wait_listed(http, lambda ids: len(ids) < result.limit, release_s)  # type: ignore[arg-type,operator]
            reuse = await probe.attempt()
            result.slot_reuse_ok = reuse.outcome == "held"
            result.checks["a_freed_slot_is_reusable"] = result.slot_reuse_ok
            if reuse.client is not None:
                probe.held.append(reuse.client)
            result.timings["prove_s"] = round(time.monotonic() - proved, 3)
        finally:
            cleaning = time.monotonic()
            await probe.close_all()
            after = await probe.wait_listed(http, lambda ids: ids <= before, release_s)
            result.leaked_sessions = sorted(after - before)
            result.checks["no_session_left_behind"] = not result.leaked_sessions
            result.timings["cleanup_s"] = round(time.monotonic() - cleaning, 3)
            result.timings["total_s"] = round(time.monotonic() - started, 3)
    return result
