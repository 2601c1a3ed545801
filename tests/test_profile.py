"""The target profile: the seeds' values by default, overridable in layers, one-line errors naming the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fixtures.errors import ProfileError
from fixtures.profile import DEFAULT_PROFILE, PROFILE_KEYS, TargetProfile, load_profile

SEED_PASSWORD = "Betty@123.com"

# The block the README shows (read from it): every key with its default. Loading it must give the defaults.
README_EXAMPLE = (
    (Path(__file__).resolve().parent.parent / "README.md")
    .read_text()
    .split("### The target profile", 1)[1]
    .split("```toml\n", 1)[1]
    .split("```", 1)[0]
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(**kwargs: object) -> str:
    kwargs.setdefault("environ", {})
    with pytest.raises(ProfileError) as caught:
        load_profile(**kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def _same_values(profile: TargetProfile, other: TargetProfile) -> bool:
    return dataclasses.replace(profile, sources=other.sources) == other


# --- defaults -------------------------------------------------------------------------------


def test_defaults_are_the_seeds_values_byte_for_byte() -> None:
    profile = load_profile(environ={})
    assert profile == DEFAULT_PROFILE == TargetProfile()
    assert profile.sources == ("defaults",)
    assert profile.email == "betty@123.com"
    assert profile.password_env == "RQA_PASSWORD"
    assert dataclasses.asdict(profile.paths) == {
        "health": "/health",
        "login": "/api/auth/login",
        "sessions": "/api/sessions",
        "start_live": "/api/digital_human_develop/start_live",
        "leave_room": "/api/digital_human_develop/leave_room/{live_id}",
        "clear_all_sessions": "/api/digital_human_develop/clear_all_sessions",
        "realtime": "/ws/realtime",
        "metrics": "/metrics",
    }
    pool = profile.pool
    assert (pool.limit, pool.max_sessions, pool.refused_code, pool.refused_http_status) == (0, 64, 4002, 429)
    assert pool.refused_message == (
        "Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)"
    )
    assert dataclasses.asdict(profile.close_codes) == {
        "session_cleared": 4000,
        "auth_failed": 4001,
        "pool_full": 4002,
        "idle_timeout": 4008,
        "upstream_failure": 1011,
        "message_too_big": 1009,
    }
    assert dataclasses.asdict(profile.realtime) == {
        "model": "gpt-realtime",
        "echo": None,
        "prompt_text": "Hello, this is a realtime voice qualification test.",
        "turn_timeout_s": 20.0,
        "origin": "",
    }
    assert dataclasses.asdict(profile.slo) == {
        "health_p95_ms": 250.0,
        "health_samples": 200,
        "ttfa_p95_ms": 2000.0,
        "slot_release_s": 5.0,
    }
    ui = profile.ui
    seeds = {
        ui.connected: b"\xe5\xb7\xb2\xe8\xbf\x9e\xe6\x8e\xa5",
        ui.reconnecting: "网络连接出现问题，正在尝试重新连接...".encode(),
        ui.login_required: "请先登录后再使用语音功能".encode(),
        ui.connect_timeout: "连接超时，请检查网络连接".encode(),
        ui.auth_failed: "认证失败，请重新登录".encode(),
        ui.start_recording: "开始录音".encode(),
        ui.stop_recording: "停止录音".encode(),
    }
    for text, raw in seeds.items():
        assert text.encode() == raw
    # The full-width comma of the seed, not an ASCII one.
    assert "\uff0c" in ui.reconnecting
    assert "," not in ui.reconnecting
    assert (ui.login_path, ui.voice_path) == ("/login", "/")
    assert ui.diagnostics_paths == ("/test-realtime.html", "/test-connection-fixed.html")
    assert dataclasses.asdict(ui.selectors) == {
        "status": "[data-testid=connection-status]",
        "waveform": "[data-testid=waveform]",
        "transcript": "[data-testid=transcript]",
        "record_button": "",
    }


def test_profile_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_PROFILE.pool.limit = 4  # type: ignore[misc]


def test_readme_example_lists_every_key_and_loads_as_the_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "pyproject.toml", README_EXAMPLE)
    profile = load_profile(pyproject=path, environ={})
    assert _same_values(profile, DEFAULT_PROFILE)
    for key in PROFILE_KEYS:
        assert f"{key.rsplit('.', 1)[-1]} = " in README_EXAMPLE, key
    echo = _write(tmp_path, "echo.toml", README_EXAMPLE.replace("# echo = true", "echo = true"))
    assert load_profile(pyproject=echo, environ={}).realtime.echo is True


# --- layers ---------------------------------------------------------------------------------


def test_pyproject_without_the_section_gives_the_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "pyproject.toml", '[project]\nname = "x"\n\n[tool.ruff]\nline-length = 120\n')
    profile = load_profile(pyproject=path, environ={})
    assert profile == DEFAULT_PROFILE
    assert profile.sources == ("defaults",)


def test_pyproject_section_overrides_the_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "x"\n\n'
        '[tool.realtime-qa]\nemail = "qa@example.com"\n\n'
        "[tool.realtime-qa.pool]\nlimit = 8\n\n"
        "[tool.realtime-qa.slo]\nhealth_p95_ms = 100\n\n"
        '[tool.realtime-qa.ui.selectors]\nrecord_button = "#rec"\n',
    )
    profile = load_profile(pyproject=path, environ={})
    assert profile.email == "qa@example.com"
    assert profile.pool.limit == 8
    assert profile.pool.max_sessions == 64
    assert profile.slo.health_p95_ms == 100.0
    assert isinstance(profile.slo.health_p95_ms, float)
    assert profile.ui.selectors.record_button == "#rec"
    assert profile.ui.selectors.status == "[data-testid=connection-status]"
    assert profile.sources == ("defaults", f"{path} [tool.realtime-qa]")


def test_profile_file_overrides_pyproject(tmp_path: Path) -> None:
    pyproject = _write(tmp_path, "pyproject.toml", "[tool.realtime-qa.pool]\nlimit = 8\nmax_sessions = 32\n")
    profile_file = _write(tmp_path, "my.toml", "[pool]\nlimit = 4\n")
    profile = load_profile(pyproject=pyproject, profile_file=profile_file, environ={})
    assert (profile.pool.limit, profile.pool.max_sessions) == (4, 32)
    assert profile.sources == ("defaults", f"{pyproject} [tool.realtime-qa]", str(profile_file))


def test_overrides_win_over_every_file(tmp_path: Path) -> None:
    pyproject = _write(tmp_path, "pyproject.toml", "[tool.realtime-qa.pool]\nlimit = 8\n")
    profile_file = _write(tmp_path, "my.toml", "[pool]\nlimit = 4\n")
    profile = load_profile(
        pyproject=pyproject,
        profile_file=profile_file,
        overrides={"pool.limit": 2, "realtime.echo": False, "ui.selectors.status": "#status"},
        environ={},
    )
    assert profile.pool.limit == 2
    assert profile.realtime.echo is False
    assert profile.ui.selectors.status == "#status"
    assert profile.sources[-1] == "command line"


def test_replace_takes_dotted_keys_and_checks_them() -> None:
    profile = DEFAULT_PROFILE.replace(**{"pool.limit": 4, "ui.diagnostics_paths": ["/diag.html"]})
    assert profile.pool.limit == 4
    assert profile.ui.diagnostics_paths == ("/diag.html",)
    assert profile.sources == ("defaults", "overrides")
    assert DEFAULT_PROFILE.pool.limit == 0
    assert profile.replace(**{"realtime.echo": True}).replace(**{"realtime.echo": None}).realtime.echo is None
    with pytest.raises(ProfileError, match=r"pool\.limit must be a whole number >= 0, got 'eight'"):
        DEFAULT_PROFILE.replace(**{"pool.limit": "eight"})


@pytest.mark.parametrize("layout", ["top level", "tool table"])
def test_standalone_file_at_top_level_or_under_the_tool_table(tmp_path: Path, layout: str) -> None:
    body = 'email = "qa@example.com"\n\n[paths]\nhealth = "/healthz"\n\n[ui.selectors]\nstatus = "#s"\n'
    if layout == "tool table":
        body = body.replace("[paths]", "[tool.realtime-qa.paths]").replace("[ui.", "[tool.realtime-qa.ui.")
        body = "[tool.realtime-qa]\n" + body
    path = _write(tmp_path, "target.toml", body)
    profile = load_profile(profile_file=path, environ={})
    assert profile.email == "qa@example.com"
    assert profile.paths.health == "/healthz"
    assert profile.ui.selectors.status == "#s"
    expected = str(path) if layout == "top level" else f"{path} [tool.realtime-qa]"
    assert profile.sources == ("defaults", expected)


def test_file_with_keys_both_at_top_level_and_in_the_tool_table_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "both.toml", 'email = "a@b.c"\n[tool.realtime-qa]\npassword_env = "X"\n')
    message = _error(profile_file=path)
    assert message.startswith(f"profile {path}: ")
    assert "email" in message


# --- errors ---------------------------------------------------------------------------------


def test_unknown_key_in_a_pyproject_section(tmp_path: Path) -> None:
    path = _write(tmp_path, "pyproject.toml", "[tool.realtime-qa.slo]\nhelth_p95_ms = 100\n")
    assert _error(pyproject=path) == (
        f"profile {path}: unknown key [tool.realtime-qa.slo] helth_p95_ms "
        "(known: health_p95_ms, health_samples, ttfa_p95_ms, slot_release_s)"
    )


def test_unknown_key_at_top_level(tmp_path: Path) -> None:
    path = _write(tmp_path, "my.toml", 'emial = "a@b.c"\n')
    message = _error(profile_file=path)
    assert message.startswith(f"profile {path}: unknown key emial (known: email, password_env, paths, pool,")
    pyproject = _write(tmp_path, "pyproject.toml", '[tool.realtime-qa]\nemial = "a@b.c"\n')
    assert f"profile {pyproject}: unknown key [tool.realtime-qa] emial (known: email," in _error(pyproject=pyproject)


def test_unknown_key_in_a_section_of_a_standalone_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "my.toml", "[pool]\nlimt = 4\n")
    assert _error(profile_file=path) == (
        f"profile {path}: unknown key [pool] limt "
        "(known: limit, max_sessions, refused_code, refused_http_status, refused_message)"
    )


def test_unknown_key_in_ui_selectors(tmp_path: Path) -> None:
    path = _write(tmp_path, "pyproject.toml", '[tool.realtime-qa.ui.selectors]\nrecord = "#r"\n')
    assert _error(pyproject=path) == (
        f"profile {path}: unknown key [tool.realtime-qa.ui.selectors] record "
        "(known: status, waveform, transcript, record_button)"
    )


def test_a_password_key_is_refused_with_where_the_password_goes(tmp_path: Path) -> None:
    path = _write(tmp_path, "my.toml", 'password = "hunter2hunter2"\n')
    message = _error(profile_file=path)
    assert "unknown key password" in message
    assert "password_env" in message
    assert "hunter2hunter2" not in message


def test_password_in_password_env_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "my.toml", 'password_env = "S3cret@pass"\n')
    message = _error(profile_file=path)
    assert message.startswith(f"profile {path}: password_env must be the NAME of an environment variable")
    assert "S3cret@pass" not in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[pool]\nlimit = "eight"', "pool.limit must be a whole number >= 0, got 'eight'"),
        ("[pool]\nlimit = true", "pool.limit must be a whole number >= 0, got true"),
        ("[pool]\nlimit = 4.0", "pool.limit must be a whole number >= 0, got 4.0"),
        ("[pool]\nlimit = -1", "pool.limit must be a whole number >= 0, got -1"),
        ("[pool]\nmax_sessions = 0", "pool.max_sessions must be a whole number >= 1, got 0"),
        ("[close_codes]\npool_full = 999", "close_codes.pool_full must be a whole number from 1000 to 4999, got 999"),
        ("[close_codes]\nauth_failed = false", "close_codes.auth_failed must be a whole number from 1000 to 4999"),
        ("[slo]\nhealth_samples = 5", "slo.health_samples must be a whole number >= 10, got 5"),
        ('[slo]\nttfa_p95_ms = "fast"', "slo.ttfa_p95_ms must be a number > 0, got 'fast'"),
        ("[slo]\nhealth_p95_ms = true", "slo.health_p95_ms must be a number > 0, got true"),
        ("[slo]\nhealth_p95_ms = nan", "slo.health_p95_ms must be a number > 0, got nan"),
        ("[realtime]\necho = 1", "realtime.echo must be true or false (or absent: the harness decides), got 1"),
        ('[realtime]\norigin = "http://a:3000/"', "realtime.origin must be '' or scheme://host[:port]"),
        ("email = 3", "email must be a string, got 3"),
        ('email = ""', "email must not be empty"),
        ("[ui]\ndiagnostics_paths = [1, 2]", "ui.diagnostics_paths must be a list of strings, got [1, 2]"),
        ('[ui]\ndiagnostics_paths = "/test-realtime.html"', "ui.diagnostics_paths must be a list of strings"),
        (
            '[ui]\ndiagnostics_paths = ["test.html"]',
            "ui.diagnostics_paths entries must start with '/', got 'test.html'",
        ),
        ('[ui]\nlogin_path = "login"', "ui.login_path must start with '/', got 'login'"),
        ('[paths]\nhealth = "health"', "paths.health must start with '/', got 'health'"),
        ('[paths]\nleave_room = "/api/leave_room"', "paths.leave_room must contain {live_id}"),
        ('[paths]\nleave_room = "/leave/{live_id}/{x}"', "paths.leave_room may hold no placeholder but {live_id}"),
        ("pool = 4", "pool must be a table ([pool]), got 4"),
        ("[ui]\nselectors = 4", "ui.selectors must be a table ([ui.selectors]), got 4"),
        ("[ui.selectors]\nstatus = 4", "ui.selectors.status must be a string, got 4"),
    ],
)
def test_wrong_values_name_the_file_and_the_key(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path, "my.toml", body + "\n")
    message = _error(profile_file=path)
    assert message.startswith(f"profile {path}: {expected}")


def test_wrong_value_in_pyproject_names_the_table(tmp_path: Path) -> None:
    path = _write(tmp_path, "pyproject.toml", "[tool.realtime-qa]\npool = 4\n")
    assert _error(pyproject=path) == f"profile {path}: pool must be a table ([tool.realtime-qa.pool]), got 4"


def test_a_multiline_value_stays_on_one_line_in_the_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "my.toml", '[paths]\nhealth = """\nhealth\n"""\n')
    assert "paths.health must start with '/'" in _error(profile_file=path)
    path = _write(tmp_path, "keys.toml", '"a\\nb" = 1\n')
    assert 'unknown key "a\\nb"' in _error(profile_file=path)


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "my.toml", "[pool\nlimit = 4\n")
    message = _error(profile_file=path)
    assert message.startswith(f"profile {path}: not valid TOML: ")
    assert "line 1" in message
    pyproject = _write(tmp_path, "pyproject.toml", "[tool.realtime-qa]\nemail = \n")
    assert _error(pyproject=pyproject).startswith(f"profile {pyproject}: not valid TOML: ")


def test_a_file_that_is_not_utf8_is_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('email = "é@x"\n'.encode("latin-1"))
    assert _error(profile_file=path).startswith(f"profile {path}: not valid TOML: ")


def test_missing_or_unreadable_files_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert _error(profile_file=missing) == f"profile {missing}: no such file"
    assert _error(pyproject=tmp_path / "pyproject.toml") == f"profile {tmp_path / 'pyproject.toml'}: no such file"
    assert _error(profile_file=tmp_path).startswith(f"profile {tmp_path}: ")


def test_profile_file_with_other_tool_tables_but_not_ours_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    assert "no [tool.realtime-qa]" in _error(profile_file=path)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"pool.limt": 4}, "profile override: unknown key pool.limt (known: pool.limit, pool.max_sessions,"),
        ({"pol.limit": 4}, "profile override: unknown key pol.limit (known: email, password_env, paths.*, pool.*,"),
        ({"ui.selectors.x": "#x"}, "profile override: unknown key ui.selectors.x (known: ui.selectors.status,"),
        ({"pool.limit.x": 4}, "profile override: unknown key pool.limit.x (pool.limit is not a table)"),
        ({"pool": 4}, "profile override: pool is a table"),
        ({"pool.limit": "4"}, "profile override: pool.limit must be a whole number >= 0, got '4'"),
        ({"realtime.echo": "yes"}, "profile override: realtime.echo must be true or false"),
    ],
)
def test_bad_overrides_name_the_dotted_key(overrides: dict[str, object], expected: str) -> None:
    assert _error(overrides=overrides).startswith(expected)


# --- the account ----------------------------------------------------------------------------


def test_password_comes_from_the_named_environment_variable() -> None:
    assert load_profile(environ={"RQA_PASSWORD": "from-env"}).password() == "from-env"
    profile = load_profile(overrides={"password_env": "TARGET_PW"}, environ={"TARGET_PW": "other"})
    assert profile.password() == "other"
    assert profile.password({"TARGET_PW": "explicit"}) == "explicit"


def test_password_is_read_from_os_environ_when_no_environ_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RQA_PASSWORD", "live-env")
    assert DEFAULT_PROFILE.password() == "live-env"


@pytest.mark.parametrize("environ", [{}, {"RQA_PASSWORD": ""}])
def test_seed_account_without_the_variable_uses_the_seed_password(environ: dict[str, str]) -> None:
    assert load_profile(environ=environ).password() == SEED_PASSWORD


@pytest.mark.parametrize("environ", [{}, {"RQA_PASSWORD": ""}])
def test_another_account_without_the_variable_is_an_error_naming_it(environ: dict[str, str]) -> None:
    profile = load_profile(overrides={"email": "qa@example.com", "password_env": "QA_PW"}, environ=environ)
    with pytest.raises(ProfileError) as caught:
        profile.password()
    message = str(caught.value)
    assert "\n" not in message
    assert "QA_PW" in message
    assert "qa@example.com" in message
    assert SEED_PASSWORD not in message


def test_email_precedence_flag_over_env_over_profile_over_default(tmp_path: Path) -> None:
    path = _write(tmp_path, "my.toml", 'email = "file@example.com"\n')
    assert load_profile(environ={}).email == "betty@123.com"
    assert load_profile(profile_file=path, environ={}).email == "file@example.com"
    env = {"RQA_EMAIL": "env@example.com"}
    from_env = load_profile(profile_file=path, environ=env)
    assert from_env.email == "env@example.com"
    assert from_env.sources == ("defaults", str(path), "RQA_EMAIL")
    flagged = load_profile(profile_file=path, environ=env, overrides={"email": "flag@example.com"})
    assert flagged.email == "flag@example.com"
    assert load_profile(environ={"RQA_EMAIL": ""}).email == "betty@123.com"


def test_rqa_email_makes_the_seed_password_unavailable() -> None:
    profile = load_profile(environ={"RQA_EMAIL": "someone@example.com"})
    with pytest.raises(ProfileError, match="RQA_PASSWORD"):
        profile.password()


# --- the report -----------------------------------------------------------------------------


def test_as_report_is_flat_strings_and_never_holds_the_password() -> None:
    secret = "Zq9-not-in-any-report"
    profile = load_profile(environ={"RQA_PASSWORD": secret}, overrides={"pool.limit": 4})
    assert profile.password() == secret
    report = profile.as_report()
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in report.items())
    assert set(report) == {*PROFILE_KEYS, "sources"}
    assert report["pool.limit"] == "4"
    assert report["password_env"] == "RQA_PASSWORD"
    assert report["realtime.echo"] == "auto"
    assert report["ui.diagnostics_paths"] == "/test-realtime.html, /test-connection-fixed.html"
    assert report["sources"] == "defaults, command line"
    assert not any(secret in value for value in report.values())
    assert secret not in repr(profile)
    assert secret not in str(dataclasses.asdict(profile))


def test_as_report_never_holds_the_seed_password() -> None:
    report = DEFAULT_PROFILE.as_report()
    assert DEFAULT_PROFILE.password({}) == SEED_PASSWORD
    assert not any(SEED_PASSWORD in value for value in report.values())
    assert SEED_PASSWORD not in repr(DEFAULT_PROFILE)
