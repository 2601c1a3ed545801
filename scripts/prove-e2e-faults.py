#!/usr/bin/env python3
"""Proof that each e2e test guards something: break the reference stack, see the test fail.

For every fault below, a scratch copy of the repository gets one edit to ``stack/`` (the
bug a test is meant to catch), then ``pytest e2e -k <test> --stack=local`` (or ``load``)
runs in that copy. A test that passes against its broken stack is a test that cannot fail: the script
says so and exits 1. It first runs the whole suite on an unbroken copy (it must pass).

    .venv/bin/python scripts/prove-e2e-faults.py [--only NAME] [--keep]

Loopback only; each run is bounded (pytest-timeout and a subprocess timeout).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_NEVER_COPIED = {".git", ".venv", ".cache", "__pycache__", ".pytest_cache", ".ruff_cache"}


def _ignored(folder: str, names: list[str]) -> set[str]:
    """What a scratch copy does without: caches, the venv, generated reports."""
    skipped = {name for name in names if name in _NEVER_COPIED}
    if Path(folder).name == "reports":
        skipped.add("out")
    return skipped


@dataclass(frozen=True)
class Fault:
    test: str  # a -k expression selecting the test(s) that must fail
    what: str  # the bug, as a release note would say it
    path: str  # the file to break ("" for a fault of the machine, set through env)
    old: str
    new: str
    suite: str = "e2e"
    env: tuple[tuple[str, str], ...] = ()


JS = "stack/frontend/static/js/"
# A machine whose browser has no CJK font: fontconfig told about the Latin fonts only.
LATIN_ONLY_FONTS = """<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>{cache}</cachedir></fontconfig>
"""


FAULTS = [
    Fault(
        "test_health_answers_status_ok",
        "/health reports a status other than ok",
        "stack/app/api.py",
        '        "status": "ok",\n        "components"',
        '        "status": "starting",\n        "components"',
    ),
    Fault(
        "test_health_stays_fast_while_every_slot_streams",
        "a synchronous 5 ms call per relayed frame blocks the event loop (the seed's sync logging)",
        "stack/app/relay.py",
        "            self.session.touch()\n            counter.inc()\n            text = message.get",
        "            self.session.touch()\n            time.sleep(0.005)\n"
        "            counter.inc()\n            text = message.get",
    ),
    Fault(
        "test_the_account_logs_in_and_gets_a_token",
        "tokens are issued without an expiry",
        "stack/app/auth.py",
        '            "exp": now + self._ttl_s,\n',
        "",
    ),
    Fault(
        "test_a_wrong_password_gets_401_and_no_token",
        "any password logs a known account in",
        "stack/app/auth.py",
        "if hmac.compare_digest(candidate, stored) and account is not None:",
        "if account is not None:",
    ),
    Fault(
        "test_no_token_gets_401",
        "a request without a token is served as the admin",
        "stack/app/api.py",
        '    token = bearer_token(request.headers.get("authorization"))\n    try:',
        '    token = bearer_token(request.headers.get("authorization"))\n'
        "    if token is None:\n        return Identity(email='betty@123.com', role='admin')\n    try:",
    ),
    Fault(
        "test_a_bad_token_is_refused_on_the_socket_with_4001",
        "a bad token closes with 1008, not 4001",
        "stack/app/relay.py",
        'await _close(websocket, CloseCode.AUTH_FAILED, "authentication failed", ctx)',
        'await _close(websocket, 1008, "authentication failed", ctx)',
    ),
    Fault(
        "test_start_live_up_to_the_limit_then_4002",
        "the pool admits one session over its limit",
        "stack/app/pool.py",
        "if len(self._sessions) >= self.limit:",
        "if len(self._sessions) > self.limit:",
    ),
    Fault(
        "test_sessions_lists_what_start_live_opened",
        "/api/sessions lists realtime sessions only",
        "stack/app/api.py",
        "    sessions = [s.public() for s in visible]",
        "    sessions = [s.public() for s in visible if s.kind == 'realtime']",
    ),
    Fault(
        "test_leave_room_frees_a_slot_for_the_next_start_live",
        "leave_room answers 200 and frees nothing",
        "stack/app/api.py",
        '    if ctx.pool.release(live_id, "leave_room") is None:',
        "    if ctx.pool.get(live_id) is None:",
    ),
    Fault(
        "test_clear_all_sessions_frees_every_slot_and_ends_live_sockets",
        "clear_all_sessions frees the slots but leaves realtime sockets open",
        "stack/app/pool.py",
        '    "clear_all_sessions": CloseCode.SESSION_CLEARED,\n',
        "",
    ),
    Fault(
        "test_a_spoken_turn_comes_back_as_audio_and_transcript",
        "the model's answer loses its last audio chunk",
        "stack/realtime_sim/responses.py",
        "        chunks = [audio[i : i + chunk_bytes] for i in range(0, len(audio), chunk_bytes)]\n",
        "        chunks = [audio[i : i + chunk_bytes] for i in range(0, len(audio), chunk_bytes)][:-1]\n",
    ),
    Fault(
        "test_the_official_openai_client_completes_a_turn",
        "the token is read from ?token= only (SDKs send a header)",
        "stack/app/relay.py",
        'token = websocket.query_params.get("token") or bearer_token(websocket.headers.get("authorization"))',
        'token = websocket.query_params.get("token")',
    ),
    Fault(
        "test_a_full_pool_refuses_the_socket_with_4002",
        "a full pool closes 4002 without the error event",
        "stack/app/relay.py",
        '            await websocket.send_json(error_event("4002", POOL_FULL_MESSAGE, "invalid_request_error"))',
        "            pass",
    ),
    Fault(
        "test_a_clean_close_frees_the_slot",
        "a client's clean close does not free its slot",
        "stack/app/relay.py",
        "        ctx.pool.release(session.live_id, relay.release_reason)\n",
        "        if relay.release_reason != 'client_disconnect':\n"
        "            ctx.pool.release(session.live_id, relay.release_reason)\n",
    ),
    Fault(
        "test_an_abrupt_tcp_drop_frees_the_slot",
        "a connection that ends without a close frame parks the relay and holds the slot",
        "stack/app/relay.py",
        '            if message["type"] == "websocket.disconnect":\n',
        '            if message["type"] == "websocket.disconnect" and message.get("code") != 1000:\n'
        "                await asyncio.Event().wait()\n"
        '            if message["type"] == "websocket.disconnect":\n',
    ),
    Fault(
        "test_clients_vanishing_mid_stream_leave_the_deployment_healthy",
        "the seed's crash: the relay's cleanup checks upstream.closed (gone in websockets 14) before "
        "freeing the slot, so every session that ends leaks its slot",
        "stack/app/relay.py",
        "    finally:\n        ctx.pool.release(session.live_id, relay.release_reason)\n",
        "    finally:\n        if relay.upstream is not None and not relay.upstream.closed:\n            pass\n"
        "        ctx.pool.release(session.live_id, relay.release_reason)\n",
    ),
    Fault(
        "test_an_upstream_failure_is_reported_and_frees_the_slot",
        "a lost model connection closes 1000 without an error event",
        "stack/app/relay.py",
        '            await self._fail("realtime model connection lost")',
        '            await _close(self.websocket, 1000, "bye", self.ctx)',
    ),
    Fault(
        "test_sessions_opened_while_the_model_is_cut_off_fail_cleanly",
        "a session whose model cannot be reached hangs holding its slot",
        "stack/app/relay.py",
        '            await self._fail(f"realtime model unavailable: {type(exc).__name__}")',
        "            await asyncio.sleep(3600)",
    ),
    # -- the load smoke (load/) ------------------------------------------------------------------
    Fault(
        "test_streaming_sessions_meet_the_time_to_first_audio_slo",
        "the model takes 2.5 s to start every answer (the SLO is 2 s)",
        "stack/realtime_sim/faults.py",
        'delay = env_int("SIM_RESPONSE_DELAY_MS", 0, minimum=0)',
        'delay = env_int("SIM_RESPONSE_DELAY_MS", 2500, minimum=0)',
        suite="load",
    ),
    Fault(
        "test_past_the_limit_the_extra_sessions_get_4002_and_the_held_ones_keep_working",
        "under load the pool admits one session over its limit",
        "stack/app/pool.py",
        "if len(self._sessions) >= self.limit:",
        "if len(self._sessions) > self.limit:",
        suite="load",
    ),
    Fault(
        "test_past_the_limit_the_extra_sessions_get_4002_and_the_held_ones_keep_working",
        "a full pool closes the socket 1011 instead of 4002",
        "stack/app/relay.py",
        '        await _close(websocket, CloseCode.POOL_FULL, "concurrency over limit", ctx)',
        '        await _close(websocket, 1011, "concurrency over limit", ctx)',
        suite="load",
    ),
    # -- the browser suite (e2e/browser) --------------------------------------------------------
    Fault(
        "test_the_test_account_logs_in_and_the_token_survives_a_reload",
        "the login page stores the token where the voice page does not look",
        JS + "config.js",
        "  window.localStorage.setItem(TOKEN_KEY, token);",
        "  window.sessionStorage.setItem('t', token);",
        suite="e2e/browser",
    ),
    Fault(
        "test_a_wrong_password_shows_an_error_and_stores_nothing",
        "a refused login says nothing",
        JS + "login.js",
        "  show(errorBox, failureMessage(result));",
        "  show(errorBox, '');",
        suite="e2e/browser",
    ),
    Fault(
        "test_without_a_token_the_page_asks_to_log_in_and_opens_no_socket",
        "the voice page connects without a token",
        JS + "voice.js",
        "  if (!token) {",
        "  if (false) {",
        suite="e2e/browser",
    ),
    Fault(
        "test_a_bad_token_shows_auth_failed_and_never_retries",
        "a 4001 close is retried like a network drop",
        JS + "realtime-client.js",
        "    if (code === CLOSE_CODES.AUTH_FAILED) {",
        "    if (false) {",
        suite="e2e/browser",
    ),
    Fault(
        "test_recording_moves_the_waveform_and_the_answer_is_heard",
        "开始录音 never asks for the microphone (the seed's 问题 4)",
        JS + "voice.js",
        "  show(ui.micError, '');\n  player.unlock();",
        "  busy = false;\n  return;\n  player.unlock();",
        suite="e2e/browser",
    ),
    Fault(
        "test_recording_moves_the_waveform_and_the_answer_is_heard",
        "the waveform is never drawn",
        JS + "audio.js",
        "    cancelAnimationFrame(this._raf);\n    this._raf = requestAnimationFrame(this._draw);",
        "    cancelAnimationFrame(this._raf);",
        suite="e2e/browser",
    ),
    Fault(
        "test_recording_moves_the_waveform_and_the_answer_is_heard",
        "the answer's audio is never played",
        JS + "audio.js",
        "    source.start(startAt);",
        "    void startAt;",
        suite="e2e/browser",
    ),
    Fault(
        "test_a_refused_microphone_is_said_on_the_page_and_holds_no_extra_slot",
        "a refused microphone is not said on the page",
        JS + "voice.js",
        "    show(ui.micError, micErrorMessage(err));",
        "    show(ui.micError, '');",
        suite="e2e/browser",
    ),
    Fault(
        "test_the_seeds_chinese_strings_render_as_glyphs",
        "the browser's machine has no CJK font",
        "",
        "",
        "",
        suite="e2e/browser",
        env=(("FONTCONFIG_FILE", "{latin_only}"),),
    ),
    Fault(
        "test_a_dropped_connection_shows_the_banner_backs_off_and_recovers",
        "a dropped connection is never retried",
        JS + "realtime-client.js",
        "    this._scheduleRetry(kind, { code, reason, error: lastError });",
        "    this._setState('stopped');",
        suite="e2e/browser",
    ),
    Fault(
        "test_a_dropped_connection_shows_the_banner_backs_off_and_recovers",
        "reconnects without jitter",
        JS + "backoff.js",
        "const delayMs = Math.floor(this.random() * ceilingMs);",
        "const delayMs = ceilingMs;",
        suite="e2e/browser",
    ),
    Fault(
        "test_a_dropped_connection_shows_the_banner_backs_off_and_recovers",
        "reconnects without backoff",
        JS + "backoff.js",
        "const delayMs = Math.floor(this.random() * ceilingMs);",
        "const delayMs = Math.floor(this.random() * this.baseMs);",
        suite="e2e/browser",
    ),
    Fault(
        "test_a_socket_that_never_opens_shows_the_connect_timeout",
        "a socket that never opens is waited on forever",
        JS + "realtime-client.js",
        "    }, this.connectTimeoutMs);",
        "    }, 3600 * 1000);",
        suite="e2e/browser",
    ),
    Fault(
        "test_a_full_pool_shows_4002_to_the_second_page_until_the_first_leaves",
        "4002 is shown without the seed's text",
        JS + "voice.js",
        "        show(ui.error, (error && error.message) || POOL_FULL_MESSAGE);",
        "        show(ui.error, '');",
        suite="e2e/browser",
    ),
    Fault(
        "test_a_full_pool_shows_4002_to_the_second_page_until_the_first_leaves",
        "a page refused with 4002 never tries again",
        JS + "realtime-client.js",
        "    if (poolFull) kind = 'pool-full';",
        "    if (poolFull) return this._setState('stopped');",
        suite="e2e/browser",
    ),
    Fault(
        "test_every_check_passes_on_a_healthy_deployment",
        "the diagnostics page's WebSocket check never passes",
        JS + "diagnostics-page.js",
        "      if (event.type === 'session.created') finish({ ok: true,",
        "      if (false) finish({ ok: true,",
        suite="e2e/browser",
    ),
    Fault(
        "test_the_health_check_fails_when_the_app_is_down",
        "the diagnostics page says healthy when the app is down",
        JS + "api.js",
        "    return { ok: false, status: 0, body: null,",
        "    return { ok: true, status: 200, body: null,",
        suite="e2e/browser",
    ),
]


def scratch_copy(parent: Path) -> Path:
    copy = parent / "repo"
    shutil.copytree(ROOT, copy, ignore=_ignored)
    return copy


def run(copy: Path, select: str | None, out: Path, suite: str = "e2e", env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    command = [sys.executable, "-m", "pytest", *suite.split(), "--stack=local", "-q", "-p", "no:cacheprovider",
               f"--alluredir={out}", "--timeout=120"]  # fmt: skip
    if select:
        command += ["-k", select]
    started = time.monotonic()
    try:
        # Failing runs keep their stacks' logs: under the scratch directory, removed with it
        # (its path is short enough for the socket Chromium puts in TMPDIR).
        env = {**os.environ, "TMPDIR": str(copy.parent), **(env or {})}
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return -1, "timed out after 600 s", time.monotonic() - started
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def summary_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("realtime-qa: ") and "target:" not in line]
    if errors:  # a setup error (exit 6): say which
        return errors[-1][:300]
    lines = [
        line.strip("= ") for line in output.splitlines() if " in " in line and ("passed" in line or "failed" in line)
    ]
    return lines[-1] if lines else output.strip().splitlines()[-1][:200]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only the faults whose test contains this (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    faults = [f for f in FAULTS if not args.only or any(only in f.test for only in args.only)]
    work = Path(tempfile.mkdtemp(prefix="realtime-qa-faults-"))
    escaped: list[str] = []
    try:
        copy = scratch_copy(work)
        latin_only = work / "latin-only-fonts.conf"
        latin_only.write_text(LATIN_ONLY_FONTS.format(cache=work / "fontcache"))
        code, output, took = run(copy, None, work / "baseline", "e2e load")
        print(f"baseline (no fault): exit {code}, {summary_line(output)} ({took:.0f} s)", flush=True)
        if code != 0:
            print(output[-3000:])
            return 1
        for fault in faults:
            env = {k: v.format(latin_only=latin_only) for k, v in fault.env}
            if not fault.path:
                code, output, took = run(copy, fault.test, work / "out", fault.suite, env)
                caught = code == 1 and "failed" in summary_line(output)
                print(f"{'caught ' if caught else 'ESCAPED'} {fault.test} <- {fault.what} [{env}]: "
                      f"{summary_line(output)} ({took:.0f} s)", flush=True)  # fmt: skip
                if not caught:
                    escaped.append(fault.test)
                continue
            target = copy / fault.path
            original = target.read_text()
            if fault.old not in original:
                print(f"!! {fault.test}: the text to break is not in {fault.path}; update the fault", flush=True)
                escaped.append(fault.test)
                continue
            target.write_text(original.replace(fault.old, fault.new, 1))
            try:
                code, output, took = run(copy, fault.test, work / "out", fault.suite, env)
            finally:
                target.write_text(original)
            caught = code == 1 and "failed" in summary_line(output)
            mark = "caught " if caught else "ESCAPED"
            print(
                f"{mark} {fault.test} <- {fault.what} [{fault.path}]: {summary_line(output)} ({took:.0f} s)", flush=True
            )
            if not caught:
                escaped.append(fault.test)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(faults) - len(escaped)}/{len(faults)} faults caught" + (f"; escaped: {escaped}" if escaped else ""))
    return 1 if escaped else 0


if __name__ == "__main__":
    raise SystemExit(main())
