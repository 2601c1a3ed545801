"""Attachments for the Allure report that are always scrubbed and always small enough to read.

Thin wrappers over ``allure.attach``: text, JSON, WebSocket frames (base64 audio elided,
payloads truncated) and HTTP exchanges (token query values, Authorization and Cookie
headers masked). Outside an allure run (no ``--alluredir``) each call does nothing and
costs nothing; outside a test (session-level code) it becomes a global attachment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from reports.scrub import scrub, scrub_tree

if TYPE_CHECKING:
    import httpx

__all__ = [
    "active",
    "attach_http_exchange",
    "attach_json",
    "attach_text",
    "attach_ws_frames",
    "render_http_exchange",
    "render_ws_frames",
]

FRAME_CHARS = 2000
MAX_FRAMES = 400
BODY_CHARS = 4000
_SHORT_AUDIO = 64  # an "audio" string shorter than this is a name or a format, not samples


def active() -> bool:
    """True when an allure listener takes attachments (allure-pytest with ``--alluredir``)."""
    try:
        from allure_commons import plugin_manager
    except ImportError:
        return False
    return bool(plugin_manager.hook.attach_data.get_hookimpls())


def _attach(body: str, name: str, kind: str) -> None:
    import allure

    attachment_type = allure.attachment_type.JSON if kind == "json" else allure.attachment_type.TEXT
    try:
        allure.attach(body, name=name, attachment_type=attachment_type)
    except KeyError:  # no test or fixture is running: allure has nothing to hang it on
        allure.global_attach(body, name=name, attachment_type=attachment_type)


def attach_text(name: str, text: str) -> None:
    if active():
        _attach(scrub(text), scrub(name), "text")


def attach_json(name: str, obj: Any) -> None:
    if active():
        _attach(json.dumps(scrub_tree(obj), ensure_ascii=False, indent=2, default=str), scrub(name), "json")


def attach_ws_frames(
    name: str, frames: Iterable[Mapping[str, Any] | str | bytes], *, max_frames: int = MAX_FRAMES
) -> None:
    if active():
        _attach(render_ws_frames(frames, max_frames=max_frames), scrub(name), "text")


def attach_http_exchange(
    request: httpx.Request, response: httpx.Response | None = None, *, name: str | None = None
) -> None:
    if active():
        status = f" → {response.status_code}" if response is not None else ""
        title = name or f"HTTP {request.method} {request.url.path}{status}"
        _attach(render_http_exchange(request, response), scrub(title), "text")


# --- WebSocket frames -------------------------------------------------------------------


def _base64_size(data: str) -> int:
    data = data.strip()
    return len(data) * 3 // 4 - (len(data) - len(data.rstrip("=")))


def _elide_audio(value: Any, *, audio_delta: bool = False) -> Any:
    """The event with base64 audio replaced by its size: megabytes of samples help no one."""
    if isinstance(value, list):
        return [_elide_audio(item) for item in value]
    if not isinstance(value, dict):
        return value
    event_type = value.get("type")
    is_delta = isinstance(event_type, str) and event_type.endswith("audio.delta")
    out = {}
    for key, item in value.items():
        samples = (key == "audio" and len(item) >= _SHORT_AUDIO) if isinstance(item, str) else False
        if isinstance(item, str) and (samples or (key == "delta" and is_delta)):
            out[key] = f"<base64 audio: {_base64_size(item)} bytes>"
        else:
            out[key] = _elide_audio(item)
    return out


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more chars)"


def _render_frame(frame: Mapping[str, Any] | str | bytes, frame_chars: int) -> str:
    if isinstance(frame, Mapping):
        arrow = {"sent": "→", "received": "←"}.get(str(frame.get("dir", "")), "·")
        when = frame.get("t")
        prefix = f"{when:+9.3f}s {arrow} " if isinstance(when, (int, float)) else f"{arrow} "
        payload: Any = frame.get("event")
    else:
        prefix, payload = "", frame
    if isinstance(payload, (bytes, bytearray)):
        return f"{prefix}<binary: {len(payload)} bytes>"
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return prefix + _truncate(scrub(payload), frame_chars)
    text = json.dumps(scrub_tree(_elide_audio(payload)), ensure_ascii=False, default=str)
    return prefix + _truncate(scrub(text), frame_chars)


def render_ws_frames(
    frames: Iterable[Mapping[str, Any] | str | bytes], *, max_frames: int = MAX_FRAMES, frame_chars: int = FRAME_CHARS
) -> str:
    """One line per frame; past ``max_frames`` the first and last halves, with how many were left out."""
    frames = list(frames)
    if len(frames) <= max_frames:
        kept = [_render_frame(frame, frame_chars) for frame in frames]
    else:
        head, tail = max_frames - max_frames // 2, max_frames // 2
        kept = [_render_frame(frame, frame_chars) for frame in frames[:head]]
        kept.append(f"… {len(frames) - head - tail} more frames …")
        kept += [_render_frame(frame, frame_chars) for frame in frames[len(frames) - tail :]]
    return "\n".join(kept) + "\n"


# --- HTTP exchanges ---------------------------------------------------------------------


def _masked(name: str, value: str) -> str:
    return str(scrub_tree({name: value})[name])


def _url(url: httpx.URL) -> str:
    if not url.query:
        return scrub(str(url))
    query = "&".join(f"{key}={_masked(key, value)}" for key, value in url.params.multi_items())
    return scrub(f"{url.copy_with(query=None)}?{query}")


def _headers(headers: httpx.Headers) -> list[str]:
    return [f"  {key}: {_masked(key, value)}" for key, value in headers.multi_items()]


def _body(read: Any, content_type: str) -> str:
    try:
        content: bytes = read()
    except Exception:  # a streamed body nobody read
        return "<body not read>"
    if not content:
        return ""
    kind = content_type.split(";")[0].strip().lower()
    if kind.startswith(("audio/", "image/", "video/")) or kind == "application/octet-stream":
        return f"<{len(content)} bytes of {kind}>"
    text = content.decode("utf-8", errors="replace")
    try:
        text = json.dumps(scrub_tree(_elide_audio(json.loads(text))), ensure_ascii=False, indent=1)
    except ValueError:
        text = scrub(text)
    return _truncate(text, BODY_CHARS)


def render_http_exchange(request: httpx.Request, response: httpx.Response | None = None) -> str:
    """Request line, headers and body, then the response's: masked, scrubbed, bodies truncated."""
    lines = [f"→ {request.method} {_url(request.url)}", *_headers(request.headers)]
    body = _body(lambda: request.content, request.headers.get("content-type", ""))
    if body:
        lines += ["", body]
    if response is None:
        lines += ["", "← (no response)"]
    else:
        try:
            elapsed = f" ({response.elapsed.total_seconds() * 1000:.0f} ms)"
        except RuntimeError:  # elapsed is only known once the response is closed
            elapsed = ""
        lines += ["", f"← {response.status_code} {response.reason_phrase}{elapsed}", *_headers(response.headers)]
        body = _body(lambda: response.content, response.headers.get("content-type", ""))
        if body:
            lines += ["", body]
    return scrub("\n".join(lines)) + "\n"
