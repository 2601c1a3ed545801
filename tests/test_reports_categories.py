"""reports.categories: the seeds' classes, classify(), and categories.json read the same way by Java."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reports.allure_files import write_environment
from reports.categories import CLASSES, allure_categories, by_id, classify

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"

SAMPLES = [
    (
        "AssertionError: Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)",
        "",
        "concurrency",
    ),
    ("AssertionError: 2 sessions left behind after the run", "", "concurrency"),
    ("AssertionError: close code 4002 != 1000", "", "concurrency"),
    ("AttributeError: 'ClientConnection' object has no attribute 'closed'", "", "websocket"),
    (
        "websockets.exceptions.ConnectionClosedError: received 1011 (internal error) keepalive ping timeout",
        "",
        "websocket",
    ),
    ("AssertionError: WebSocket closed with 1006", "", "websocket"),
    ("AssertionError: assert 403 == 200", "", "auth"),
    ("AssertionError: close code 4001: 认证失败，请重新登录", "", "auth"),
    ("AssertionError: page shows 请先登录后再使用语音功能", "", "auth"),
    ("fixtures.errors.BadCredentials: the target refused betty@123.com", "", "auth"),
    ("Failed: Timeout >120.0s", "", "timeout"),
    ("AssertionError: /health p95 812 ms over bound 500 ms", "", "timeout"),
    ("AssertionError: banner 网络连接出现问题，正在尝试重新连接... still shown", "", "timeout"),
    ("AssertionError: 连接超时，请检查网络连接", "", "timeout"),
    ("playwright._impl._errors.Error: NotAllowedError: Permission denied (getUserMedia)", "", "microphone"),
    ("AssertionError: clicking 开始录音 did nothing", "", "microphone"),
    ("TimeoutError: waiting for the 麦克风 waveform", "", "microphone"),
    (
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:1006)",
        "",
        "ssl",
    ),
    ("ImportError: DLL load failed while importing _ssl: 找不到指定的模块。", "", "ssl"),
    # only the trace knows: a harness error wrapping the cause, reported on an E line of the chain
    (
        "fixtures.realtime_client.RealtimeTimeout: no response.done",
        "    async def test_x():\n>       await client.wait()\nE       httpx.ReadTimeout: timed out\n",
        "timeout",
    ),
    # the test's own source (not an E line) mentioning 4002 must not classify it
    (
        "AssertionError: assert 1 == 2",
        "    def test_x():\n        limit = 4002\n>       assert 1 == 2\nE       assert 1 == 2\n",
        None,
    ),
    ("AssertionError: secret leaked into the log", "", None),
    ("AssertionError: assert 1 == 2", "", None),
]


def test_the_six_classes_most_specific_first() -> None:
    ids = [c.id for c in CLASSES]
    assert sorted(ids) == sorted(["concurrency", "websocket", "auth", "timeout", "microphone", "ssl"])
    assert ids.index("concurrency") < ids.index("websocket")
    assert ids.index("auth") < ids.index("websocket")
    assert ids.index("ssl") < ids.index("websocket") < ids.index("timeout")
    assert ids.index("microphone") < ids.index("timeout")
    assert by_id("ssl").section == "3. SSL 模块错误"
    with pytest.raises(KeyError, match="unknown seed class"):
        by_id("nope")


@pytest.mark.parametrize(("message", "trace", "expected"), SAMPLES)
def test_classify(message: str, trace: str, expected: str | None) -> None:
    found = classify(message, trace)
    assert (found.id if found else None) == expected


def test_remedies_are_the_seeds() -> None:
    remedy = {c.id: c.remedy for c in CLASSES}
    for text in ("clear_all_sessions", "GET /api/sessions", "leave_room/{live_id}", "restart", "session timeout"):
        assert text in remedy["concurrency"]
    assert "state" in remedy["websocket"]
    assert "ConnectionClosed.rcvd" in remedy["websocket"]
    assert "betty@123.com" in remedy["auth"]
    assert "localStorage" in remedy["auth"]
    assert "JWT_SECRET" in remedy["auth"]
    assert "synchronous logging" in remedy["timeout"]
    assert "deadlock" in remedy["timeout"]
    assert "/health" in remedy["timeout"]
    assert "docker-compose ps" in remedy["timeout"]
    assert "address-bar" in remedy["microphone"]
    assert "HTTPS" in remedy["microphone"]
    assert "venv" in remedy["ssl"]
    assert "OpenSSL" in remedy["ssl"]


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not next to this checkout")
def test_seed_titles_and_sections_are_copied_exactly() -> None:
    documents = [path.read_text(encoding="utf-8") for path in SEEDS.glob("*.txt")]
    headings = {line.lstrip("#").strip() for text in documents for line in text.splitlines() if line.startswith("#")}
    for seed_class in CLASSES:
        assert seed_class.seed in headings, seed_class.seed
        for part in seed_class.section.split(" / "):
            assert any(part in heading for heading in headings), part


def test_category_names_carry_title_and_short_remedy() -> None:
    names = [entry["name"] for entry in allure_categories()]
    assert names == [c.category_name for c in CLASSES for _ in range(2)]
    concurrency = by_id("concurrency").category_name
    assert concurrency.startswith("4002 concurrency over limit — clear stale sessions")
    assert all(len(name) < 200 for name in names)


def _allure_matches(entry: dict[str, object], message: str, trace: str) -> bool:
    """Allure's CategoriesPlugin.matches, in Python: full match, DOTALL, both patterns must hold."""
    for key, text in (("messageRegex", message), ("traceRegex", trace)):
        pattern = entry.get(key)
        if pattern is not None and not re.fullmatch(str(pattern), text, re.DOTALL):
            return False
    return True


@pytest.mark.parametrize(("message", "trace", "expected"), SAMPLES)
def test_categories_json_sorts_like_classify(message: str, trace: str, expected: str | None) -> None:
    matched = {entry["name"] for entry in allure_categories() if _allure_matches(entry, message, trace)}
    assert matched == ({by_id(expected).category_name} if expected else set())


JAVA_CHECK = r"""
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.regex.Pattern;

public class Check {
    static String d(String s) { return new String(Base64.getDecoder().decode(s), StandardCharsets.UTF_8); }
    static String e(String s) { return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8)); }
    public static void main(String[] args) throws Exception {
        for (String line : Files.readAllLines(Paths.get(args[0]))) {
            String[] f = line.split(" ", -1);
            boolean ok = true;
            if (!f[0].isEmpty()) ok &= Pattern.compile(d(f[0]), Pattern.DOTALL).matcher(d(f[2])).matches();
            if (!f[1].isEmpty()) ok &= Pattern.compile(d(f[1]), Pattern.DOTALL).matcher(d(f[3])).matches();
            System.out.println(ok ? "1" : "0");
        }
        Properties p = new Properties();
        try (InputStream in = new FileInputStream(args[1])) { p.load(in); }
        for (String k : new TreeSet<>(p.stringPropertyNames()))
            System.out.println("P " + e(k) + " " + e(p.getProperty(k)));
    }
}
"""


@pytest.mark.skipif(shutil.which("java") is None, reason="no Java here to read the files as Allure does")
def test_java_reads_categories_and_environment_like_we_do(tmp_path: Path) -> None:
    """Allure is Java: its Pattern must agree with Python's on every entry, its Properties.load with our writer."""

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    entries = allure_categories()
    lines, expected = [], []
    for message, trace, _ in SAMPLES:
        for entry in entries:
            regexes = [b64(str(entry[k])) if k in entry else "" for k in ("messageRegex", "traceRegex")]
            lines.append(" ".join([*regexes, b64(message), b64(trace)]))
            expected.append("1" if _allure_matches(entry, message, trace) else "0")
    (tmp_path / "cases.txt").write_text("\n".join(lines) + "\n")
    props = {"mode": "local", "app url": "http://127.0.0.1:8080/a=b#c", "界面": "已连接 ✅", " lead": " x:y!\\"}
    write_environment(tmp_path, props)
    (tmp_path / "Check.java").write_text(JAVA_CHECK)
    done = subprocess.run(
        ["java", "Check.java", "cases.txt", "environment.properties"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[: len(expected)] == expected
    read = {}
    for line in out[len(expected) :]:
        _, key, value = line.split(" ")
        read[base64.b64decode(key).decode()] = base64.b64decode(value).decode()
    assert read == props
