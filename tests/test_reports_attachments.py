"""reports.attachments: scrubbed, truncated, audio elided, and nothing at all outside an allure run."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import allure
import allure_commons
import httpx
import pytest

from reports import attachments
from reports.attachments import (
    attach_http_exchange,
    attach_json,
    attach_text,
    attach_ws_frames,
    render_http_exchange,
    render_ws_frames,
)
from reports.scrub import MASK

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"


class _Listener:
    """Stands in for allure-pytest's listener: records what would have been attached."""

    def __init__(self, *, outside_test: bool = False) -> None:
        self.attached: list[tuple[str, str, Any]] = []
        self.globals: list[tuple[str, str]] = []
        self.outside_test = outside_test

    @allure_commons.hookimpl
    def attach_data(self, body: str, name: str, attachment_type: Any, extension: Any) -> None:
        if self.outside_test:
            raise KeyError(None)  # what allure's reporter raises with no running test
        self.attached.append((name, body, attachment_type))

    @allure_commons.hookimpl
    def global_attach_data(self, body: str, name: str, attachment_type: Any, extension: Any) -> None:
        self.globals.append((name, body))


@pytest.fixture
def listener() -> Iterator[_Listener]:
    recorder = _Listener()
    allure_commons.plugin_manager.register(recorder)
    try:
        yield recorder
    finally:
        allure_commons.plugin_manager.unregister(recorder)


def test_no_op_outside_an_allure_run(monkeypatch: pytest.MonkeyPatch) -> None:
    if attachments.active():
        pytest.skip("this run itself writes allure results")

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("allure.attach called outside an allure run")

    monkeypatch.setattr(allure, "attach", fail)
    attach_text("t", "x")
    attach_json("j", {"a": 1})
    attach_ws_frames("w", [{"dir": "sent", "t": 0, "event": {"type": "x"}}])
    attach_http_exchange(httpx.Request("GET", "http://h/"), httpx.Response(200))


def test_text_and_json_are_scrubbed(listener: _Listener) -> None:
    attach_text(f"log {JWT}", f"Authorization: Bearer {JWT}\nok")
    attach_json("event", {"token": "opaque", "nested": ["?token=abc123456"]})
    (name, body, kind), (_, json_body, json_kind) = listener.attached
    assert JWT not in name
    assert JWT not in body
    assert "ok" in body
    assert kind == allure.attachment_type.TEXT
    assert json_kind == allure.attachment_type.JSON
    data = json.loads(json_body)
    assert data["token"] == MASK
    assert "abc123456" not in data["nested"][0]


def test_outside_a_test_it_becomes_a_global_attachment() -> None:
    recorder = _Listener(outside_test=True)
    allure_commons.plugin_manager.register(recorder)
    try:
        attach_text("capacity", "sessions 1..8")
    finally:
        allure_commons.plugin_manager.unregister(recorder)
    assert recorder.globals == [("capacity", "sessions 1..8")]


def test_ws_frames_elide_audio_truncate_and_count(listener: _Listener) -> None:
    audio = base64.b64encode(b"\x01\x02" * 4800).decode()  # 9600 bytes of PCM16
    frames: list[Any] = [
        {"dir": "sent", "t": 0.0, "event": {"type": "session.update", "session": {"audio": {"input": {}}}}},
        {"dir": "sent", "t": 0.02, "event": {"type": "input_audio_buffer.append", "audio": audio}},
        {"dir": "received", "t": 0.5, "event": {"type": "response.output_audio.delta", "delta": audio}},
        {"dir": "received", "t": 0.6, "event": json.dumps({"type": "response.audio.delta", "delta": audio})},
        {"dir": "received", "t": 0.7, "event": {"type": "response.output_audio_transcript.delta", "delta": "hi"}},
        {"dir": "received", "t": 0.8, "event": {"type": "error", "error": {"message": "x" * 5000}}},
        f"raw text frame ?token={JWT}",
        {"dir": "received", "t": 0.9, "event": b"\x00\x01"},
    ]
    attach_ws_frames("frames", frames)
    ((_, text, _),) = listener.attached
    lines = text.splitlines()
    assert len(lines) == len(frames)
    assert audio not in text
    assert lines[1].count("<base64 audio: 9600 bytes>") == 1
    assert "→" in lines[1]
    assert "<base64 audio: 9600 bytes>" in lines[2]
    assert "←" in lines[2]
    assert "+0.500s" in lines[2]
    assert "<base64 audio: 9600 bytes>" in lines[3]
    assert '"delta": "hi"' in lines[4]
    assert '"audio": {"input": {}}' in lines[0]
    assert "more chars)" in lines[5]
    assert len(lines[5]) < 2100
    assert JWT not in lines[6]
    assert "<binary: 2 bytes>" in lines[7]


def test_ws_frames_past_the_limit_keep_head_and_tail() -> None:
    frames = [{"dir": "sent", "t": float(i), "event": {"type": "n", "i": i}} for i in range(50)]
    lines = render_ws_frames(frames, max_frames=10).splitlines()
    assert len(lines) == 11
    assert lines[5] == "… 40 more frames …"
    assert '"i": 0' in lines[0]
    assert '"i": 49' in lines[-1]


def test_http_exchange_masks_token_headers_and_bodies(listener: _Listener) -> None:
    request = httpx.Request(
        "POST",
        "http://127.0.0.1:8080/api/auth/login?token=opaque-query&x=1",
        headers={"Authorization": f"Bearer {JWT}", "Cookie": "sid=cookie-value", "X-Trace": "keep-me"},
        json={"email": "betty@123.com", "password": "Betty@123.com"},
    )
    response = httpx.Response(
        200,
        headers={"Set-Cookie": "sid=new-cookie; HttpOnly"},
        json={"access_token": JWT, "token_type": "bearer", "note": "y" * 10_000},
        request=request,
    )
    attach_http_exchange(request, response)
    ((name, text, _),) = listener.attached
    assert name == "HTTP POST /api/auth/login → 200"
    for secret in ("opaque-query", JWT, "cookie-value", "new-cookie", "Betty@123.com"):
        assert secret not in text, secret
    assert "x=1" in text
    assert "keep-me" in text
    assert "betty@123.com" in text
    assert "← 200 OK" in text
    assert "more chars)" in text
    assert len(text) < 12_000


def test_http_exchange_without_response_and_with_binary_body() -> None:
    request = httpx.Request("PUT", "http://h/upload", content=b"\x00" * 100, headers={"content-type": "audio/wav"})
    text = render_http_exchange(request)
    assert "<100 bytes of audio/wav>" in text
    assert "(no response)" in text
