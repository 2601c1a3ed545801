"""The last step of a run: scrub every file of the results directory in place.

allure-pytest writes captured stdout/stderr/log and each failure's message and trace into
its own files, which the attach wrappers never see; Playwright traces are zip files of
JSON lines that record tokens unmasked (playwright#35848). JSON is scrubbed as data (parsed,
``scrub_tree``, written back), so an escaped quote cannot hide a value and the file stays
valid JSON; other text line by line as text; zip members the same way, recursively; images
and video are left as they are. ``find_secrets`` is the check that this worked.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from reports.scrub import scrub, scrub_tree, secret_forms

__all__ = ["find_secrets", "scrub_bytes", "scrub_directory"]

TEXT_SUFFIXES = {
    ".json", ".jsonl", ".ndjson", ".har", ".txt", ".properties", ".html", ".htm", ".log", ".csv", ".tsv",
    ".xml", ".svg", ".md", ".uri", ".yaml", ".yml", ".js", ".css", ".trace", ".network", ".stacks",
}  # fmt: skip
BINARY_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".webm", ".mp4", ".wav", ".mp3", ".ogg",
    ".pcm", ".woff", ".woff2", ".ttf", ".pdf", ".gz",
}  # fmt: skip
_JSON_LINES = {".jsonl", ".ndjson", ".trace", ".network", ".stacks"}
_SNIFF = 8192


def _scrub_json(text: str) -> str | None:
    """``text`` scrubbed as one JSON document, or None when it is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    clean = scrub_tree(data)
    return text if clean == data else json.dumps(clean, ensure_ascii=False)


def _scrub_json_lines(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        scrubbed = _scrub_json(line) if line.strip() else None
        lines.append(scrub(line) if scrubbed is None else scrubbed)
    return "\n".join(lines)


def scrub_text(text: str, name: str) -> str:
    """A text file's content scrubbed according to what it is (JSON, JSON lines, plain text)."""
    suffix = PurePosixPath(name).suffix.lower()
    head = text.lstrip()[:1]
    if suffix in (".json", ".har") or (head in ("{", "[") and suffix not in _JSON_LINES):
        scrubbed = _scrub_json(text)
        if scrubbed is not None:
            return scrubbed
    if suffix in _JSON_LINES or head == "{":
        return _scrub_json_lines(text)
    return scrub(text)


def _decode(name: str, data: bytes) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return data.decode("utf-8", errors="surrogateescape")
    if b"\x00" in data[:_SNIFF]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _scrub_zip(data: bytes) -> bytes | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [(info, archive.read(info)) for info in archive.infolist()]
    except (zipfile.BadZipFile, OSError):
        return None
    changed = False
    for index, (info, content) in enumerate(members):
        scrubbed = scrub_bytes(info.filename, content)
        if scrubbed is not None:
            members[index] = (info, scrubbed)
            changed = True
    if not changed:
        return None
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info, content in members:
            archive.writestr(info, content)
    return out.getvalue()


def scrub_bytes(name: str, data: bytes) -> bytes | None:
    """The scrubbed content of a file named ``name``, or None when nothing in it changes."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in BINARY_SUFFIXES or name.endswith("/"):
        return None
    if suffix == ".zip" or data[:4] == b"PK\x03\x04":
        return _scrub_zip(data)
    text = _decode(name, data)
    if text is None:
        return None
    scrubbed = scrub_text(text, name)
    return None if scrubbed == text else scrubbed.encode("utf-8", errors="surrogateescape")


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def scrub_directory(path: Path | str) -> list[Path]:
    """Scrub every file under ``path`` in place; returns the files that changed."""
    changed = []
    for file in _files(Path(path)):
        scrubbed = scrub_bytes(file.name, file.read_bytes())
        if scrubbed is None:
            continue
        temporary = file.with_name(file.name + ".scrub-tmp")
        temporary.write_bytes(scrubbed)
        os.replace(temporary, file)
        changed.append(file)
    return changed


def _found(where: Path, data: bytes, forms: dict[str, list[bytes]]) -> Iterator[tuple[Path, str]]:
    for needle, spellings in forms.items():
        if any(spelling in data for spelling in spellings):
            yield where, needle
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    yield from _found(where / info.filename, archive.read(info), forms)
        except (zipfile.BadZipFile, OSError):
            return


def find_secrets(path: Path | str, needles: Iterable[str]) -> list[tuple[Path, str]]:
    """Every (file, needle) where a file under ``path`` (zip members as ``x.zip/member``) holds a needle.

    A needle counts in any spelling it is stored in (raw, URL-encoded, JSON-escaped).
    """
    forms = {needle: [form.encode() for form in secret_forms(needle) | {needle}] for needle in needles if needle}
    return [hit for file in _files(Path(path)) for hit in _found(file, file.read_bytes(), forms)]
