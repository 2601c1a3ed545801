"""The voice page as a person uses it: the seeds' statuses, the microphone, the waveform, the answer."""

from __future__ import annotations

import asyncio

import allure
import jwt
import pytest
from playwright.async_api import BrowserContext, Page, expect

from e2e.browser.pages import (
    CONNECT_MS,
    SHORT_MS,
    canvas_frames,
    connected_voice_page,
    readings,
    record_button,
    status,
    voice_page,
    wait_for_reading,
)
from fixtures.browser import Watch
from fixtures.profile import TargetProfile
from fixtures.session_ledger import SessionLedger
from fixtures.target import qualification_record
from fixtures.target_setup import Target

RECORD_S = 2.5  # of the looping prompt before 停止录音


@pytest.mark.seed_class("auth", story="no token")
async def test_without_a_token_the_page_asks_to_log_in_and_opens_no_socket(
    page: Page, profile: TargetProfile, watch: Watch
) -> None:
    await page.goto(profile.ui.voice_path)
    await expect(status(page, profile.ui.login_required)).to_be_visible(timeout=SHORT_MS)
    await asyncio.sleep(1.0)  # a page that connects anyway would have opened its socket by now
    assert watch.sockets == [], f"the page opened {len(watch.sockets)} WebSocket(s) without a token"


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return ".".join((head, payload, flipped + signature[1:]))


def _expired_foreign() -> str:
    """A well-formed JWT that expired long ago, signed by a key the deployment does not have."""
    return jwt.encode({"sub": "someone", "exp": 1}, "a-secret-the-deployment-does-not-have-xx", algorithm="HS256")


@pytest.mark.seed_class("auth", story="a bad token")
@pytest.mark.parametrize("kind", ["tampered", "expired"])
async def test_a_bad_token_shows_auth_failed_and_never_retries(
    context: BrowserContext, target: Target, profile: TargetProfile, watch: Watch, kind: str
) -> None:
    token = _tampered(target.token) if kind == "tampered" else _expired_foreign()
    page = await voice_page(context, target, token)
    await expect(status(page, profile.ui.auth_failed)).to_be_visible(timeout=CONNECT_MS)
    await asyncio.sleep(3.0)  # longer than the reconnect backoff's first steps
    assert len(watch.sockets) == 1, f"the page retried after 4001: {len(watch.sockets)} sockets"


@pytest.mark.seed_class("microphone", story="recording and the answer")
async def test_recording_moves_the_waveform_and_the_answer_is_heard(
    context: BrowserContext, target: Target, profile: TargetProfile, pytestconfig: pytest.Config
) -> None:
    """开始录音 → getUserMedia with a live track → a moving waveform → 已连接 → transcript → sound out."""
    page = await connected_voice_page(context, target)
    await record_button(page, profile).click()
    await expect(record_button(page, profile, recording=True)).to_be_visible(timeout=SHORT_MS)
    await wait_for_reading(page, "__rqa.gumCalls > 0", "the page to ask for the microphone (getUserMedia)", 5)
    assert (await readings(page))["liveTracks"] >= 1, "getUserMedia gave no live audio track"

    frames = await canvas_frames(page, profile.ui.selectors.waveform)
    assert len(frames) >= 3, f"the waveform did not move: {len(frames)} distinct frame(s) in 1.2 s"
    await asyncio.sleep(RECORD_S)
    await page.evaluate("__rqa.mark('commit')")
    await record_button(page, profile, recording=True).click()
    await expect(status(page, profile.ui.connected)).to_be_visible()

    transcript = page.locator(profile.ui.selectors.transcript)
    await expect(transcript).not_to_have_text("", timeout=CONNECT_MS)
    await wait_for_reading(
        page, "__rqa.outputActiveMs >= 300 && __rqa.outputFirstAt > __rqa.marks.commit", "the answer to be heard", 15
    )
    seen = await readings(page)
    ttfa_ms = seen["outputFirstAt"] - seen["marks"]["commit"]
    qualification_record(pytestconfig, browser_ttfa_ms=[ttfa_ms])
    allure.attach(
        f"{ttfa_ms:.0f} ms", name="time to first audio (browser)", attachment_type=allure.attachment_type.TEXT
    )


@pytest.mark.seed_class("microphone", story="microphone refused")
async def test_a_refused_microphone_is_said_on_the_page_and_holds_no_extra_slot(
    denied_context: BrowserContext, target: Target, profile: TargetProfile, ledger: SessionLedger
) -> None:
    before = len(ledger.ids() or ())
    page = await connected_voice_page(denied_context, target)
    assert len(ledger.ids() or ()) == before + 1, "the page holds more than its one realtime session"
    await record_button(page, profile).click()
    alert = page.get_by_role("alert").filter(has_text=profile.ui.mic_denied_text)
    await expect(alert).to_be_visible(timeout=SHORT_MS)
    seen = await readings(page)
    assert seen["gumErrors"], f"the microphone was not refused by the browser: {seen}"
    await asyncio.sleep(0.5)
    assert len(ledger.ids() or ()) == before + 1, "a refused microphone left an extra slot held"


@pytest.mark.seed_class("microphone", story="the seeds' strings on screen")
async def test_the_seeds_chinese_strings_render_as_glyphs(page: Page, profile: TargetProfile) -> None:
    await page.goto(profile.ui.voice_path)
    line = status(page, profile.ui.login_required)
    await expect(line).to_be_visible(timeout=SHORT_MS)
    result = await line.evaluate(
        """el => {
          const canvas = document.createElement('canvas'); canvas.width = canvas.height = 64;
          const g = canvas.getContext('2d'); g.font = getComputedStyle(el).font.replace(/\\d+(\\.\\d+)?px/, '40px');
          const raster = ch => { g.clearRect(0, 0, 64, 64); g.fillText(ch, 4, 48); return canvas.toDataURL(); };
          const blank = raster(' '), tofu = raster('\\u{10FFFD}');
          const han = [...el.textContent].filter(ch => /\\p{Script=Han}/u.test(ch));
          const boxes = han.filter(ch => { const r = raster(ch); return r === tofu || r === blank; });
          return {han: han.length, boxes};
        }"""
    )
    png = await page.screenshot()
    allure.attach(png, name="the seeds' strings as rendered", attachment_type=allure.attachment_type.PNG)
    assert result["han"] > 0, "no Chinese characters on the page"
    assert not result["boxes"], f"{result['boxes']} render as boxes or nothing: a CJK font is missing"
