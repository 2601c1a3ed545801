"""reports.allure_files: environment.properties (Java escapes, scrubbed), executor.json, categories.json."""

from __future__ import annotations

import json
from pathlib import Path

from reports.allure_files import read_environment, write_categories, write_environment, write_executor
from reports.categories import CLASSES
from reports.scrub import MASK

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"


def test_environment_is_escaped_for_java_and_reads_back(tmp_path: Path) -> None:
    props = {
        "mode": "docker",
        "key with space": "a=b:c#d!e",
        "frontend": "已连接 😀",
        "multi": "line one\nline two\tand\\backslash",
        "leading": "  two spaces",
    }
    path = write_environment(tmp_path / "results", props)
    text = path.read_text(encoding="ascii")  # Java reads it as ISO-8859-1: we write ASCII only
    assert "key\\ with\\ space=a\\=b\\:c\\#d\\!e" in text
    assert "\\u5df2\\u8fde\\u63a5 \\ud83d\\ude00" in text
    assert "leading=\\  two spaces" in text
    assert read_environment(tmp_path / "results") == props


def test_environment_values_are_scrubbed(tmp_path: Path) -> None:
    write_environment(
        tmp_path,
        {"ws_url": "ws://127.0.0.1:8080/ws/realtime?token=abcdef123", "api_key": "plain-value", "jwt": JWT},
    )
    props = read_environment(tmp_path)
    assert props["api_key"] == MASK
    assert "abcdef123" not in props["ws_url"]
    assert JWT not in props["jwt"]


def test_read_environment_handles_comments_continuations_and_absence(tmp_path: Path) -> None:
    assert read_environment(tmp_path) == {}
    (tmp_path / "environment.properties").write_text("# comment\n! other\n\na = 1\nb:2\nc 3\nlong=one \\\n    two\n")
    assert read_environment(tmp_path) == {"a": "1", "b": "2", "c": "3", "long": "one two"}


def test_executor(tmp_path: Path) -> None:
    path = write_executor(tmp_path, "realtime-qa", build_name="run 7", report_url="file:///x/summary.html")
    data = json.loads(path.read_text())
    assert data["name"] == "realtime-qa"
    assert data["buildName"] == "run 7"
    assert data["reportUrl"] == "file:///x/summary.html"
    assert "buildName" not in json.loads(write_executor(tmp_path, "ci").read_text())


def test_categories_from_the_table(tmp_path: Path) -> None:
    data = json.loads(write_categories(tmp_path).read_text(encoding="utf-8"))
    assert [entry["name"] for entry in data[::2]] == [c.category_name for c in CLASSES]
    for entry in data:
        assert entry["matchedStatuses"] == ["failed", "broken"]
        assert "messageRegex" in entry or "traceRegex" in entry
    assert data[0]["messageRegex"].startswith("(?is)")
    assert "Skipped" not in {entry["name"] for entry in data}


def test_the_final_sweep_leaves_our_own_files_as_they_are(tmp_path: Path) -> None:
    from reports.sweep import scrub_directory

    write_categories(tmp_path)
    write_executor(tmp_path, "realtime-qa", build_name="b", report_url="file:///x/summary.html")
    write_environment(tmp_path, {"mode": "local", "界面": "已连接", "ws_url": "ws://h/ws?token=x1y2z3w4"})
    assert scrub_directory(tmp_path) == []
