"""reports.scrub: credential shapes and registered literals are masked, ordinary text is not."""

from __future__ import annotations

import json

import pytest

from reports.scrub import MASK, register_secret, scrub, scrub_tree, secret_forms

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"token {JWT} issued", JWT),
        ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("ws://127.0.0.1:8080/ws/realtime?token=opaque-123&x=1", "opaque-123"),
        ("GET /cb?access_token=opaque-456 HTTP/1.1", "opaque-456"),
        ('{"password": "hunter2-long"}', "hunter2-long"),
        ("AZURE_OPENAI_REALTIME_API_KEY=0123456789abcdef", "0123456789abcdef"),
        ("api-key: k3y-value-here", "k3y-value-here"),
        ("SECRET_KEY=django-insecure-x", "django-insecure-x"),
        ("Cookie: session=abc123; csrftoken=def456", "def456"),
        ("openai key sk-proj-AbCdEfGhIjKlMnOpQrStUv", "AbCdEfGhIjKlMnOpQrStUv"),
    ],
)
def test_credential_shapes_are_masked(text: str, secret: str) -> None:
    assert secret not in scrub(text)


@pytest.mark.parametrize(
    "text",
    [
        "Failed to start live: failed to load or create engine: concurrency over limit (code: 4002)",
        "usage: max_tokens=512 total_tokens=40",
        "网络连接出现问题，正在尝试重新连接...",
        "GET /api/sessions -> 200",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub(text) == text


def test_registered_literal_is_masked_in_every_spelling() -> None:
    secret = 'Pw "quoted" @ x/y'
    register_secret(secret)
    raw = f"login with {secret}"
    url = "body=Pw%20%22quoted%22%20%40%20x%2Fy"
    escaped = json.dumps({"note": secret})
    for text in (raw, url, escaped):
        assert secret not in scrub(text)
        assert MASK in scrub(text), text
    assert all(form not in scrub(escaped) for form in secret_forms(secret))


def test_short_literals_are_not_registered() -> None:
    register_secret("abc")
    register_secret(None)
    assert scrub("abc abcdef") == "abc abcdef"


def test_scrub_tree_masks_secret_keys_but_not_token_counts() -> None:
    tree = {
        "access_token": "opaque",
        "headers": [{"Authorization": "whatever"}],
        "usage": {"total_tokens": 12, "input_token_details": {"cached_tokens": 0}},
        "note": f"jwt {JWT}",
        "token": None,
        "n": 3,
    }
    clean = scrub_tree(tree)
    assert clean["access_token"] == MASK
    assert clean["headers"] == [{"Authorization": MASK}]
    assert clean["usage"] == tree["usage"]
    assert JWT not in clean["note"]
    assert clean["token"] is None
    assert clean["n"] == 3


def test_json_inside_a_json_string_is_masked_and_stays_valid() -> None:
    document = json.dumps({"body": json.dumps({"password": "inner-pw-123", "Cookie": "sid=inner-cookie", "n": 1})})
    scrubbed = scrub(document)
    assert "inner-pw-123" not in scrubbed
    assert "inner-cookie" not in scrubbed
    assert json.loads(json.loads(scrubbed)["body"]) == {"password": MASK, "Cookie": MASK, "n": 1}


def test_a_backslash_inside_a_value_does_not_end_it() -> None:
    assert scrub(r"password=ab\cd rest") == f"password={MASK} rest"
