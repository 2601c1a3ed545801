"""What a user sees when the connection breaks: the seeds' banners, backoff, timeouts and 4002.

Where the harness runs the stack it breaks the stack itself (kills, restarts, pauses the
app); against an external deployment it breaks the page's own socket with Playwright's
WebSocket routing, so reconnect behaviour is qualified on any deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import statistics
import time
from collections.abc import Coroutine
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, WebSocketRoute, expect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from e2e.browser.pages import CONNECT_MS, connected_voice_page, status, voice_page
from fixtures.browser import Watch
from fixtures.polling import wait_until_sync
from fixtures.profile import TargetProfile
from fixtures.session_ledger import SessionLedger
from fixtures.target_setup import Target

ATTEMPTS = 12  # reconnect attempts to watch: enough to see the backoff grow, and its jitter
MAX_OUTAGE_S = 120.0  # however slow the deployment's backoff (or a starved CI machine), the outage ends here


class SocketGate:
    """The page's realtime sockets relayed by the harness, so it can drop and refuse them.

    Playwright's routing opens the page's socket to us; we open the real one to the
    deployment (same URL and Origin) and pass frames both ways. Dropping closes both (the
    deployment sees a real disconnect, so no slot is left behind); while shut, new sockets
    are refused at once. Every attempt is timed: routed sockets are not reported as page
    "websocket" events.
    """

    def __init__(self, ws_url: str, origin: str | None) -> None:
        self.pattern = ws_url.split("?")[0] + "**"
        self.origin = origin
        self.shut = False
        self.attempts: list[float] = []
        self.links: list[tuple[WebSocketRoute, ClientConnection]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def install(self, page: Page) -> None:
        await page.route_web_socket(self.pattern, self._route)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _route(self, page_side: WebSocketRoute) -> None:
        self.attempts.append(time.monotonic())
        if self.shut:
            self._spawn(page_side.close(code=1012, reason="refused by the test"))
            return
        self._spawn(self._relay(page_side))

    async def _relay(self, page_side: WebSocketRoute) -> None:
        early: list[str | bytes] = []
        upstream: ClientConnection | None = None

        def from_page(message: str | bytes) -> None:
            if upstream is None:
                early.append(message)
            else:
                self._spawn(upstream.send(message))

        page_side.on_message(from_page)
        page_side.on_close(lambda code, reason: self._spawn(upstream.close()) if upstream else None)
        try:
            upstream = await connect(page_side.url, origin=self.origin, open_timeout=10, max_size=None)  # type: ignore[arg-type]
        except (OSError, InvalidHandshake, TimeoutError):
            await page_side.close(code=1011, reason="the deployment did not answer")
            return
        self.links.append((page_side, upstream))
        for message in early:
            await upstream.send(message)
        with contextlib.suppress(ConnectionClosed):
            async for message in upstream:
                page_side.send(message)
        with contextlib.suppress(Exception):
            code = upstream.close_code or 1011
            await page_side.close(code=code if code != 1006 else 1011, reason=upstream.close_reason or "")

    async def drop_all(self) -> None:
        self.shut = True
        for page_side, upstream in self.links:
            await upstream.close()
            with contextlib.suppress(Exception):
                await page_side.close(code=1012, reason="dropped by the test")
        self.links.clear()


def gaps(opened_at: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(opened_at)]


def assert_backoff_with_jitter(attempt_gaps: list[float]) -> None:
    """The gaps between reconnect attempts grow (exponential backoff) and vary (jitter).

    Growth: the longest late gap clearly exceeds the first two. Jitter: the last six gaps
    (at or near the backoff's cap) are not all alike, which a fixed series would make them.
    For full jitter with 12 attempts either check fails by chance about once in 20,000 runs.
    """
    shown = [round(g, 2) for g in attempt_gaps]
    assert len(attempt_gaps) >= ATTEMPTS - 1, (
        f"only {len(attempt_gaps) + 1} reconnect attempts in {MAX_OUTAGE_S:.0f} s: {shown} s"
    )
    early, late = max(attempt_gaps[:2]), max(attempt_gaps[3:])
    assert late >= 1.5 * early, f"the reconnect gaps do not grow (no backoff): {shown} s"
    plateau = attempt_gaps[-6:]
    spread = statistics.pstdev(plateau) / statistics.mean(plateau)
    assert spread > 0.05, f"the reconnect gaps follow a fixed series (no jitter, spread {spread:.3f}): {shown} s"


@pytest.mark.seed_class("timeout", story="the connection dropped mid-session")
async def test_a_dropped_connection_shows_the_banner_backs_off_and_recovers(
    context: BrowserContext, target: Target, profile: TargetProfile, watch: Watch, ledger: SessionLedger
) -> None:
    gate = SocketGate(target.stack.ws_url, target.origin)
    if target.stack.supports_faults:
        page = await connected_voice_page(context, target)
        target.stack.kill("app")
    else:
        page = await voice_page(context, target)
        await gate.install(page)
        await page.reload()
        await expect(status(page, profile.ui.connected)).to_be_visible(timeout=CONNECT_MS)
        await gate.drop_all()
    opened = gate.attempts if gate.shut else watch.socket_opened_at
    opened_before = len(opened)
    try:
        await expect(status(page, profile.ui.reconnecting)).to_be_visible(timeout=CONNECT_MS)
        ends = time.monotonic() + MAX_OUTAGE_S
        while len(opened) - opened_before < ATTEMPTS and time.monotonic() < ends:  # noqa: ASYNC110 - counted by callbacks
            await asyncio.sleep(0.2)
    finally:
        if target.stack.supports_faults:
            await asyncio.to_thread(target.stack.restart, "app")
        gate.shut = False
    attempts = opened[opened_before - 1 :]  # from the socket that dropped
    await expect(status(page, profile.ui.connected)).to_be_visible(timeout=30_000)
    assert_backoff_with_jitter(gaps(attempts[1:]))
    listed = await asyncio.to_thread(
        wait_until_sync,
        lambda: ledger.ids() or set(),
        "only the reconnected page's session to be held",
        timeout_s=profile.slo.slot_release_s,
        accept=lambda ids: len(ids) == 1,
    )
    assert len(listed) == 1


@pytest.mark.seed_class("timeout", story="a socket that never opens")
async def test_a_socket_that_never_opens_shows_the_connect_timeout(
    context: BrowserContext, target: Target, profile: TargetProfile
) -> None:
    if target.stack.supports_faults:
        target.stack.pause("app")  # the kernel still accepts the TCP connection; nobody answers
        try:
            page = await voice_page(context, target)
            await expect(status(page, profile.ui.connect_timeout)).to_be_visible(timeout=CONNECT_MS * 2)
        finally:
            target.stack.unpause("app")
    else:
        # The browser's side of an unanswered handshake: a routed socket that opens and never
        # speaks (no session.created), so the page's own connect timeout has to fire.
        page = await context.new_page()
        await page.route_web_socket(target.stack.ws_url.split("?")[0] + "**", lambda ws: None)
        await voice_page_goto(page, target)
        await expect(status(page, profile.ui.connect_timeout)).to_be_visible(timeout=CONNECT_MS * 2)
        await page.unroute_all()
        page = await voice_page(context, target)
    await expect(status(page, profile.ui.connected)).to_be_visible(timeout=30_000)


async def voice_page_goto(page: Page, target: Target) -> None:
    key = target.profile.ui.token_storage_key
    await page.goto(target.profile.ui.login_path)
    await page.evaluate("([k, t]) => localStorage.setItem(k, t)", [key, target.token])
    await page.goto(target.profile.ui.voice_path)


@pytest.mark.seed_class("concurrency", story="4002 in the browser")
async def test_a_full_pool_shows_4002_to_the_second_page_until_the_first_leaves(
    new_context, target: Target, profile: TargetProfile, pool_limit: int, ledger: SessionLedger
) -> None:
    """Pool limit 1 for two pages: the second is refused with the seed's text, the first keeps working."""
    headers = {"Authorization": f"Bearer {target.token}"}
    taken: list[str] = []
    async with httpx.AsyncClient(base_url=target.stack.app_url, headers=headers, timeout=10) as http:
        try:
            for _ in range(pool_limit - 1 - len(ledger.ids() or ())):
                response = await http.post(profile.paths.start_live, json={})
                assert response.status_code == 200, f"filling the pool: {response.status_code} {response.text}"
                taken.append(response.json()["live_id"])
            first_context, second_context = await new_context(), await new_context()
            first = await connected_voice_page(first_context, target)
            second = await voice_page(second_context, target)
            await expect(second.get_by_text(profile.pool.refused_message)).to_be_visible(timeout=CONNECT_MS)
            await expect(status(first, profile.ui.connected)).to_be_visible()
            await first.close()
            await expect(status(second, profile.ui.connected)).to_be_visible(timeout=30_000)
        finally:
            for live_id in taken:
                await http.delete(profile.paths.leave_room.format(live_id=live_id))
