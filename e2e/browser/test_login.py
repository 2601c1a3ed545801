"""Logging in as a user does, in a real Chromium (the second seed's 问题 1 and its test account)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from fixtures.profile import TargetProfile
from fixtures.target_setup import Target

pytestmark = pytest.mark.seed_class("auth", story="login in the browser")
CONNECT_MS = 15_000


async def fill_login(page: Page, profile: TargetProfile, email: str, password: str) -> None:
    await page.goto(profile.ui.login_path)
    await page.get_by_label(profile.ui.email_label).fill(email)
    await page.get_by_label(profile.ui.password_label).fill(password)
    await page.get_by_role("button", name=profile.ui.login_button, exact=True).click()


async def test_the_test_account_logs_in_and_the_token_survives_a_reload(
    page: Page, target: Target, profile: TargetProfile
) -> None:
    await fill_login(page, profile, target.email, target.password)
    await page.wait_for_url(f"**{profile.ui.voice_path}", timeout=CONNECT_MS)
    await page.goto(profile.ui.voice_path)
    status = page.get_by_text(profile.ui.connected, exact=True)
    await expect(status).to_be_visible(timeout=CONNECT_MS)
    await page.reload()
    await expect(status).to_be_visible(timeout=CONNECT_MS)
    await expect(page.get_by_text(profile.ui.login_required)).to_have_count(0)


async def test_a_wrong_password_shows_an_error_and_stores_nothing(
    page: Page, target: Target, profile: TargetProfile
) -> None:
    await fill_login(page, profile, target.email, target.password + "-not-it")
    alert = page.get_by_role("alert").filter(has_text=re.compile(r"\S"))
    await expect(alert.first).to_be_visible(timeout=CONNECT_MS)
    key = profile.ui.token_storage_key
    assert await page.evaluate(f"window.localStorage.getItem({key!r})") is None, "a failed login stored a token"
    await page.goto(profile.ui.voice_path)
    await expect(page.get_by_text(profile.ui.login_required)).to_be_visible(timeout=CONNECT_MS)
    # a successful login resets the failed-login count, so the next run is not locked out
    await fill_login(page, profile, target.email, target.password)
    await page.wait_for_url(f"**{profile.ui.voice_path}", timeout=CONNECT_MS)
