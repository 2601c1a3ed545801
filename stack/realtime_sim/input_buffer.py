"""The input audio buffer: audio appended but not yet committed, and the VAD watching it.

Audio is addressed by absolute byte position in the session's input stream (what the
detector reports and what ``audio_start_ms``/``audio_end_ms`` count), so a turn can be cut
out exactly where the detector says even after older audio was dropped.
"""

from __future__ import annotations

from typing import Any

from .vad import BYTES_PER_MS, EnergyVad

SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 500, "high": 250, "auto": 500}
DEFAULT_PREFIX_PADDING_MS = 300


class InputAudioBuffer:
    """Uncommitted input audio, the detector for the current ``turn_detection``, the turn being spoken."""

    def __init__(self, *, vad_rms: int) -> None:
        self._vad_rms = vad_rms  # RMS that counts as speech at threshold 0.5
        self._audio = bytearray()
        self._start = 0  # absolute position of _audio[0]
        self._end = 0  # bytes appended so far
        self._prefix_bytes = DEFAULT_PREFIX_PADDING_MS * BYTES_PER_MS
        self.vad: EnergyVad | None = None
        self.speech_item_id: str | None = None  # the user item of the turn being spoken

    def __len__(self) -> int:
        return len(self._audio)

    def reset_vad(self, detection: dict[str, Any] | None) -> None:
        """A fresh detector from the end of the stream (none without turn detection); forgets the turn."""
        self.speech_item_id = None
        self._prefix_bytes = int((detection or {}).get("prefix_padding_ms", DEFAULT_PREFIX_PADDING_MS)) * BYTES_PER_MS
        if detection is None:
            self.vad = None
            return
        if detection["type"] == "server_vad":
            threshold = float(detection.get("threshold", 0.5))
            silence_ms = int(detection.get("silence_duration_ms", 500))
        else:
            threshold = 0.5
            silence_ms = SEMANTIC_SILENCE_MS.get(detection.get("eagerness", "auto"), 500)
        self.vad = EnergyVad(
            origin=self._end,
            rms_threshold=max(1.0, self._vad_rms * threshold / 0.5),
            silence_ms=silence_ms,
        )

    def append(self, data: bytes) -> None:
        self._audio += data
        self._end += len(data)

    def start_turn(self, speech_position: int) -> int:
        """Keep the prefix padding before detected speech, drop older audio; returns where the turn starts."""
        start = max(self._start, speech_position - self._prefix_bytes)
        self._drop_before(start)
        return start

    def keep_prefix_only(self) -> None:
        """Between turns keep only the prefix padding, as a real VAD would: this also bounds
        memory for clients that stream silence for hours."""
        self._drop_before(self._end - self._prefix_bytes)

    def take(self, until: int | None = None) -> bytes:
        """Remove and return the audio before absolute position ``until`` (default: all of it)."""
        count = max(0, (self._end if until is None else until) - self._start)
        audio = bytes(self._audio[:count])
        del self._audio[:count]
        self._start += count
        return audio

    def clear(self) -> None:
        self._drop_before(self._end)

    def _drop_before(self, position: int) -> None:
        if position > self._start:
            del self._audio[: position - self._start]
            self._start = position
