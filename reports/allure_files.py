"""The files allure-pytest never writes: environment.properties, executor.json, categories.json.

Allure reads environment.properties with Java's ``Properties.load`` (ISO-8859-1), so it is
written with Java's escapes (non-ASCII as ``\\uXXXX``); ``read_environment`` reads it back
for summary.html. Every value is scrubbed: a URL with a token or a key under a secret-looking
name never reaches the report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.categories import allure_categories
from reports.scrub import scrub_tree

__all__ = ["read_environment", "write_categories", "write_environment", "write_executor"]

ENVIRONMENT_FILE = "environment.properties"
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}
_UNESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


def _escape(text: str, *, is_key: bool) -> str:
    out = []
    for index, char in enumerate(text):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char == " " and (is_key or index == 0):
            out.append("\\ ")
        elif char in "=:#!":
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:  # Java reads the file as ISO-8859-1: everything else as UTF-16 code units
            encoded = char.encode("utf-16-be")
            out += [f"\\u{encoded[i]:02x}{encoded[i + 1]:02x}" for i in range(0, len(encoded), 2)]
    return "".join(out)


def write_environment(results_dir: Path | str, props: Mapping[str, str]) -> Path:
    """Write ``props`` (scrubbed) as environment.properties, sorted by key."""
    path = Path(results_dir) / ENVIRONMENT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = scrub_tree({str(key): str(value) for key, value in props.items()})
    lines = [f"{_escape(key, is_key=True)}={_escape(value, is_key=False)}" for key, value in sorted(clean.items())]
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return path


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.lstrip(" \t\f") if pending else raw
        if not pending and (not line.strip() or line.lstrip(" \t\f")[:1] in ("#", "!")):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2:  # an odd number of backslashes continues the line
            pending += line[:-1]
            continue
        lines.append(pending + line)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def _unescape(text: str) -> str:
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            digits = text[index + 2 : index + 6]
            if following == "u" and len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                out.append(chr(int(digits, 16)))
                index += 6
                continue
            out.append(_UNESCAPES.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    # \uXXXX pairs decode to surrogates; join them into the characters they spell
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")


def read_environment(results_dir: Path | str) -> dict[str, str]:
    """environment.properties as a dict (empty when there is none), per Java's ``Properties.load``."""
    path = Path(results_dir) / ENVIRONMENT_FILE
    if not path.is_file():
        return {}
    props: dict[str, str] = {}
    for line in _logical_lines(path.read_text(encoding="latin-1")):
        line = line.lstrip(" \t\f")
        index = 0
        while index < len(line) and line[index] not in "=: \t\f":
            index += 2 if line[index] == "\\" else 1
        key, rest = line[:index], line[index:].lstrip(" \t\f")
        if rest[:1] in ("=", ":"):
            rest = rest[1:].lstrip(" \t\f")
        props[_unescape(key)] = _unescape(rest)
    return props


def write_executor(
    results_dir: Path | str, name: str, *, build_name: str | None = None, report_url: str | None = None
) -> Path:
    """executor.json: who ran the qualification (the Overview's "Executors" widget)."""
    data: dict[str, Any] = {"name": name, "type": "realtime-qa", "reportName": "realtime-qa qualification"}
    if build_name:
        data["buildName"] = build_name
    if report_url:
        data["reportUrl"] = report_url
    return _write_json(Path(results_dir) / "executor.json", scrub_tree(data))


def write_categories(results_dir: Path | str) -> Path:
    """categories.json from the seed classes (reports.categories), most specific first."""
    return _write_json(Path(results_dir) / "categories.json", allure_categories())


def _write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
