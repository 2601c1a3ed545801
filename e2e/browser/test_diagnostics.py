"""The seeds' diagnostics pages (/test-realtime.html, /test-connection-fixed.html) as a user runs them.

The second seed tells a user to open the test page, which checks health, login and the
WebSocket in turn; each check must pass on a healthy deployment and the health check must
say it failed when the app is down.
"""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Locator, Page, expect

from e2e.browser.pages import CONNECT_MS
from fixtures.profile import DEFAULT_PROFILE, TargetProfile
from fixtures.target_setup import Target

pytestmark = pytest.mark.seed_class("timeout", story="the diagnostics pages")
CHECKS = ("健康检查", "登录", "WebSocket")  # the seed's three checks, as each page names them


async def run_checks(page: Page, path: str, target: Target, profile: TargetProfile) -> None:
    await page.goto(path)
    await page.get_by_label(profile.ui.email_label).fill(target.email)
    password = page.get_by_label(profile.ui.password_label)
    await password.fill(target.password)
    await password.press("Enter")


def check_row(page: Page, name: str, mark: str) -> Locator:
    """The list item of check ``name`` showing ``mark`` (✅ or ❌); the page's other lists carry no marks."""
    return page.get_by_role("listitem").filter(has_text=name).filter(has_text=mark)


@pytest.mark.parametrize("path", DEFAULT_PROFILE.ui.diagnostics_paths)
async def test_every_check_passes_on_a_healthy_deployment(
    page: Page, target: Target, profile: TargetProfile, path: str
) -> None:
    if path not in profile.ui.diagnostics_paths:
        pytest.skip(f"the profile does not list {path}")
    await run_checks(page, path, target, profile)
    for name in CHECKS:
        await expect(check_row(page, name, "✅").first).to_be_visible(timeout=CONNECT_MS)
    await expect(page.get_by_text("❌")).to_have_count(0)


@pytest.mark.needs_faults
@pytest.mark.parametrize("path", DEFAULT_PROFILE.ui.diagnostics_paths)
async def test_the_health_check_fails_when_the_app_is_down(
    page: Page, target: Target, profile: TargetProfile, path: str
) -> None:
    if not target.stack.supports_faults:
        pytest.skip(f"stopping the app needs a stack the harness runs; the target is {target.stack.mode}")
    target.stack.kill("app")
    try:
        await run_checks(page, path, target, profile)
        await expect(check_row(page, CHECKS[0], "❌").first).to_be_visible(timeout=CONNECT_MS)
    finally:
        await asyncio.to_thread(target.stack.restart, "app")
