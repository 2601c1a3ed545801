"""Process-wide settings of the simulator, read once from the environment at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from stack.service import env_int, env_str

from .faults import Knobs


@dataclass(frozen=True)
class SimSettings:
    """Everything the environment can set; a bad value raises ``ConfigError`` naming it."""

    api_key: str | None = None
    default_model: str = "gpt-realtime"
    knobs: Knobs = field(default_factory=Knobs)
    vad_rms: int = 500
    chunk_ms: int = 100
    max_buffer_bytes: int = 32 * 1024 * 1024

    @classmethod
    def from_env(cls) -> SimSettings:
        return cls(
            api_key=os.environ.get("SIM_API_KEY") or None,
            default_model=env_str("SIM_MODEL", "gpt-realtime"),
            knobs=Knobs.from_env(),
            vad_rms=env_int("SIM_VAD_RMS", 500, minimum=1),
            chunk_ms=env_int("SIM_AUDIO_CHUNK_MS", 100, minimum=10),
            max_buffer_bytes=env_int("SIM_MAX_BUFFER_BYTES", 32 * 1024 * 1024, minimum=48_000),
        )
