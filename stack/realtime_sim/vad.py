"""Energy voice-activity detection over PCM16 24 kHz mono, in 20 ms frames.

Deterministic on purpose: a frame is speech when its RMS reaches a threshold, a turn
starts at the first speech frame and ends after ``silence_ms`` of non-speech frames.
Positions are absolute byte offsets in the session's audio stream, so the session can cut
its input buffer exactly where the detector says.

The RMS of a frame is computed in C (``audioop`` up to Python 3.12, ``math.sumprod``
after), because hundreds of sessions at 50 frames/s each would not afford a Python loop
over every sample.
"""

from __future__ import annotations

import math
import operator
import sys
import warnings
from array import array
from collections.abc import Callable
from dataclasses import dataclass

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # 48
FRAME_MS = 20
FRAME_BYTES = FRAME_MS * BYTES_PER_MS  # 960


def duration_ms(byte_count: int) -> int:
    """Whole milliseconds of audio in ``byte_count`` bytes: positions and lengths on the wire are in ms."""
    return byte_count // BYTES_PER_MS


def _rms_python(frame: bytes | memoryview) -> float:
    samples = array("h", frame)
    if sys.byteorder == "big":  # pragma: no cover - PCM16 on the wire is little-endian
        samples.byteswap()
    if not samples:
        return 0.0
    sumprod = getattr(math, "sumprod", None)
    total = sumprod(samples, samples) if sumprod else sum(map(operator.mul, samples, samples))
    return math.sqrt(total / len(samples))


def _pick_rms() -> Callable[[bytes | memoryview], float]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioop  # deprecated in 3.11, removed in 3.13; fastest where present
    except ImportError:  # pragma: no cover - Python 3.13+
        return _rms_python
    if sys.byteorder == "big":  # pragma: no cover
        return _rms_python
    return lambda frame: float(audioop.rms(frame, 2))


frame_rms: Callable[[bytes | memoryview], float] = _pick_rms()


@dataclass(frozen=True)
class VadEvent:
    """``speech_started`` at the first loud frame's start, ``speech_stopped`` where silence
    had lasted long enough (the end of the last frame examined)."""

    kind: str
    position: int


class EnergyVad:
    """Turns appended audio into speech start/stop events."""

    def __init__(self, *, origin: int, rms_threshold: float, silence_ms: int) -> None:
        self._position = origin  # absolute offset of the next whole frame
        self._partial = bytearray()
        self._threshold = rms_threshold
        self._silence_frames = max(1, math.ceil(silence_ms / FRAME_MS))
        self._silent_run = 0
        self.in_speech = False

    def feed(self, data: bytes) -> list[VadEvent]:
        """Consume audio; return the events it caused, in order."""
        self._partial += data
        whole = len(self._partial) // FRAME_BYTES
        if not whole:
            return []
        events: list[VadEvent] = []
        with memoryview(self._partial) as view:
            for index in range(whole):
                start = index * FRAME_BYTES
                loud = frame_rms(view[start : start + FRAME_BYTES]) >= self._threshold
                frame_start = self._position + start
                if loud:
                    self._silent_run = 0
                    if not self.in_speech:
                        self.in_speech = True
                        events.append(VadEvent("speech_started", frame_start))
                elif self.in_speech:
                    self._silent_run += 1
                    if self._silent_run >= self._silence_frames:
                        self.in_speech = False
                        self._silent_run = 0
                        events.append(VadEvent("speech_stopped", frame_start + FRAME_BYTES))
        consumed = whole * FRAME_BYTES
        del self._partial[:consumed]
        self._position += consumed
        return events
