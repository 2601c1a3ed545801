"""Behaviour knobs: response delay, injected faults, audio pacing.

They come from the environment (defaults for every session) and can be changed per
session through ``session.update`` ``session.metadata``, so one sim process can serve a
healthy session and a failing one side by side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stack.service import ConfigError, env_int, env_str

FAULTS: tuple[str, ...] = ("none", "error_event", "close", "close_after_audio")
PACES: tuple[str, ...] = ("fast", "realtime")
MAX_DELAY_MS = 600_000

METADATA_DELAY = "sim_response_delay_ms"
METADATA_FAULT = "sim_fault"
METADATA_PACE = "sim_audio_pace"


class KnobError(ValueError):
    """A knob value in ``session.metadata`` is invalid; ``param`` names it for the error event."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Knobs:
    """What a session does differently from a healthy, instant model."""

    response_delay_ms: int = 0
    fault: str = "none"
    audio_pace: str = "fast"

    @classmethod
    def from_env(cls) -> Knobs:
        fault = env_str("SIM_FAULT", "none")
        if fault not in FAULTS:
            raise ConfigError(f"SIM_FAULT={fault!r} is not one of {', '.join(FAULTS)}")
        pace = env_str("SIM_AUDIO_PACE", "fast")
        if pace not in PACES:
            raise ConfigError(f"SIM_AUDIO_PACE={pace!r} is not one of {', '.join(PACES)}")
        delay = env_int("SIM_RESPONSE_DELAY_MS", 0, minimum=0)
        if delay > MAX_DELAY_MS:
            raise ConfigError(f"SIM_RESPONSE_DELAY_MS={delay} is above the maximum {MAX_DELAY_MS}")
        return cls(response_delay_ms=delay, fault=fault, audio_pace=pace)

    def with_metadata(self, metadata: Mapping[str, Any]) -> Knobs:
        """The knobs after applying ``session.metadata``; keys not given keep their value."""
        changes: dict[str, Any] = {}
        if METADATA_DELAY in metadata:
            changes["response_delay_ms"] = _parse_delay(metadata[METADATA_DELAY])
        if METADATA_FAULT in metadata:
            changes["fault"] = _parse_choice(metadata[METADATA_FAULT], METADATA_FAULT, FAULTS)
        if METADATA_PACE in metadata:
            changes["audio_pace"] = _parse_choice(metadata[METADATA_PACE], METADATA_PACE, PACES)
        return dataclasses.replace(self, **changes) if changes else self


def _parse_delay(value: Any) -> int:
    param = f"session.metadata.{METADATA_DELAY}"
    # Metadata values are strings in the real API; numbers are accepted for convenience.
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise KnobError(param, f"Invalid value for '{param}': expected milliseconds as a number.")
    try:
        delay = int(float(value))
    except ValueError:
        raise KnobError(param, f"Invalid value for '{param}': {value!r} is not a number.") from None
    if not 0 <= delay <= MAX_DELAY_MS:
        raise KnobError(param, f"Invalid value for '{param}': must be between 0 and {MAX_DELAY_MS}.")
    return delay


def _parse_choice(value: Any, key: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        param = f"session.metadata.{key}"
        raise KnobError(param, f"Invalid value for '{param}': {value!r}; supported: {', '.join(choices)}.")
    return str(value)
