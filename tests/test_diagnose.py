"""``realtime-qa diagnose`` against a real stack: every check passes, and a failure names its remedy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.local_stack import LocalStack
from fixtures.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def diagnose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime_qa.cli", "diagnose", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def urls(stack: LocalStack) -> list[str]:
    return ["--api-url", stack.app_url, "--ws-url", stack.ws_url]


def test_a_healthy_stack_passes_every_check(stack: LocalStack, tmp_path: Path) -> None:
    out = tmp_path / "diagnosis.json"
    result = diagnose(*urls(stack), "--json", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for name in ("健康检查 health", "登录测试 login", "会话数 sessions", "WebSocket 测试 websocket", "一轮对话 turn"):
        assert any(line.startswith(f"✅ {name}") for line in lines), result.stdout
    report = json.loads(out.read_text())
    assert report["ok"] is True
    assert [c["ok"] for c in report["checks"]] == [True] * 5
    assert "Betty@123.com" not in out.read_text()


def test_bad_credentials_fail_login_with_the_auth_remedy(stack: LocalStack) -> None:
    result = diagnose(*urls(stack), "--password-env", "WRONG_PASSWORD", env={"WRONG_PASSWORD": "not-the-password"})
    assert result.returncode == 1
    assert "❌ 登录测试 login" in result.stdout
    assert "remedy: log in again with the test account" in result.stdout
    assert "⏭ WebSocket 测试 websocket" in result.stdout
    assert "not-the-password" not in result.stdout


def test_nothing_listening_fails_health_with_the_hang_remedy() -> None:
    port = free_port()
    result = diagnose("--api-url", f"http://127.0.0.1:{port}", "--ws-url", f"ws://127.0.0.1:{port}/ws/realtime")
    assert result.returncode == 1
    assert result.stdout.startswith("❌ 健康检查 health")
    assert "remedy: look for blocking calls on the event loop" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_wrong_url_is_a_usage_error() -> None:
    result = diagnose("--api-url", "localhost:8080", "--ws-url", "ws://localhost:8080/ws/realtime")
    assert result.returncode == 2
    assert "--api-url='localhost:8080' is not a http/https URL" in result.stderr
