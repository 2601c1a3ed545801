"""Contract: HTTP hygiene — request body limit (413, flat memory), one error shape, HEAD /health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from fixtures.api_client import ApiClient
from fixtures.local_stack import LocalStack
from stack.app.main import create_app
from stack.app.settings import Settings

BODY_LIMIT = 64 * 1024  # the default MAX_REQUEST_BODY_BYTES (CONTRACT_ENV does not set it)
MIB = 1024 * 1024
ERROR_KEYS = {"code", "message", "detail"}


async def stream_of(total: int, chunk: int = 256 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes of junk, produced piecewise so the client never holds the whole body."""
    piece = b"x" * chunk
    sent = 0
    while sent < total:
        part = piece[: min(chunk, total - sent)]
        sent += len(part)
        yield part


async def post_oversized(http: httpx.AsyncClient, path: str, size: int, *, declare_length: bool) -> int | None:
    """POST ``size`` bytes; the status, or None when the server closed the connection before answering."""
    headers = {"Content-Type": "application/json"}
    if declare_length:
        headers["Content-Length"] = str(size)  # else httpx sends the generator chunked
    try:
        response = await http.post(path, content=stream_of(size), headers=headers)
    except httpx.TransportError:
        return None
    return response.status_code


def app_rss_kib(stack: LocalStack) -> int:
    """Resident memory of the app process (VmRSS in /proc/<pid>/status)."""
    status = Path(f"/proc/{stack.process('app').pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


# -- request body limit --------------------------------------------------------------------


@pytest.mark.security
@pytest.mark.parametrize("how", ["content-length", "content-length-streamed", "chunked"])
async def test_oversized_body_gets_413_in_the_error_shape(stack: LocalStack, how: str) -> None:
    """A little over the limit (a real client's mistake, not an attack): the client must get to read the 413."""
    size = 4 * BODY_LIMIT
    headers = {"Content-Type": "application/json"}
    content: bytes | AsyncIterator[bytes] = stream_of(size, 4096)
    if how == "content-length":
        content = b"x" * size
    elif how == "content-length-streamed":
        headers["Content-Length"] = str(size)
    async with httpx.AsyncClient(base_url=stack.app_url, timeout=10) as http:
        response = await http.post("/api/auth/login", content=content, headers=headers)
    assert response.status_code == 413, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == 413
    assert str(BODY_LIMIT) in body["message"]


async def test_body_at_the_limit_is_still_served(stack: LocalStack) -> None:
    login = b'{"email": "nobody@example.com", "password": "not-it"}'
    padded = login[:-1] + b" " * (BODY_LIMIT - len(login)) + b"}"
    assert len(padded) == BODY_LIMIT
    response = await ApiClient(stack.app_url).request(
        "POST", "/api/auth/login", content=padded, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


@pytest.mark.slow
async def test_memory_stays_flat_under_repeated_oversized_bodies(stack: LocalStack) -> None:
    """10 x 20 MiB at the login route are refused without being held (before the limit: +400 MiB RSS)."""
    size = 20 * MIB
    async with httpx.AsyncClient(base_url=stack.app_url, timeout=30) as http:
        await post_oversized(http, "/api/auth/login", size, declare_length=False)  # warm-up: first-use allocations
        before = app_rss_kib(stack)
        outcomes = [await post_oversized(http, "/api/auth/login", size, declare_length=i % 2 == 0) for i in range(10)]
        after = app_rss_kib(stack)
    print(f"app VmRSS before {before / 1024:.1f} MiB, after 10 x 20 MiB {after / 1024:.1f} MiB; answers {outcomes}")
    assert set(outcomes) <= {413, None}, outcomes
    assert after - before < 16 * 1024, f"app RSS grew from {before} KiB to {after} KiB"
    assert (await ApiClient(stack.app_url).request("GET", "/health")).status_code == 200


# -- one error shape -----------------------------------------------------------------------


@pytest.mark.security
async def test_validation_error_never_echoes_the_password(stack: LocalStack) -> None:
    secret = "Sup3r-secret-Pa55word"
    response = await ApiClient(stack.app_url).request("POST", "/api/auth/login", json={"password": secret})
    assert response.status_code == 422
    assert secret not in response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == 422
    assert any(error["loc"] == ["body", "email"] for error in body["detail"])
    for error in body["detail"]:
        assert set(error) <= {"loc", "msg", "type"}


async def test_unknown_path_is_404_in_the_error_shape(stack: LocalStack) -> None:
    response = await ApiClient(stack.app_url).request("GET", "/nope")
    assert response.status_code == 404
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["code"] == 404


async def test_wrong_method_is_405_in_the_error_shape(stack: LocalStack) -> None:
    response = await ApiClient(stack.app_url).request("PUT", "/health")
    assert response.status_code == 405
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["code"] == 405
    assert "GET" in response.headers["Allow"]


async def test_unhandled_error_is_500_in_the_error_shape() -> None:
    app = create_app(replace(Settings.from_env(), engine_limit=1))

    async def crash() -> None:
        raise RuntimeError("a bug with password=hunter2 in its message")

    app.add_api_route("/crash", crash)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        response = await http.get("/crash")
    assert response.status_code == 500
    assert response.json() == {"code": 500, "message": "internal server error", "detail": "internal server error"}
    assert "hunter2" not in response.text


# -- HEAD /health --------------------------------------------------------------------------


async def test_head_health_is_200_without_a_body(stack: LocalStack) -> None:
    response = await ApiClient(stack.app_url).request("HEAD", "/health")
    assert response.status_code == 200
    assert response.content == b""
