"""The GA session object: its defaults, the checks on ``session.update``, and merging.

``session.update`` is checked here (unknown parameters and wrong values are refused with
an ``error`` event, as the real API does) so that what the sim echoes in
``session.updated`` always validates against the official models, and so that an app
sending beta-era fields (``modalities``, ``voice`` at the top level...) is caught here
rather than against the real service.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from .protocol import PCM_FORMAT

DEFAULT_INSTRUCTIONS = (
    "You are realtime-sim, a deterministic stand-in for a realtime voice model. You repeat what you heard."
)
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


class SessionConfigError(ValueError):
    """``session.update`` asked for something invalid; fields mirror the API's error object."""

    def __init__(self, message: str, *, param: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def server_vad_defaults() -> dict[str, Any]:
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


def semantic_vad_defaults() -> dict[str, Any]:
    return {"type": "semantic_vad", "eagerness": "auto", "create_response": True, "interrupt_response": True}


def default_session(model: str) -> dict[str, Any]:
    """What ``session.created`` announces (without the id fields the server adds)."""
    return {
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "include": None,
        "audio": {
            "input": {
                "format": dict(PCM_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": server_vad_defaults(),
            },
            "output": {"format": dict(PCM_FORMAT), "voice": "marin", "speed": 1.0},
        },
    }


# -- checks -----------------------------------------------------------------------------
def _fail(param: str, message: str, code: str = "invalid_value") -> SessionConfigError:
    return SessionConfigError(message, param=param, code=code)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_keys(value: Any, param: str, allowed: Mapping[str, Callable[[Any, str], None]]) -> None:
    if not isinstance(value, dict):
        raise _fail(param, f"Invalid type for '{param}': expected an object.", "invalid_type")
    for key, item in value.items():
        check = allowed.get(key)
        if check is None:
            raise _fail(f"{param}.{key}", f"Unknown parameter: '{param}.{key}'.", "unknown_parameter")
        check(item, f"{param}.{key}")


def _string(value: Any, param: str) -> None:
    if not isinstance(value, str):
        raise _fail(param, f"Invalid type for '{param}': expected a string.", "invalid_type")


def _optional_string(value: Any, param: str) -> None:
    if value is not None:
        _string(value, param)


def _boolean(value: Any, param: str) -> None:
    if not isinstance(value, bool):
        raise _fail(param, f"Invalid type for '{param}': expected a boolean.", "invalid_type")


def _non_negative_int(value: Any, param: str) -> None:
    if not _is_int(value) or value < 0:
        raise _fail(param, f"Invalid value for '{param}': expected a non-negative integer.")


def _optional_non_negative_int(value: Any, param: str) -> None:
    if value is not None:
        _non_negative_int(value, param)


def _one_of(*choices: Any) -> Callable[[Any, str], None]:
    def check(value: Any, param: str) -> None:
        if value not in choices:
            supported = ", ".join(repr(c) for c in choices)
            raise _fail(param, f"Invalid value: {value!r}. Supported values are: {supported}.")

    return check


def _number_between(low: float, high: float) -> Callable[[Any, str], None]:
    def check(value: Any, param: str) -> None:
        if not _is_number(value) or not low <= value <= high:
            raise _fail(param, f"Invalid value for '{param}': expected a number between {low} and {high}.")

    return check


def _string_list(value: Any, param: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(param, f"Invalid type for '{param}': expected a list of strings.", "invalid_type")


def _audio_format(value: Any, param: str) -> None:
    _check_keys(value, param, {"type": _string, "rate": _number_between(0, 10**6)})
    if value.get("type") != "audio/pcm" or value.get("rate", 24000) != 24000:
        raise _fail(param, f"realtime-sim supports only audio/pcm at 24000 Hz for '{param}'.")


def _turn_detection(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _fail(param, f"Invalid type for '{param}': expected an object or null.", "invalid_type")
    kind = value.get("type")
    if kind == "server_vad":
        _check_keys(
            value,
            param,
            {
                "type": _string,
                "threshold": _number_between(0.0, 1.0),
                "prefix_padding_ms": _non_negative_int,
                "silence_duration_ms": _non_negative_int,
                "idle_timeout_ms": _optional_non_negative_int,
                "create_response": _boolean,
                "interrupt_response": _boolean,
            },
        )
    elif kind == "semantic_vad":
        _check_keys(
            value,
            param,
            {
                "type": _string,
                "eagerness": _one_of("low", "medium", "high", "auto"),
                "create_response": _boolean,
                "interrupt_response": _boolean,
            },
        )
    else:
        raise _fail(f"{param}.type", f"Invalid value: {kind!r}. Supported values are: 'server_vad', 'semantic_vad'.")


def _transcription(value: Any, param: str) -> None:
    if value is None:
        return
    _check_keys(
        value,
        param,
        {
            "model": _string,
            "language": _string,
            "prompt": _string,
            "delay": _one_of("minimal", "low", "medium", "high", "xhigh"),
            "keywords": _string_list,
            "languages": _string_list,
        },
    )


def _noise_reduction(value: Any, param: str) -> None:
    if value is None:
        return
    _check_keys(value, param, {"type": _one_of("near_field", "far_field"), "strength": _number_between(0, 1)})


def _voice(value: Any, param: str) -> None:
    if isinstance(value, dict):
        _check_keys(value, param, {"id": _string})
        if "id" not in value:
            raise _fail(f"{param}.id", f"Missing required parameter: '{param}.id'.", "missing_required_parameter")
    else:
        _string(value, param)


def _audio(value: Any, param: str) -> None:
    _check_keys(
        value,
        param,
        {
            "input": lambda v, p: _check_keys(
                v,
                p,
                {
                    "format": _audio_format,
                    "transcription": _transcription,
                    "noise_reduction": _noise_reduction,
                    "turn_detection": _turn_detection,
                },
            ),
            "output": lambda v, p: _check_keys(
                v, p, {"format": _audio_format, "voice": _voice, "speed": _number_between(0.25, 1.5)}
            ),
        },
    )


def _output_modalities(value: Any, param: str) -> None:
    if value != ["audio"]:
        raise _fail(param, f"realtime-sim answers with audio (and its transcript) only: set '{param}' to ['audio'].")


def _max_output_tokens(value: Any, param: str) -> None:
    if value != "inf" and not (_is_int(value) and 1 <= value <= 4096):
        raise _fail(param, f"Invalid value for '{param}': expected an integer 1-4096 or 'inf'.")


def _tools(value: Any, param: str) -> None:
    if not isinstance(value, list):
        raise _fail(param, f"Invalid type for '{param}': expected an array.", "invalid_type")
    for index, tool in enumerate(value):
        where = f"{param}[{index}]"
        if not isinstance(tool, dict):
            raise _fail(where, f"Invalid type for '{where}': expected an object.", "invalid_type")
        kind = tool.get("type", "function")
        if kind == "function":
            _optional_string(tool.get("name"), f"{where}.name")
            _optional_string(tool.get("description"), f"{where}.description")
        elif kind == "mcp":
            _string(tool.get("server_label"), f"{where}.server_label")
        else:
            raise _fail(f"{where}.type", f"Invalid value: {kind!r}. Supported values are: 'function', 'mcp'.")


def _tool_choice(value: Any, param: str) -> None:
    if value in ("none", "auto", "required"):
        return
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("name"), str):
        return
    if isinstance(value, dict) and value.get("type") == "mcp" and isinstance(value.get("server_label"), str):
        return
    raise _fail(param, f"Invalid value for '{param}'.")


def _tracing(value: Any, param: str) -> None:
    if value is None or value == "auto":
        return
    _check_keys(value, param, {"group_id": _string, "workflow_name": _string, "metadata": lambda v, p: None})


def _truncation(value: Any, param: str) -> None:
    if value in ("auto", "disabled"):
        return
    if isinstance(value, dict) and value.get("type") == "retention_ratio" and _is_number(value.get("retention_ratio")):
        return
    raise _fail(param, f"Invalid value for '{param}'.")


def _prompt(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise _fail(param, f"Invalid value for '{param}': expected an object with an 'id'.")


def _include(value: Any, param: str) -> None:
    if value is None:
        return
    if not isinstance(value, list) or any(v != "item.input_audio_transcription.logprobs" for v in value):
        raise _fail(param, f"Invalid value for '{param}'.")


def _metadata(value: Any, param: str) -> None:
    if value is not None and not isinstance(value, dict):
        raise _fail(param, f"Invalid type for '{param}': expected an object.", "invalid_type")


def _session_type(value: Any, param: str) -> None:
    if value != "realtime":
        raise _fail(param, f"Invalid value: {value!r}. realtime-sim serves 'realtime' sessions only.")


_SESSION_KEYS: dict[str, Callable[[Any, str], None]] = {
    "type": _session_type,
    "model": _string,
    "instructions": _string,
    "output_modalities": _output_modalities,
    "audio": _audio,
    "include": _include,
    "max_output_tokens": _max_output_tokens,
    "prompt": _prompt,
    "tool_choice": _tool_choice,
    "tools": _tools,
    "tracing": _tracing,
    "truncation": _truncation,
    "reasoning": lambda v, p: _check_keys(v, p, {"effort": _one_of("minimal", "low", "medium", "high", "xhigh")}),
    "parallel_tool_calls": _boolean,
    "metadata": _metadata,
}


def validate_session_patch(patch: Any) -> None:
    """Raise ``SessionConfigError`` unless ``patch`` is a valid GA ``session`` object.

    ``type`` may be left out (the real API wants ``"realtime"``; we assume it)."""
    _check_keys(patch, "session", _SESSION_KEYS)


def merge_session(current: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """The session after ``patch``: given fields replace, ``audio`` merges per field,
    a new ``turn_detection`` is completed with its type's defaults; ``metadata`` is not
    part of the session object (the sim keeps it as knobs)."""
    merged = copy.deepcopy(current)
    for key, value in patch.items():
        if key == "metadata":
            continue
        if key != "audio":
            merged[key] = copy.deepcopy(value)
            continue
        for direction, settings in value.items():
            target = merged["audio"][direction]
            for name, setting in settings.items():
                if name == "turn_detection":
                    target[name] = _complete_turn_detection(setting)
                elif name == "format":
                    target[name] = {**PCM_FORMAT, **setting}
                else:
                    target[name] = copy.deepcopy(setting)
    return merged


def _complete_turn_detection(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    defaults = server_vad_defaults() if value["type"] == "server_vad" else semantic_vad_defaults()
    return {**defaults, **value}
