"""The frontend server on its own: pages, assets, runtime config, headers, seed strings.

Starts only ``python -m stack.frontend`` (no backend needed) and talks HTTP to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from fixtures.local_stack import LocalStack
from stack.frontend.server import STATIC_DIR, FrontendSettings
from stack.service import ConfigError

# The troubleshooting guide's strings, byte for byte (seeds/004: 问题 1-3, 成功指标, 问题现象).
SEED_STRINGS = {
    "connected": "已连接",
    "reconnecting": "网络连接出现问题，正在尝试重新连接...",
    "login_required": "请先登录后再使用语音功能",
    "connect_timeout": "连接超时，请检查网络连接",
    "auth_failed": "认证失败，请重新登录",
    "start_recording": "开始录音",
}

VOICE_TEST_IDS = [
    "connection-status",
    "error-message",
    "reconnect-info",
    "record-button",
    "mic-error",
    "waveform",
    "transcript",
    "audio-bytes",
    "logout",
    "login-link",
]
LOGIN_TEST_IDS = ["login-email", "login-password", "login-submit", "login-error"]

# Settings from the developer's shell must not leak into the "unset" case.
_UNSET = {"PUBLIC_API_URL": "", "PUBLIC_WS_URL": "", "PUBLIC_APP_PORT": "", "CONNECT_TIMEOUT_MS": ""}


def _config_of(js: str) -> dict[str, object]:
    match = re.search(r"window\.REALTIME_QA_CONFIG = Object\.freeze\((\{.*\})\);", js)
    assert match, f"config.js does not set window.REALTIME_QA_CONFIG:\n{js}"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def frontend() -> Iterator[LocalStack]:
    with LocalStack(services=["frontend"], env=_UNSET) as stack:
        yield stack


@pytest.fixture(scope="module")
def http(frontend: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=frontend.frontend_url, timeout=5.0) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("/", 'data-testid="connection-status"'),
        ("/index.html", 'data-testid="connection-status"'),
        ("/login", 'data-testid="login-email"'),
        ("/login.html", 'data-testid="login-email"'),
        ("/test-realtime.html", 'data-testid="check-websocket"'),
        ("/test-connection-fixed.html", 'data-testid="check-frontend"'),
    ],
)
def test_pages_answer_html(http: httpx.Client, path: str, marker: str) -> None:
    response = http.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert marker in response.text
    # Every page loads the runtime config before its module, and has no inline script.
    assert '<script src="/config.js"></script>' in response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text), "inline scripts would break the CSP"


def _module_closure(http: httpx.Client, entry: str) -> dict[str, str]:
    """A page's JS module and everything it imports (relative imports), by URL path."""
    seen: dict[str, str] = {}
    pending = [entry]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        response = http.get(path)
        assert response.status_code == 200, f"{path}: HTTP {response.status_code}"
        assert response.headers["content-type"] == "text/javascript; charset=utf-8", path
        seen[path] = response.text
        base = path.rsplit("/", 1)[0]
        for module in re.findall(r"""from\s+['"]\./([\w.-]+\.js)['"]""", response.text):
            pending.append(f"{base}/{module}")
    return seen


def test_voice_page_carries_every_seed_string(http: httpx.Client) -> None:
    page = http.get("/").text
    modules = _module_closure(http, "/static/js/voice.js")
    assert "/static/js/strings.js" in modules
    everything = page + "".join(modules.values())
    for key, text in SEED_STRINGS.items():
        # Quoted exactly as a JS string literal: no extra spaces, ASCII "..." kept, full-width comma kept.
        assert f"'{text}'" in modules["/static/js/strings.js"], f"strings.js lacks {key}: {text!r}"
        assert text in everything, key
    # The button's initial label is in the HTML itself, before any script runs.
    assert ">开始录音</button>" in page


def test_voice_and_login_pages_have_their_test_ids(http: httpx.Client) -> None:
    voice = http.get("/").text
    for test_id in VOICE_TEST_IDS:
        assert f'data-testid="{test_id}"' in voice, test_id
    login = http.get("/login").text
    for test_id in LOGIN_TEST_IDS:
        assert f'data-testid="{test_id}"' in login, test_id
    for path, checks in [
        ("/test-realtime.html", ["health", "login", "websocket"]),
        ("/test-connection-fixed.html", ["health", "frontend", "login", "websocket"]),
    ]:
        html = http.get(path).text
        assert f'data-checks="{",".join(checks)}"' in html
        for name in checks:
            assert f'data-testid="check-{name}"' in html, (path, name)
        assert 'data-testid="summary"' in html


def test_pages_carry_no_secrets(http: httpx.Client) -> None:
    """The voice and login pages hold no credentials. The guide's published test account is
    only in the diagnostics pages' script, behind their explicit 使用测试账号 button."""
    texts = [http.get(p).text for p in ("/", "/login")]
    texts += _module_closure(http, "/static/js/voice.js").values()
    texts += _module_closure(http, "/static/js/login.js").values()
    for text in texts:
        assert "Betty@123.com" not in text
        assert not re.search(r"eyJ[\w-]{5,}\.[\w-]{5,}\.", text), "a JWT in a page"
    # Tokens are never logged: no console call mentions the token variable.
    for text in texts:
        for line in text.splitlines():
            if "console." in line:
                assert "token" not in line.lower() or "[REDACTED]" in line, line


@pytest.mark.parametrize("path", ["/test-realtime.html", "/test-connection-fixed.html"])
def test_diagnostics_pages_do_not_prefill_the_password(http: httpx.Client, path: str) -> None:
    html = http.get(path).text
    passwords = [tag for tag in re.findall(r"<input\b[^>]*>", html) if re.search(r'\btype="password"', tag)]
    assert len(passwords) == 1, passwords
    assert 'data-testid="diag-password"' in passwords[0]
    assert not re.search(r"\bvalue\s*=", passwords[0]), f"the password is prefilled: {passwords[0]}"
    assert "Betty@123.com" not in html
    # Filling in the test account is an explicit choice (a plain button, not a submit).
    button = re.search(r"<button\b([^>]*)>使用测试账号</button>", html)
    assert button, "no 使用测试账号 button"
    assert 'type="button"' in button.group(1)


@pytest.mark.parametrize(
    "path",
    [
        "/static/js/voice.js",
        "/static/js/login.js",
        "/static/js/diagnostics-page.js",
        "/static/js/realtime-client.js",
        "/static/js/audio.js",
        "/static/worklets/pcm16-capture-processor.js",
    ],
)
def test_scripts_are_javascript(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["etag"]


def test_worklet_processor_is_registered_by_the_name_the_page_uses(http: httpx.Client) -> None:
    worklet = http.get("/static/worklets/pcm16-capture-processor.js").text
    audio = http.get("/static/js/audio.js").text
    assert "registerProcessor('pcm16-capture'" in worklet
    assert "'pcm16-capture'" in audio
    assert "/static/worklets/pcm16-capture-processor.js" in audio


def test_css_and_icon(http: httpx.Client) -> None:
    css = http.get("/static/css/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    icon = http.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"


def test_conditional_get_answers_304(http: httpx.Client) -> None:
    first = http.get("/static/js/voice.js")
    again = http.get("/static/js/voice.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_head_is_answered(http: httpx.Client) -> None:
    response = http.head("/login")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"


def test_healthz(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/static/nope.js",
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/..%2f__main__.py",
        "/static/js",
        "/login/extra",
    ],
)
def test_unknown_paths_are_404(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 404
    assert "import " not in response.text  # no Python source leaks out


def test_config_js_without_public_urls_lets_the_page_derive_them(http: httpx.Client, frontend: LocalStack) -> None:
    response = http.get("/config.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    config = _config_of(response.text)
    assert config["apiUrl"] is None
    assert config["wsUrl"] is None
    assert config["appPort"] == frontend.app_port
    assert config["connectTimeoutMs"] == 10000
    assert config["realtimePath"] == "/ws/realtime"
    # The derivation lives in the page: scheme-matched, page hostname, APP_PORT.
    js = http.get("/static/js/config.js").text
    assert "${secure ? 'https:' : 'http:'}//${host}:${appPort}" in js
    assert "${secure ? 'wss:' : 'ws:'}//${host}:${appPort}" in js


def test_config_js_with_public_urls() -> None:
    env = {
        "PUBLIC_API_URL": "https://api.example.test:8443/",
        "PUBLIC_WS_URL": "wss://rt.example.test/ws/realtime",
        "CONNECT_TIMEOUT_MS": "2500",
    }
    with LocalStack(services=["frontend"], env=env) as stack:
        response = httpx.get(f"{stack.frontend_url}/config.js", timeout=5.0)
        page = httpx.get(f"{stack.frontend_url}/", timeout=5.0)
    config = _config_of(response.text)
    assert config["apiUrl"] == "https://api.example.test:8443"
    assert config["wsUrl"] == "wss://rt.example.test"  # the page appends realtimePath
    assert config["connectTimeoutMs"] == 2500
    csp = page.headers["content-security-policy"]
    assert "connect-src 'self' https://api.example.test:8443 wss://rt.example.test;" in csp


def test_public_app_port_overrides_the_listening_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behind a port map the browser must use the published port, not the container's."""
    for key in _UNSET:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("APP_PORT", "8080")
    monkeypatch.setenv("PUBLIC_APP_PORT", "18080")
    assert FrontendSettings.from_env().browser_config()["appPort"] == 18080
    monkeypatch.delenv("PUBLIC_APP_PORT")
    assert FrontendSettings.from_env().browser_config()["appPort"] == 8080


def test_ws_url_is_derived_from_the_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_API_URL", "http://10.0.0.5:18080")
    monkeypatch.delenv("PUBLIC_WS_URL", raising=False)
    settings = FrontendSettings.from_env()
    assert settings.ws_url == "ws://10.0.0.5:18080"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PUBLIC_API_URL", "ws://wrong-scheme:8080"),
        ("PUBLIC_API_URL", "localhost:8080"),
        ("PUBLIC_WS_URL", "http://wrong-scheme:8080"),
        ("PUBLIC_API_URL", "http://host:8080/?x=1"),
        ("CONNECT_TIMEOUT_MS", "soon"),
    ],
)
def test_bad_settings_are_refused_with_their_name(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    for key in _UNSET:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        FrontendSettings.from_env()


def test_static_dir_holds_the_worklet_next_to_the_pages() -> None:
    assert (STATIC_DIR / "index.html").is_file()
    assert (STATIC_DIR / "worklets" / "pcm16-capture-processor.js").is_file()
