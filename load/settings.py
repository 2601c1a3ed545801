"""What a load run needs to know: the target, the account, and how each simulated user talks.

Read from Locust's own options (``--host`` is the app's REST URL) and the options this
package adds (``--ws-url``, ``--chunk-ms``, ...), falling back to ``RQA_*`` environment
variables, and the target profile exactly as the e2e suite reads it (pyproject
``[tool.realtime-qa]``, ``RQA_PROFILE`` for a file, ``RQA_EMAIL`` / ``RQA_PASSWORD``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fixtures.profile import TargetProfile, load_profile

__all__ = ["LoadSettings", "add_options"]

REPO_ROOT = Path(__file__).resolve().parent.parent


_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--ws-url", {"env": "RQA_WS_URL", "default": "", "help": "the realtime socket URL"}),
    ("--chunk-ms", {"env": "RQA_CHUNK_MS", "default": 100, "type": int,
                    "help": "audio per input_audio_buffer.append, 20-200 ms (default 100)"}),
    ("--turns", {"env": "RQA_TURNS", "default": 2, "type": int,
                 "help": "turns per session; 0: one session per user, turning until the user stops"}),
    ("--wav", {"env": "RQA_WAV", "default": "", "help": "a PCM16 24 kHz WAV to stream (default: the spoken prompt)"}),
    ("--session-hold-s", {"env": "RQA_HOLD_S", "default": 0.0, "type": float,
                          "help": "keep each session open this long after its turns"}),
    ("--events-log", {"env": "RQA_EVENTS_LOG", "default": "",
                      "help": "append every request event of this process to this JSONL file"}),
    ("--steps", {"env": "RQA_STEPS", "default": "",
                 "help": "a step load (StepLoad shape): comma-separated user counts, each held --step-s"}),
    ("--step-s", {"env": "RQA_STEP_S", "default": 20.0, "type": float, "help": "how long each step is held"}),
    ("--lag-report", {"env": "RQA_LAG_REPORT", "default": "",
                      "help": "write this process's health (CPU, send lag) to this JSON file at the end"}),
]  # fmt: skip


def add_options(parser: Any) -> None:
    """Locust's ``init_command_line_parser``: our options (also shown in its web UI), env vars as defaults."""
    group = parser.add_argument_group("realtime-qa")
    for flag, spec in _OPTIONS:
        kind = spec.get("type", str)
        default = kind(os.environ[spec["env"]]) if os.environ.get(spec["env"]) else spec["default"]
        group.add_argument(flag, type=kind, default=default, help=f"{spec['help']} ({spec['env']})")
    group.add_argument("--barge-in", action="store_true", default=os.environ.get("RQA_BARGE_IN") == "1",
                       help="speak again while the answer plays, cancelling it (RQA_BARGE_IN=1)")  # fmt: skip


@dataclass(frozen=True)
class LoadSettings:
    api_url: str
    ws_url: str
    profile: TargetProfile = field(repr=False)
    chunk_ms: int = 100
    turns: int = 2
    barge_in: bool = False
    wav: str = ""
    hold_s: float = 0.0
    lag_report: str = ""

    @classmethod
    def from_options(cls, options: Any, host: str | None = None) -> LoadSettings:
        """``host``: the user's (a worker has it from its master's spawn, not from its own options)."""
        api_url = (host or getattr(options, "host", "") or os.environ.get("RQA_API_URL", "")).rstrip("/")
        ws_url = getattr(options, "ws_url", "") or os.environ.get("RQA_WS_URL", "")
        if not api_url or not ws_url:
            raise ValueError(
                "the target is not set: --host http://app:8080 --ws-url ws://app:8080/ws/realtime "
                "(or RQA_API_URL and RQA_WS_URL)"
            )
        chunk_ms = int(getattr(options, "chunk_ms", 100))
        if not 20 <= chunk_ms <= 200:
            raise ValueError(f"--chunk-ms {chunk_ms} is outside 20-200 ms")
        profile_file = os.environ.get("RQA_PROFILE")
        pyproject = REPO_ROOT / "pyproject.toml"  # absent in the Locust image: RQA_PROFILE, or the defaults
        profile = load_profile(
            pyproject=pyproject if pyproject.exists() else None,
            profile_file=Path(profile_file) if profile_file else None,
        )
        return cls(
            api_url=api_url,
            ws_url=ws_url,
            profile=profile,
            chunk_ms=chunk_ms,
            turns=max(0, int(getattr(options, "turns", 2))),
            barge_in=bool(getattr(options, "barge_in", False)),
            wav=str(getattr(options, "wav", "") or ""),
            hold_s=float(getattr(options, "session_hold_s", 0.0)),
            lag_report=str(getattr(options, "lag_report", "") or ""),
        )
