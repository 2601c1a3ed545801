"""The pages in a real Chromium against the full local stack (realtime-sim, app, frontend).

Playwright's *async* API inside pytest-asyncio tests: pytest-playwright's sync fixtures
keep a loop running for the whole session and break asyncio tests in the same process
(playwright-pytest#240), so this module never uses them (its fixtures have other names).

The microphone is Chromium's fake capture device fed from a WAV written here (48 kHz mono
16-bit: 0.5 s of silence, then a voice-like tone; the device loops it). Waits are
web-first assertions with explicit timeouts; nothing waits for ``networkidle`` (a page
holding a WebSocket never goes idle).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from playwright.async_api import (
    Browser,
    Locator,
    Page,
    Playwright,
    async_playwright,
    expect,
)

from fixtures.browser import FAKE_MEDIA, Watch, launch, missing_chromium_reason, new_page
from fixtures.fake_mic import write_fake_mic_wav
from fixtures.local_stack import LocalStack

EMAIL, PASSWORD = "betty@123.com", "Betty@123.com"

CONNECTED = "已连接"
RECONNECTING = "网络连接出现问题，正在尝试重新连接..."
LOGIN_REQUIRED = "请先登录后再使用语音功能"
CONNECT_TIMEOUT = "连接超时，请检查网络连接"
AUTH_FAILED = "认证失败，请重新登录"
START_RECORDING = "开始录音"
STOP_RECORDING = "停止录音"
MIC_DENIED = "麦克风权限被拒绝，请在浏览器设置中允许麦克风权限"
BAD_CREDENTIALS = "邮箱或密码错误，请重试"
LOGOUT = "退出登录"
USE_TEST_ACCOUNT = "使用测试账号"
NEEDS_CREDENTIALS = "请输入密码或点击“使用测试账号”"
POOL_FULL_MESSAGE = "Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)"

# Timeouts (ms) for web-first assertions.
SHORT = 5_000
CONNECT = 15_000
ROUND_TRIP = 20_000
RECOVERY = 30_000


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(missing_chromium_reason() is not None, reason=missing_chromium_reason() or ""),
]


@pytest.fixture(scope="module")
def fake_mic_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fake_mic_wav(tmp_path_factory.mktemp("audio") / "prompt.wav")


# -- stacks -------------------------------------------------------------------------------
def _stack_env(**extra: str) -> dict[str, str]:
    # A known JWT secret lets a test forge an expired-but-correctly-signed token.
    return {"JWT_SECRET": secrets.token_urlsafe(32), "PUBLIC_API_URL": "", "PUBLIC_WS_URL": "", **extra}


@pytest.fixture(scope="module")
def full_stack() -> Iterator[LocalStack]:
    """All three services, shared by the non-destructive tests."""
    with LocalStack(env=_stack_env()) as stack:
        yield stack


@pytest.fixture(scope="module")
def chaos_stack() -> Iterator[LocalStack]:
    """A stack of its own for the tests that kill, pause or fill it: one engine slot,
    fast reconnects, short connect timeout. Each test leaves it healthy again."""
    env = _stack_env(
        ENGINE_CONCURRENCY_LIMIT="1",
        CONNECT_TIMEOUT_MS="3000",
        RECONNECT_BASE_MS="300",
        RECONNECT_CAP_MS="2000",
    )
    with LocalStack(env=env) as stack:
        yield stack


async def api_token(stack: LocalStack) -> str:
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(f"{stack.app_url}/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, f"login failed: HTTP {response.status_code} {response.text}"
    return response.json()["access_token"]


# -- browser plumbing ---------------------------------------------------------------------
@pytest.fixture
def watch() -> Iterator[Watch]:
    seen = Watch()
    yield seen
    # pytest shows captured output only for failing tests: the console is there when needed.
    print(seen.report())
    assert not seen.page_errors, f"uncaught errors in the page:\n{seen.report()}"


@pytest.fixture
async def pw() -> AsyncIterator[Playwright]:
    async with async_playwright() as playwright:
        yield playwright


@pytest.fixture
async def mic_browser(pw: Playwright, fake_mic_wav: Path) -> AsyncIterator[Browser]:
    """Chromium with the fake microphone, permission prompts auto-accepted."""
    chromium = await launch(pw, [*FAKE_MEDIA, f"--use-file-for-fake-audio-capture={fake_mic_wav}"])
    yield chromium
    await chromium.close()


def status(page: Page) -> Locator:
    return page.get_by_test_id("connection-status")


async def login_via_form(page: Page, stack: LocalStack, password: str = PASSWORD) -> None:
    await page.goto(f"{stack.frontend_url}/login")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=SHORT)
    await page.get_by_test_id("login-email").fill(EMAIL)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()


async def data_number(page: Page, test_id: str, attribute: str) -> float:
    value = await page.get_by_test_id(test_id).get_attribute(attribute)
    return float(value or 0)


async def wait_for_number(page: Page, test_id: str, attribute: str, above: float, timeout_ms: int, what: str) -> None:
    js = '([id, attr, above]) => Number(document.querySelector(`[data-testid="${id}"]`).getAttribute(attr)) > above'
    try:
        await page.wait_for_function(js, arg=[test_id, attribute, above], timeout=timeout_ms)
    except Exception as exc:
        current = await page.get_by_test_id(test_id).get_attribute(attribute)
        raise AssertionError(
            f"{what}: {test_id}[{attribute}] stayed at {current}, not above {above}, for {timeout_ms} ms"
        ) from exc


# -- tests: shared stack ---------------------------------------------------------------------
async def test_without_a_token_the_page_asks_to_log_in_and_opens_no_socket(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    _, page = await new_page(mic_browser, watch)
    await page.goto(f"{full_stack.frontend_url}/")
    await expect(status(page)).to_have_text(LOGIN_REQUIRED, timeout=SHORT)
    await expect(page.get_by_test_id("login-link")).to_be_visible()
    await expect(page.get_by_test_id("login-link")).to_have_attribute("href", "/login")
    await expect(page.get_by_test_id("record-button")).to_have_text(START_RECORDING)
    await expect(page.get_by_test_id("record-button")).to_be_disabled()
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await asyncio.sleep(0.5)
    assert watch.sockets == [], "a WebSocket was opened without a token"


async def test_the_logout_button_shows_only_with_a_token(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    context, page = await new_page(mic_browser, watch)
    await page.goto(f"{full_stack.frontend_url}/")
    await expect(status(page)).to_have_text(LOGIN_REQUIRED, timeout=SHORT)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_test_id("login-link")).to_be_visible()
    await expect(page.get_by_role("button", name=LOGOUT)).to_be_hidden()
    await expect(page.get_by_test_id("logout")).to_be_hidden()
    await context.close()

    context, page = await new_page(mic_browser, watch, token=await api_token(full_stack))
    await page.goto(f"{full_stack.frontend_url}/")
    await expect(status(page)).to_have_text(CONNECTED, timeout=CONNECT)
    await expect(page.get_by_role("button", name=LOGOUT)).to_be_visible()
    await context.close()


async def test_login_then_the_voice_page_connects(full_stack: LocalStack, mic_browser: Browser, watch: Watch) -> None:
    _, page = await new_page(mic_browser, watch)
    await login_via_form(page, full_stack)
    await page.wait_for_url(f"{full_stack.frontend_url}/", timeout=SHORT)
    await expect(status(page)).to_have_text(CONNECTED, timeout=CONNECT)
    await expect(page.get_by_test_id("record-button")).to_be_enabled()
    await expect(page.get_by_test_id("reconnect-info")).to_be_hidden()
    await expect(page.get_by_test_id("error-message")).to_be_hidden()
    token = await page.evaluate("window.localStorage.getItem('access_token')")
    assert isinstance(token, str)
    if not re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", token):
        pytest.fail("the stored token is not a JWT")
    assert len(watch.sockets) == 1
    leaked = sum(token in line for line in watch.raw_console)
    if leaked:  # not an `assert`: its rewriting would print the token in the report
        pytest.fail(f"the page wrote the token to the console ({leaked} line(s))")


async def test_wrong_password_shows_an_error_and_stores_nothing(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    _, page = await new_page(mic_browser, watch)
    await login_via_form(page, full_stack, password="not-the-password")
    error = page.get_by_test_id("login-error")
    await expect(error).to_be_visible(timeout=SHORT)
    await expect(error).to_have_text(BAD_CREDENTIALS)
    await expect(error).to_have_attribute("data-status", "401")
    assert page.url == f"{full_stack.frontend_url}/login"
    assert await page.evaluate("window.localStorage.getItem('access_token')") is None
    await expect(page.get_by_test_id("login-submit")).to_be_enabled()


async def test_recording_moves_the_waveform_then_plays_the_answer(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    _, page = await new_page(mic_browser, watch, token=await api_token(full_stack))
    await page.goto(f"{full_stack.frontend_url}/")
    await expect(status(page)).to_have_text(CONNECTED, timeout=CONNECT)

    record = page.get_by_test_id("record-button")
    await record.click()
    await expect(record).to_have_text(STOP_RECORDING, timeout=SHORT)
    started = time.monotonic()
    await expect(record).to_have_attribute("data-recording", "true")
    await expect(page.get_by_test_id("mic-error")).to_be_hidden()

    # The waveform is drawn every frame and its level follows the (looping) prompt.
    await wait_for_number(page, "waveform", "data-peak", 0.05, 10_000, "the waveform never saw the tone")
    frames_before = await data_number(page, "waveform", "data-frames")
    levels = set()
    for _ in range(12):
        levels.add(await page.get_by_test_id("waveform").get_attribute("data-level"))
        await asyncio.sleep(0.1)
    assert await data_number(page, "waveform", "data-frames") > frames_before, "the waveform stopped drawing"
    assert len(levels) >= 3, f"the waveform level did not move: {levels}"
    await wait_for_number(page, "mic-bytes", "data-bytes", 24_000, 5_000, "too little audio was sent")

    await record.click()
    elapsed = time.monotonic() - started
    await expect(record).to_have_text(START_RECORDING, timeout=SHORT)
    await expect(page.get_by_test_id("waveform")).to_have_attribute("data-active", "false")
    # The worklet resamples to 24 kHz PCM16: 48,000 bytes per second of recording.
    sent = await data_number(page, "mic-bytes", "data-bytes")
    assert 0.75 * 48_000 <= sent / elapsed <= 1.25 * 48_000, f"{sent:.0f} B in {elapsed:.2f} s is not 24 kHz PCM16"

    await expect(page.get_by_test_id("transcript")).to_have_text(re.compile(r"\S"), timeout=ROUND_TRIP)
    await wait_for_number(page, "audio-bytes", "data-audio-bytes", 0, ROUND_TRIP, "no answer audio was played")
    # realtime-sim echoes what it heard: every byte sent comes back and is scheduled for playback.
    await expect(page.get_by_test_id("audio-bytes")).to_have_attribute(
        "data-audio-bytes", str(int(sent)), timeout=ROUND_TRIP
    )
    await expect(page.get_by_test_id("error-message")).to_be_hidden()
    await expect(status(page)).to_have_text(CONNECTED)


async def live_sessions(stack: LocalStack, token: str) -> int:
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.get(f"{stack.app_url}/api/sessions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


async def wait_for_sessions(stack: LocalStack, token: str, expected: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    count = await live_sessions(stack, token)
    while count != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        count = await live_sessions(stack, token)
    assert count == expected, f"the app holds {count} realtime session(s), expected {expected}"


async def test_logout_forgets_the_token_and_frees_the_session(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    admin = await api_token(full_stack)
    context, page = await new_page(mic_browser, watch)
    await login_via_form(page, full_stack)
    await expect(status(page)).to_have_text(CONNECTED, timeout=CONNECT)
    before = await live_sessions(full_stack, admin)
    assert before >= 1
    await page.get_by_test_id("logout").click()
    await page.wait_for_url(f"{full_stack.frontend_url}/login", timeout=SHORT)
    assert await page.evaluate("window.localStorage.getItem('access_token')") is None
    await wait_for_sessions(full_stack, admin, before - 1)
    await page.goto(f"{full_stack.frontend_url}/")
    await expect(status(page)).to_have_text(LOGIN_REQUIRED, timeout=SHORT)
    assert len(watch.sockets) == 1
    await context.close()


@pytest.mark.security
@pytest.mark.parametrize("kind", ["garbage", "forged", "expired"])
async def test_a_bad_token_fails_authentication_and_is_never_retried(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch, kind: str
) -> None:
    now = int(time.time())
    secret = full_stack.env["JWT_SECRET"]
    token = {
        "garbage": "not-a-jwt",
        "forged": jwt.encode({"sub": EMAIL, "exp": now + 600}, "not-the-secret-" + "x" * 32, algorithm="HS256"),
        "expired": jwt.encode({"sub": EMAIL, "iat": now - 7200, "exp": now - 3600}, secret, algorithm="HS256"),
    }[kind]
    context, page = await new_page(mic_browser, watch)
    await page.goto(f"{full_stack.frontend_url}/login")
    await page.evaluate("(t) => window.localStorage.setItem('access_token', t)", token)
    await page.goto(f"{full_stack.frontend_url}/")
    await expect(status(page)).to_have_text(AUTH_FAILED, timeout=CONNECT)
    await expect(page.get_by_test_id("login-link")).to_be_visible()
    await expect(page.get_by_role("button", name=LOGOUT)).to_be_hidden()  # the token was dropped
    await expect(page.get_by_test_id("reconnect-info")).to_be_hidden()
    assert await page.evaluate("window.localStorage.getItem('access_token')") is None, "bad token kept"
    await asyncio.sleep(3.0)  # several backoff periods: a reconnect would have happened by now
    assert len(watch.sockets) == 1, f"reconnected after 4001: {watch.sockets}"
    await expect(status(page)).to_have_text(AUTH_FAILED)
    await context.close()


async def test_denied_microphone_shows_why(
    full_stack: LocalStack, pw: Playwright, fake_mic_wav: Path, watch: Watch
) -> None:
    # A browser of its own: no fake-ui flag (which would accept the prompt), prompts denied.
    chromium = await launch(pw, ["--use-fake-device-for-media-stream", "--deny-permission-prompts"])
    try:
        context = await chromium.new_context()
        await context.add_init_script(
            f"window.localStorage.setItem('access_token', {json.dumps(await api_token(full_stack))});"
        )
        page = watch.attach(await context.new_page())
        await page.goto(f"{full_stack.frontend_url}/")
        await expect(status(page)).to_have_text(CONNECTED, timeout=CONNECT)
        record = page.get_by_test_id("record-button")
        await record.click()
        mic_error = page.get_by_test_id("mic-error")
        await expect(mic_error).to_be_visible(timeout=SHORT)
        await expect(mic_error).to_have_text(MIC_DENIED)
        await expect(mic_error).to_have_attribute("data-error-name", "NotAllowedError")
        await expect(record).to_have_text(START_RECORDING)
        await expect(record).to_have_attribute("data-recording", "false")
        await expect(status(page)).to_have_text(CONNECTED)
    finally:
        await chromium.close()


DIAGNOSTICS_PAGES = pytest.mark.parametrize(
    ("path", "checks"),
    [
        ("/test-realtime.html", ["health", "login", "websocket"]),
        ("/test-connection-fixed.html", ["health", "frontend", "login", "websocket"]),
    ],
)


@DIAGNOSTICS_PAGES
async def test_diagnostics_pages_pass_every_check(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch, path: str, checks: list[str]
) -> None:
    _, page = await new_page(mic_browser, watch)
    await page.goto(f"{full_stack.frontend_url}{path}")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=SHORT)
    await page.get_by_role("button", name=USE_TEST_ACCOUNT, exact=True).click()  # fills it in and runs
    summary = page.get_by_test_id("summary")
    await expect(summary).to_have_attribute("data-status", re.compile("pass|fail"), timeout=CONNECT)
    for name in checks:
        check = page.get_by_test_id(f"check-{name}")
        detail = await check.inner_text()
        await expect(check, f"{name}: {detail}").to_have_attribute("data-status", "pass")
    await expect(summary).to_have_attribute("data-status", "pass")
    await expect(summary).to_contain_text(f"{len(checks)}/{len(checks)}")
    # The token is used, never shown.
    assert "eyJ" not in await page.locator("main").inner_text()


@DIAGNOSTICS_PAGES
async def test_diagnostics_pages_open_without_a_password(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch, path: str, checks: list[str]
) -> None:
    """No credentials on load: the automatic first run checks what needs none and asks for
    a password (or the test account) instead of trying to log in with an empty one."""
    _, page = await new_page(mic_browser, watch)
    logins: list[str] = []
    page.on("request", lambda request: logins.append(request.url) if "/api/auth/login" in request.url else None)
    await page.goto(f"{full_stack.frontend_url}{path}")
    password = page.get_by_test_id("diag-password")
    await expect(password).to_have_value("")
    summary = page.get_by_test_id("summary")
    await expect(summary).to_have_attribute("data-status", "needs-credentials", timeout=CONNECT)
    await expect(summary).to_contain_text(NEEDS_CREDENTIALS)
    for name in checks:
        check = page.get_by_test_id(f"check-{name}")
        needs_account = name in ("login", "websocket")
        await expect(check, name).to_have_attribute("data-status", "skip" if needs_account else "pass")
    await expect(page.get_by_test_id("check-login")).to_contain_text(NEEDS_CREDENTIALS)
    assert logins == [], f"logged in with an empty password: {logins}"
    assert watch.sockets == []

    await page.get_by_role("button", name=USE_TEST_ACCOUNT, exact=True).click()
    await expect(page.get_by_test_id("diag-email")).to_have_value(EMAIL)
    await expect(password).to_have_value(PASSWORD)
    await expect(summary).to_have_attribute("data-status", "pass", timeout=CONNECT)
    assert len(logins) == 1
    assert len(watch.sockets) == 1


# The hint's three steps on /test-realtime.html, without their numbers.
HINT_STEPS = [
    "健康检查（验证后端服务是否正常）",
    "登录测试（获取有效的认证 token）",
    "WebSocket 测试（验证实时连接是否正常）",
]

# For each step: where its number is drawn against its first character. The number is either
# text right before the step ("2. 登录测试…") or the marker of the <li> of an <ol> the step opens.
STEP_NUMBER_LINES_JS = r"""(steps) => {
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  const rects = (node, start, end) => {
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, end);
    return [...range.getClientRects()].filter((rect) => rect.width > 0);
  };
  return steps.map((step) => {
    const node = nodes.find((n) => n.data.includes(step));
    if (!node) return { step, kind: 'missing' };
    const at = node.data.indexOf(step);
    const first = rects(node, at, at + 1)[0];
    const line = { textTop: first.top, textBottom: first.bottom };
    const before = node.data.slice(0, at).match(/(\d+)\.\s*$/);
    if (before) {
      const start = at - before[0].length;
      const number = rects(node, start, start + before[1].length + 1);
      const last = number[number.length - 1];
      return { step, kind: 'text', number: before[1], numberTop: last.top, numberBottom: last.bottom, ...line };
    }
    const item = node.parentElement.closest('li');
    if (item && item.parentElement.tagName === 'OL' && item.textContent.trim().startsWith(step)) {
      const list = item.parentElement;
      const style = getComputedStyle(item);
      const box = item.getBoundingClientRect();
      return {
        step, kind: 'marker', number: String([...list.children].indexOf(item) + list.start),
        display: style.display, listStyle: style.listStyleType,
        numberTop: box.top, numberBottom: box.top + parseFloat(style.lineHeight), ...line,
      };
    }
    return { step, kind: 'none', before: node.data.slice(Math.max(0, at - 8), at) };
  });
}"""


@pytest.mark.parametrize("width", [390, 430, 760])
async def test_the_diagnostics_hint_keeps_each_number_on_the_line_of_its_step(
    full_stack: LocalStack, mic_browser: Browser, watch: Watch, width: int
) -> None:
    context = await mic_browser.new_context(viewport={"width": width, "height": 900})
    page = watch.attach(await context.new_page())
    await page.goto(f"{full_stack.frontend_url}/test-realtime.html")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=SHORT)
    steps = await page.evaluate(STEP_NUMBER_LINES_JS, HINT_STEPS)
    for n, step in enumerate(steps, start=1):
        assert step["kind"] in ("text", "marker"), f"step {n} has no number in front of it: {step}"
        assert step["number"] == str(n), step
        if step["kind"] == "marker":
            assert step["display"] == "list-item", step
            assert step["listStyle"] == "decimal", step
        # Same line: the number's line box and the step's first character overlap vertically.
        middle = (step["textTop"] + step["textBottom"]) / 2
        assert step["numberTop"] <= middle <= step["numberBottom"], (
            f"at {width} px the number {n}. is not on the line where its step starts: {step}"
        )
    await context.close()


# -- tests: a stack of their own (destructive) ---------------------------------------------
@pytest.mark.chaos
async def test_app_killed_shows_the_reconnect_banner_then_recovers(
    chaos_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    _, page = await new_page(mic_browser, watch, token=await api_token(chaos_stack))
    await page.goto(f"{chaos_stack.frontend_url}/")
    await expect(status(page)).to_have_text(CONNECTED, timeout=CONNECT)
    try:
        await asyncio.to_thread(chaos_stack.kill, "app")
        await expect(status(page)).to_have_text(RECONNECTING, timeout=SHORT)
        info = page.get_by_test_id("reconnect-info")
        await expect(info).to_be_visible()
        # Backoff keeps trying while the app is down: attempts climb, delays stay under the cap.
        await wait_for_number(page, "reconnect-info", "data-attempt", 2, 15_000, "no further reconnect attempts")
        assert await data_number(page, "reconnect-info", "data-delay-ms") <= 2000
        await expect(page.get_by_test_id("record-button")).to_be_disabled()
    finally:
        await asyncio.to_thread(chaos_stack.restart, "app")
    await expect(status(page)).to_have_text(CONNECTED, timeout=RECOVERY)
    await expect(page.get_by_test_id("reconnect-info")).to_be_hidden()
    assert len(watch.sockets) >= 3  # first connect, failed attempts, the one that worked


@pytest.mark.chaos
async def test_unanswered_handshake_times_out_then_recovers(
    chaos_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    token = await api_token(chaos_stack)
    _, page = await new_page(mic_browser, watch, token=token)
    await asyncio.to_thread(chaos_stack.pause, "app")  # the kernel still accepts TCP; nobody answers
    try:
        await page.goto(f"{chaos_stack.frontend_url}/")
        await expect(status(page)).to_have_text(CONNECT_TIMEOUT, timeout=10_000)
        await expect(page.get_by_test_id("reconnect-info")).to_be_visible()
    finally:
        await asyncio.to_thread(chaos_stack.unpause, "app")
    await expect(status(page)).to_have_text(CONNECTED, timeout=RECOVERY)


@pytest.mark.chaos
async def test_full_engine_pool_shows_4002_then_takes_the_freed_slot(
    chaos_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    token = await api_token(chaos_stack)
    holder_context, holder = await new_page(mic_browser, watch, token=token)
    await holder.goto(f"{chaos_stack.frontend_url}/")
    await expect(status(holder)).to_have_text(CONNECTED, timeout=CONNECT)

    _, waiter = await new_page(mic_browser, watch, token=token)
    await waiter.goto(f"{chaos_stack.frontend_url}/")
    await expect(waiter.get_by_test_id("error-message")).to_have_text(POOL_FULL_MESSAGE, timeout=CONNECT)
    await expect(status(waiter)).to_have_attribute("data-state", "pool-full")
    await expect(waiter.get_by_test_id("reconnect-info")).to_be_visible()

    await holder_context.close()  # frees the only slot
    await expect(status(waiter)).to_have_text(CONNECTED, timeout=RECOVERY)
    await expect(waiter.get_by_test_id("error-message")).to_be_hidden()


@pytest.mark.chaos
async def test_session_cleared_by_an_operator_reconnects(
    chaos_stack: LocalStack, mic_browser: Browser, watch: Watch
) -> None:
    token = await api_token(chaos_stack)
    _, page = await new_page(mic_browser, watch, token=token)
    await page.goto(f"{chaos_stack.frontend_url}/")
    await expect(status(page)).to_have_text(CONNECTED, timeout=CONNECT)
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(
            f"{chaos_stack.app_url}/api/digital_human_develop/clear_all_sessions",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    await wait_for_number(page, "connection-status", "data-connect-attempts", 1, CONNECT, "no reconnect after 4000")
    await expect(status(page)).to_have_text(CONNECTED, timeout=RECOVERY)
