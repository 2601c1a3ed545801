"""``RealtimeUser``: one simulated person per Locust user, speaking in real time over the realtime socket.

Each task is one voice session: open the socket (``ws_connect``), wait for
``session.created``, then per turn stream the audio as PCM16 24 kHz
``input_audio_buffer.append`` events at playback pace (``--chunk-ms``), commit, ask for a
response and collect it (``time_to_first_audio``, ``response_done``); with ``--barge-in``
the user talks over the answer and cancels it (``barge_in``). Every result goes through
Locust's request events; a session the deployment ends is a failure named by its close or
error code (``closed 4002`` is its own failure type, with the seed's message). The
protocol (event names of either generation, turn collection) is
``fixtures.realtime_protocol``; the socket is ``websockets.sync`` (gevent-friendly).
Chunks are encoded once per process and sent as pre-built JSON text.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User, between, events, task
from locust.runners import WorkerRunner
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from fixtures.audio import BYTES_PER_SECOND, utterance
from fixtures.realtime_protocol import TurnCollector, normalise, session_update_without_vad
from fixtures.speech import SpeechUnavailable, spoken_prompt
from load.event_log import EventLog
from load.gc_pauses import calm_the_collector
from load.generator_health import GeneratorHealth
from load.pacing import append_events, stream_paced
from load.settings import REPO_ROOT, LoadSettings
from load.token_cache import TokenCache

__all__ = ["HEALTH", "TOKENS", "RealtimeUser", "SessionEnded"]

log = logging.getLogger("realtime_qa.load")
TOKENS = TokenCache()
HEALTH = GeneratorHealth()
_CHUNKS: dict[tuple[str, int], list[bytes]] = {}  # (audio source, chunk ms) -> pre-built append events


class SessionEnded(Exception):
    """The deployment ended the session (close or error code in the message)."""


def _audio(settings: LoadSettings) -> bytes:
    if settings.wav:
        import wave

        with wave.open(settings.wav, "rb") as source:
            if (source.getframerate(), source.getsampwidth(), source.getnchannels()) != (24_000, 2, 1):
                raise ValueError(f"{settings.wav} must be PCM16 24 kHz mono")
            return source.readframes(source.getnframes())
    try:
        return spoken_prompt(settings.profile.realtime.prompt_text, REPO_ROOT / ".cache" / "speech").pcm24k
    except SpeechUnavailable:
        return utterance(1.5)


def prebuilt_chunks(settings: LoadSettings) -> list[bytes]:
    """The turn's audio as ready-to-send JSON text, built once per process (the hot path only sends)."""
    key = (settings.wav or "prompt", settings.chunk_ms)
    if key not in _CHUNKS:
        _CHUNKS[key] = append_events(_audio(settings), settings.chunk_ms)
    return _CHUNKS[key]


class RealtimeUser(User):
    """A person on a voice page: connects, talks for a few turns, listens, leaves."""

    wait_time = between(0.5, 2.0)
    settings: LoadSettings

    def on_start(self) -> None:
        self.settings = LoadSettings.from_options(self.environment.parsed_options, self.host or self.environment.host)
        profile = self.settings.profile
        self.email, self._password = profile.email, profile.password()
        self.chunks = prebuilt_chunks(self.settings)

    # -- reporting --------------------------------------------------------------------------
    def _fire(
        self, name: str, started: float, length: int = 0, exception: Exception | None = None, during: str = ""
    ) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={"during": during} if during else {},
        )

    def _ended(self, name: str, started: float, code: int | str | None, message: str = "") -> SessionEnded:
        """Report the session as ended by the deployment: the failure's name is its code."""
        if str(code) == str(self.settings.profile.close_codes.auth_failed):
            TOKENS.forget(self.settings.api_url, self.email)  # expired: the next session logs in again
        failure = SessionEnded(f"{code}: {message}".strip(": "))
        self._fire(f"closed {code}", started, exception=failure, during=name)
        return failure

    # -- the session ------------------------------------------------------------------------
    @task
    def voice_session(self) -> None:
        profile = self.settings.profile
        token = TOKENS.token(self.settings.api_url, profile.paths.login, self.email, self._password)
        started = time.perf_counter()
        try:
            ws = connect(
                f"{self.settings.ws_url}?token={token}", open_timeout=15, max_size=None, compression=None,
                origin=profile.realtime.origin or None,  # type: ignore[arg-type]
            )  # fmt: skip
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            self._fire("ws_connect", started, exception=exc)
            return
        self._fire("ws_connect", started)
        try:
            self._converse(ws, started)
        except SessionEnded:
            pass
        finally:
            ws.close()

    def _converse(self, ws: ClientConnection, started: float) -> None:
        first = self._next(ws, started, "session_created", 15)
        if first["type"] != "session.created":
            raise self._error_or_close(ws, first, started, "session_created")
        self._fire("session_created", started)
        ws.send(json.dumps(session_update_without_vad()))
        self._until(ws, "session.updated", started)
        turns = 0
        while self.settings.turns == 0 or turns < self.settings.turns:  # 0: talk for as long as the user lives
            self._turn(ws)
            turns += 1
        if self.settings.hold_s:
            gevent.sleep(self.settings.hold_s)

    def _turn(self, ws: ClientConnection) -> None:
        send = functools.partial(ws.send, text=True)  # the chunks are UTF-8 JSON already
        stream_paced(send, self.chunks, self.settings.chunk_ms / 1000, gevent.sleep, HEALTH.record_lag)
        ws.send('{"type":"input_audio_buffer.commit"}')
        asked = time.perf_counter()
        ws.send('{"type":"response.create"}')
        collector = TurnCollector()
        heard = barged = False
        while True:
            event = self._next(ws, asked, "response_done", self.settings.profile.realtime.turn_timeout_s)
            if event["type"] == "error":
                code = (event.get("error") or {}).get("code")
                raise self._ended("response_done", asked, code, str((event.get("error") or {}).get("message", "")))
            if collector.feed(event):
                break
            if collector.first_audio_at is not None and not heard:
                heard = True
                self._fire("time_to_first_audio", asked)
                if self.settings.barge_in:
                    barged = True  # the user talks over the answer: the rest of it must not play
                    ws.send(self.chunks[0], text=True)
                    ws.send('{"type":"response.cancel"}')
        result = collector.result()
        if barged:
            self._stop_playing(ws, result, asked, collector.first_audio_at or asked)
        self._fire("barge_in" if barged else "response_done", asked, length=len(result.audio))

    def _stop_playing(self, ws: ClientConnection, result: Any, asked: float, first_audio_at: float) -> None:
        """After barge-in the answer must stop: cancelled in flight, or truncated where playback stood.

        An answer that had all arrived before the cancel is still playing on the client, so the
        client truncates it to what was heard (``conversation.item.truncate``), as the real API
        expects; the cancel that came too late draws a ``response_cancel_not_active`` error.
        """
        status = result.response.get("status")
        if status == "cancelled":
            return
        output = result.response.get("output") or [{}]
        if status != "completed" or not output[0].get("id"):
            raise self._ended("barge_in", asked, f"response {status}", "the answer was not stopped by barge-in")
        played_ms = (time.monotonic() - first_audio_at) * 1000
        heard_ms = int(min(played_ms, len(result.audio) / BYTES_PER_SECOND * 1000))
        ws.send(json.dumps({"type": "conversation.item.truncate", "item_id": output[0]["id"],
                            "content_index": 0, "audio_end_ms": heard_ms}))  # fmt: skip
        while True:
            event = self._next(ws, asked, "barge_in", 15)
            if event["type"] == "conversation.item.truncated":
                return
            error = event.get("error") or {}
            if event["type"] == "error" and error.get("code") != "response_cancel_not_active":
                raise self._ended("barge_in", asked, error.get("code"), str(error.get("message", "")))

    def _next(self, ws: ClientConnection, started: float, name: str, timeout_s: float) -> dict[str, Any]:
        try:
            return normalise(json.loads(ws.recv(timeout=timeout_s)))
        except TimeoutError:
            raise self._ended(name, started, "timeout", f"nothing within {timeout_s:.0f} s") from None
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else 1006
            raise self._ended(name, started, code, exc.rcvd.reason if exc.rcvd else "") from None

    def _until(self, ws: ClientConnection, kind: str, started: float) -> dict[str, Any]:
        while True:
            event = self._next(ws, started, kind, 15)
            if event["type"] == kind:
                return event

    def _error_or_close(self, ws: ClientConnection, first: dict[str, Any], started: float, name: str) -> SessionEnded:
        """A session refused with an ``error`` event: named by the close code that follows (4002), else the error's."""
        error = first.get("error") or {}
        code = error.get("code")
        try:
            ws.recv(timeout=5)
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else code
        except TimeoutError:
            pass
        return self._ended(name, started, code, str(error.get("message", "")))


class _EventsSink:
    """``--events-log``: opened at the first event, since a worker learns the option from its master's spawn."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.log: EventLog | None = None
        self.off = False

    def _open(self) -> EventLog | None:
        if self.log is None and not self.off:
            options = self.environment.parsed_options
            path = getattr(options, "events_log", "") if options else ""
            self.off = not path
            self.log = EventLog(Path(path)) if path else None
        return self.log

    def request(self, **kwargs: Any) -> None:
        if (log_file := self._open()) is not None:
            log_file.request(**kwargs)

    def mark(self, what: str) -> None:
        if (log_file := self._open()) is not None:
            log_file.mark(what)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()


_SINKS: list[_EventsSink] = []


@events.init.add_listener
def _start_watching(environment: Any, **_kwargs: Any) -> None:
    """This process's generator health, and (with --events-log) its request events as JSON lines."""
    calm_the_collector()

    def watch() -> None:
        while True:
            gevent.sleep(HEALTH.window_s)
            HEALTH.check()

    gevent.spawn(watch)
    sink = _EventsSink(environment)
    _SINKS.append(sink)
    environment.events.request.add_listener(sink.request)
    environment.events.test_start.add_listener(lambda **_: sink.mark("test_start"))


@events.report_to_master.add_listener
def _send_health(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    data["realtime_qa_health"] = HEALTH.report()


@events.worker_report.add_listener
def _keep_worker_health(client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
    if "realtime_qa_health" in data:
        WORKER_HEALTH[client_id] = data["realtime_qa_health"]


WORKER_HEALTH: dict[str, dict[str, Any]] = {}


@events.quitting.add_listener
def _write_health(environment: Any, **_kwargs: Any) -> None:
    for sink in _SINKS:
        sink.close()
    path = getattr(environment.parsed_options, "lag_report", "") if environment.parsed_options else ""
    if path and not isinstance(environment.runner, WorkerRunner):  # a worker's report went to its master
        reports = [HEALTH.report(), *WORKER_HEALTH.values()]
        merged = GeneratorHealth.merge(reports) if WORKER_HEALTH else reports[0]
        Path(path).write_text(json.dumps(merged, indent=2))
