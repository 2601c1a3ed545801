"""``realtime-qa diagnose``: the seeds' one-click diagnosis, for any deployment.

The same checks the second seed's test page runs (健康检查, 登录测试, WebSocket 测试), plus
what the first seed checks by hand (``/api/sessions`` against the pool limit) and one
spoken turn. Each check prints one line, ✅ or ❌, and a failed one the remedy its seed
gives. ``--json PATH`` writes the same as data. Exit 0 when every check passed, 1 when
one failed, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Check", "add_arguments", "run_diagnose"]


@dataclass
class Check:
    name: str
    ok: bool | None  # None: not run (a check it needs failed)
    detail: str
    seed_class: str = ""  # whose remedy a failure gets (reports.categories)
    ms: float | None = None

    @property
    def remedy(self) -> str:
        if self.ok is not False or not self.seed_class:
            return ""
        from reports.categories import by_id

        return by_id(self.seed_class).remedy

    def line(self) -> str:
        mark = {True: "✅", False: "❌", None: "⏭"}[self.ok]
        took = f" ({self.ms:.0f} ms)" if self.ms is not None else ""
        remedy = f"\n   remedy: {self.remedy}" if self.remedy else ""
        return f"{mark} {self.name}: {self.detail}{took}{remedy}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-url", required=True, help="the app's REST URL, e.g. http://localhost:8080")
    parser.add_argument("--ws-url", required=True, help="the realtime socket, e.g. ws://localhost:8080/ws/realtime")
    parser.add_argument("--base-url", default="", help="the front end, e.g. http://localhost:3000 (checked if given)")
    parser.add_argument("--email", default="", help="the account (default: RQA_EMAIL, the profile, the seeds')")
    parser.add_argument("--password-env", default="", metavar="NAME", help="the variable holding its password")
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE.toml", help="target profile")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds each check may take (default 10)")


class _Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


async def _health(api: Any, profile: Any) -> Check:
    clock, url = _Clock(), f"{api.base_url}{profile.paths.health}"
    try:
        response = await api.request("GET", profile.paths.health)
    except AssertionError as exc:
        return Check("健康检查 health", False, f"GET {url}: {_first_line(exc)}", "timeout", clock.ms)
    status = response.json().get("status") if response.status_code == 200 else None
    detail = f"GET {url} → HTTP {response.status_code}, status {status!r}"
    return Check("健康检查 health", status == "ok", detail, "timeout", clock.ms)


async def _frontend(base_url: str, timeout_s: float) -> Check:
    import httpx

    clock = _Clock()
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as http:
            page = await http.get(base_url)
    except httpx.HTTPError as exc:
        return Check("前端 frontend", False, f"GET {base_url}: {type(exc).__name__}", "timeout", clock.ms)
    ok = page.status_code == 200 and "html" in page.headers.get("content-type", "")
    return Check("前端 frontend", ok, f"GET {base_url} → HTTP {page.status_code}", "timeout", clock.ms)


async def _login(api: Any, profile: Any) -> tuple[Check, str | None]:
    from reports.scrub import register_secret

    clock = _Clock()
    try:
        password = profile.password()
        register_secret(password)
        token = await api.login(profile.email, password)
    except Exception as exc:
        return Check("登录测试 login", False, f"{profile.email}: {_first_line(exc)}", "auth", clock.ms), None
    register_secret(token)
    return Check("登录测试 login", True, f"{profile.email} got a token", ms=clock.ms), token


async def _sessions(api: Any, profile: Any) -> Check:
    clock = _Clock()
    try:
        response = await api.request("GET", profile.paths.sessions)
        body = response.json()
    except Exception as exc:
        return Check("会话数 sessions", False, f"GET {profile.paths.sessions}: {_first_line(exc)}", "concurrency")
    count = len(body.get("sessions", []))
    limit = body.get("limit") or profile.pool.limit or None
    full = limit is not None and count >= int(limit)
    detail = f"{count} live session(s)" + (f" of a limit of {limit}" if limit else " (limit unknown)")
    if full:
        detail += ": the pool is full, the next session gets 4002"
    return Check("会话数 sessions", response.status_code == 200 and not full, detail, "concurrency", clock.ms)


async def _socket_and_turn(args: argparse.Namespace, profile: Any, token: str) -> list[Check]:
    from fixtures.audio import utterance
    from fixtures.realtime_client import RealtimeClient
    from fixtures.speech import SpeechUnavailable, spoken_prompt

    clock = _Clock()
    try:
        client = await RealtimeClient.connect(
            args.ws_url, token, open_timeout_s=args.timeout, origin=args.base_url or None
        )
    except Exception as exc:
        detail = f"{args.ws_url}: 连接超时，请检查网络连接 ({_first_line(exc)})"
        return [Check("WebSocket 测试 websocket", False, detail, "websocket", clock.ms), _skipped("turn")]
    async with client:
        try:
            first = await client.wait_for(["session.created", "error"], timeout_s=args.timeout)
        except AssertionError as exc:
            first = {"type": "timeout", "error": {"message": _first_line(exc)}}
        if first["type"] != "session.created":
            error = first.get("error") or {}
            seed_class = "concurrency" if str(error.get("code")) == "4002" else "websocket"
            detail = f"no session.created: {error.get('message')}"
            return [Check("WebSocket 测试 websocket", False, detail, seed_class, clock.ms), _skipped("turn")]
        checks = [Check("WebSocket 测试 websocket", True, "session.created", ms=clock.ms)]
        try:
            pcm = spoken_prompt(profile.realtime.prompt_text, Path.home() / ".cache" / "realtime-qa").pcm24k
        except SpeechUnavailable:
            pcm = utterance(1.0)
        clock = _Clock()
        try:
            await client.disable_server_vad()
            result = await client.turn(pcm, timeout_s=profile.realtime.turn_timeout_s)
        except AssertionError as exc:
            return [*checks, Check("一轮对话 turn", False, _first_line(exc), "timeout", clock.ms)]
        ttfa = result.time_to_first_audio_s
        ok = result.response.get("status") == "completed" and bool(result.audio)
        detail = f"{result.audio_seconds:.2f} s of audio, transcript {result.transcript[:60]!r}"
        detail += f", first audio after {ttfa * 1000:.0f} ms" if ttfa is not None else ", no audio"
        return [*checks, Check("一轮对话 turn", ok, detail, "websocket", clock.ms)]


def _skipped(what: str) -> Check:
    names = {"turn": "一轮对话 turn", "websocket": "WebSocket 测试 websocket", "sessions": "会话数 sessions"}
    return Check(names[what], None, "not run: a check it needs failed")


async def _diagnose(args: argparse.Namespace, profile: Any) -> list[Check]:
    from fixtures.api_client import ApiClient

    async with ApiClient(args.api_url, timeout_s=args.timeout, paths=profile.paths) as api:
        checks = [await _health(api, profile)]
        if args.base_url:
            checks.append(await _frontend(args.base_url, args.timeout))
        login, token = await _login(api, profile)
        checks.append(login)
        if token is None:
            return [*checks, _skipped("sessions"), _skipped("websocket"), _skipped("turn")]
        checks.append(await _sessions(api, profile))
    return checks + await _socket_and_turn(args, profile, token)


def _bad_url(args: argparse.Namespace) -> str | None:
    for flag, url, schemes in (
        ("--api-url", args.api_url, ("http", "https")),
        ("--ws-url", args.ws_url, ("ws", "wss")),
    ):
        scheme, sep, rest = url.partition("://")
        if scheme not in schemes or not sep or not rest:
            return f"{flag}={url!r} is not a {'/'.join(schemes)} URL (e.g. {schemes[0]}://localhost:8080)"
    return None


def run_diagnose(args: argparse.Namespace) -> int:
    from fixtures.errors import ProfileError
    from fixtures.profile import load_profile
    from reports.scrub import scrub, scrub_tree

    overrides = {key: value for key, value in (("email", args.email), ("password_env", args.password_env)) if value}
    try:
        profile = load_profile(profile_file=args.profile, overrides=overrides)
    except ProfileError as exc:
        print(f"realtime-qa: {exc}", file=sys.stderr)
        return 2
    problem = _bad_url(args)
    if problem:
        print(f"realtime-qa: {problem}", file=sys.stderr)
        return 2
    checks = asyncio.run(_diagnose(args, profile))
    for check in checks:
        print(scrub(check.line()), flush=True)
    failed = [c.name for c in checks if c.ok is False]
    passed = sum(1 for c in checks if c.ok)
    print(f"❌ {len(failed)} check(s) failed: {', '.join(failed)}" if failed else f"✅ {passed}/{len(checks)} passed")
    if args.json:
        rows = [{**asdict(c), "remedy": c.remedy} for c in checks]
        payload = {"api_url": args.api_url, "ws_url": args.ws_url, "ok": not failed, "checks": rows}
        args.json.write_text(json.dumps(scrub_tree(payload), ensure_ascii=False, indent=2) + "\n")
    return 1 if failed else 0
