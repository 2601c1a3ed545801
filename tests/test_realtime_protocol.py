"""The transport-free realtime protocol: both generations' names, turns, timings, a bounded log."""

from __future__ import annotations

import base64

import pytest

from fixtures.openai_events import EventValidationError, validate_server_event
from fixtures.realtime_protocol import (
    EventLog,
    TimingMarks,
    TurnCollector,
    append_event,
    normalise,
    summarise,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _events(generation: str) -> list[dict]:
    audio, transcript = ("response.audio.delta", "response.audio_transcript.delta")
    if generation == "ga":
        audio, transcript = ("response.output_audio.delta", "response.output_audio_transcript.delta")
    return [
        {"type": "response.created", "response": {"id": "r1"}},
        {"type": audio, "delta": _b64(b"\x01\x02" * 10)},
        {"type": transcript, "delta": "I heard "},
        {"type": audio, "delta": _b64(b"\x03\x04" * 5)},
        {"type": transcript, "delta": "you."},
        {"type": "response.done", "response": {"id": "r1", "status": "completed"}},
    ]


@pytest.mark.parametrize("generation", ["ga", "beta"])
def test_a_turn_is_collected_from_either_generations_names(generation: str) -> None:
    collector = TurnCollector(started_at=100.0)
    done = [collector.feed(normalise(e), at=100.0 + i / 10) for i, e in enumerate(_events(generation))]
    assert done == [False] * 5 + [True]
    result = collector.result()
    assert result.audio == b"\x01\x02" * 10 + b"\x03\x04" * 5
    assert result.transcript == "I heard you."
    assert result.response["status"] == "completed"
    assert result.generation == generation
    assert result.time_to_first_audio_s == pytest.approx(0.1)
    assert result.duration_s == pytest.approx(0.5)


def test_an_unfinished_turn_has_no_result() -> None:
    collector = TurnCollector()
    collector.feed(normalise({"type": "response.created", "response": {}}))
    with pytest.raises(RuntimeError, match="not done"):
        collector.result()


def test_beta_names_keep_the_name_they_arrived_with() -> None:
    event = normalise({"type": "response.audio.delta", "delta": _b64(b"\0" * 300)})
    assert event["type"] == "response.output_audio.delta"
    assert summarise(event)["type"] == "response.audio.delta"
    assert summarise(event)["delta"] == "<base64 audio: 300 bytes>"


def test_the_log_is_bounded_and_elides_audio() -> None:
    log = EventLog(maxlen=10)
    for _ in range(100):
        log.record("sent", append_event(b"\0" * 4800))
    log.record("received", {"type": "session.created"})
    frames = list(log)
    assert len(frames) == 10
    assert log.total == 101
    assert frames[0]["event"]["audio"] == "<base64 audio: 4800 bytes>"
    assert log.types("received") == ["session.created"]


def test_timing_marks_keep_the_first_moment() -> None:
    marks = TimingMarks()
    marks.mark("open", 1.0)
    marks.mark("open", 5.0)
    marks.mark("first_audio", 1.25)
    assert marks.between("open", "first_audio") == pytest.approx(0.25)
    assert marks.between("open", "never") is None


def test_official_models_check_events_under_the_name_they_arrived_with() -> None:
    event = normalise(
        {
            "type": "response.audio.delta",
            "event_id": "e1",
            "response_id": "r1",
            "item_id": "i1",
            "output_index": 0,
            "content_index": 0,
            "delta": _b64(b"\0\0"),
        }
    )
    validate_server_event(event, generation="beta")
    with pytest.raises(EventValidationError, match="ResponseAudioDeltaEvent"):
        validate_server_event({**event, "item_id": 5}, generation="beta")
