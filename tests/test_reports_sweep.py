"""reports.sweep: every file of a results directory scrubbed in place; find_secrets proves it."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from reports.scrub import MASK, register_secret
from reports.sweep import find_secrets, scrub_directory

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"
LITERAL = "sweep-canary-Literal-91c2"
register_secret(LITERAL)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16 + LITERAL.encode()  # secrets in pixels are out of reach


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _read_zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_text_files_are_scrubbed_in_place_and_stay_valid(tmp_path: Path) -> None:
    # inside a JSON string the quotes are escaped: only scrubbing the decoded value finds the password
    message = 'request body {"password": "unregistered-pw-1"} ' + LITERAL
    result = {"name": "t", "statusDetails": {"message": message, "trace": JWT}}
    (tmp_path / "a-result.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "b-attachment.txt").write_text(f"captured stdout: Bearer {JWT}\n", encoding="utf-8")
    (tmp_path / "c-attachment.jsonl").write_text('{"url": "ws://h/ws?token=opaque-999"}\nnot json token=x1y2z3\n')
    (tmp_path / "d-attachment.attach").write_text(f"sniffed as text {LITERAL}")
    (tmp_path / "clean.txt").write_text("nothing to hide\n")
    (tmp_path / "bad-utf8.log").write_bytes(b"\xff\xfe half binary " + LITERAL.encode())
    changed = scrub_directory(tmp_path)
    assert sorted(p.name for p in changed) == sorted(
        ["a-result.json", "b-attachment.txt", "c-attachment.jsonl", "d-attachment.attach", "bad-utf8.log"]
    )
    scrubbed = json.loads((tmp_path / "a-result.json").read_text(encoding="utf-8"))
    assert LITERAL not in json.dumps(scrubbed)
    assert JWT not in json.dumps(scrubbed)
    assert scrubbed["statusDetails"]["message"].startswith('request body {"password": "[REDACTED]"}')
    assert scrubbed["name"] == "t"
    assert (tmp_path / "bad-utf8.log").read_bytes().startswith(b"\xff\xfe half binary ")
    assert find_secrets(tmp_path, [LITERAL, JWT, "opaque-999", "x1y2z3", "unregistered-pw-1"]) == []


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "clean-result.json"
    path.write_text('{"name":  "spacing kept"}')
    before = path.stat().st_mtime_ns
    assert scrub_directory(tmp_path) == []
    assert path.read_text() == '{"name":  "spacing kept"}'
    assert path.stat().st_mtime_ns == before


def test_zip_members_are_scrubbed_images_left_alone(tmp_path: Path) -> None:
    inner = _zip({"nested.txt": f"Authorization: Bearer {JWT}".encode()})
    trace = _zip(
        {
            "trace.network": json.dumps({"request": {"headers": [{"name": "Cookie", "value": LITERAL}]}}).encode(),
            "trace.trace": b'{"type":"log","message":"ok"}\n',
            "resources/page.png": PNG,
            "inner.zip": inner,
        }
    )
    (tmp_path / "trace.zip").write_bytes(trace)
    (tmp_path / "shot.png").write_bytes(PNG)
    assert {(p.relative_to(tmp_path).as_posix(), n) for p, n in find_secrets(tmp_path, [LITERAL, JWT])} >= {
        ("trace.zip/trace.network", LITERAL),
        ("trace.zip/inner.zip/nested.txt", JWT),
    }
    changed = scrub_directory(tmp_path)
    assert [p.name for p in changed] == ["trace.zip"]
    members = _read_zip((tmp_path / "trace.zip").read_bytes())
    assert LITERAL.encode() not in members["trace.network"]
    assert MASK.encode() in members["trace.network"]
    assert members["trace.trace"] == b'{"type":"log","message":"ok"}\n'
    assert members["resources/page.png"] == PNG
    assert JWT.encode() not in _read_zip(members["inner.zip"])["nested.txt"]
    assert (tmp_path / "shot.png").read_bytes() == PNG
    leftover = find_secrets(tmp_path, [LITERAL, JWT])
    assert {p.name for p, _ in leftover} == {"shot.png", "page.png"}  # only the pixels, as documented


def test_find_secrets_sees_encoded_spellings_and_single_files(tmp_path: Path) -> None:
    secret = "p@ss w/rd!"
    (tmp_path / "q.txt").write_text("login?pw=p%40ss%20w%2Frd%21")
    (tmp_path / "j.json").write_text(json.dumps({"a": 'p@ss w/rd! "x"'}))
    hits = find_secrets(tmp_path, [secret, ""])
    assert sorted(p.name for p, _ in hits) == ["j.json", "q.txt"]
    assert find_secrets(tmp_path / "q.txt", [secret]) == [(tmp_path / "q.txt", secret)]
    assert find_secrets(tmp_path / "missing", [secret]) == []
