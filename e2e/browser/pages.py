"""What the browser tests read off a page the way a user would, plus the instrumentation's readings."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from playwright.async_api import BrowserContext, Locator, Page, expect

from fixtures.browser_plugin import logged_in
from fixtures.profile import TargetProfile
from fixtures.target_setup import Target

CONNECT_MS = 15_000
SHORT_MS = 5_000


def status(page: Page, text: str) -> Locator:
    """One of the seeds' status strings, exactly as a user reads it."""
    return page.get_by_text(text, exact=True)


def record_button(page: Page, profile: TargetProfile, recording: bool = False) -> Locator:
    if profile.ui.selectors.record_button:
        return page.locator(profile.ui.selectors.record_button)
    name = profile.ui.stop_recording if recording else profile.ui.start_recording
    return page.get_by_role("button", name=name, exact=True)


async def voice_page(context: BrowserContext, target: Target, token: str | None = None) -> Page:
    """The voice page, logged in (with the run's token unless another is given), connected."""
    await logged_in(context, target, token)
    page = await context.new_page()
    await page.goto(target.profile.ui.voice_path)
    return page


async def connected_voice_page(context: BrowserContext, target: Target) -> Page:
    page = await voice_page(context, target)
    await expect(status(page, target.profile.ui.connected)).to_be_visible(timeout=CONNECT_MS)
    return page


async def readings(page: Page) -> dict[str, Any]:
    """What the instrumentation saw: getUserMedia calls and tracks, sound at the speakers, marks."""
    return await page.evaluate(
        """() => ({gumCalls: __rqa.gumCalls, gumErrors: __rqa.gumErrors, liveTracks: __rqa.liveAudioTracks(),
                   outputActiveMs: __rqa.outputActiveMs, outputFirstAt: __rqa.outputFirstAt,
                   outputRms: __rqa.outputRms, mediaPlaying: __rqa.mediaPlaying, marks: __rqa.marks})"""
    )


async def canvas_frames(page: Page, selector: str, samples: int = 12, every_s: float = 0.1) -> set[str]:
    """Digests of the canvas's pixels over time: a frozen drawing gives one."""
    digests = set()
    canvas = page.locator(selector)
    for _ in range(samples):
        data = await canvas.evaluate("c => c.toDataURL()")
        digests.add(hashlib.sha256(data.encode()).hexdigest())
        await asyncio.sleep(every_s)
    return digests


async def wait_for_reading(page: Page, expression: str, what: str, timeout_s: float) -> Any:
    """Poll ``expression`` in the page until truthy; fail naming ``what`` and the last readings."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s:.0f} s for {what}; the page's readings: {await readings(page)}")
        await asyncio.sleep(0.1)
