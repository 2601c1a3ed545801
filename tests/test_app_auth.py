"""Contract: login, JWTs, bearer auth on /api/*, per-account rate limit, accounts, secret hygiene."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import jwt
import pytest

from fixtures.api_client import TEST_EMAIL, TEST_PASSWORD, ApiClient
from fixtures.local_stack import LocalStack
from stack.app.auth import LoginRateLimiter
from stack.app.context import AppContext
from stack.app.settings import Account, Settings

pytestmark = pytest.mark.security

PROTECTED = [
    ("GET", "/api/sessions"),
    ("POST", "/api/digital_human_develop/start_live"),
    ("DELETE", "/api/digital_human_develop/leave_room/live_x"),
    ("POST", "/api/digital_human_develop/clear_all_sessions"),
]


async def test_login_returns_hs256_jwt_with_expiry(stack: LocalStack) -> None:
    response = await ApiClient(stack.app_url).request(
        "POST", "/api/auth/login", json={"email": TEST_EMAIL, "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    token = body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, stack.jwt_secret, algorithms=["HS256"])
    assert claims["sub"] == TEST_EMAIL
    assert claims["exp"] > time.time()
    assert body["token_type"] == "bearer"


@pytest.mark.parametrize(
    ("email", "password"),
    [(TEST_EMAIL, "wrong-password"), ("nobody@example.com", TEST_PASSWORD), (TEST_EMAIL, "")],
)
async def test_bad_credentials_get_401(stack: LocalStack, email: str, password: str) -> None:
    response = await ApiClient(stack.app_url).request(
        "POST", "/api/auth/login", json={"email": email, "password": password}
    )
    assert response.status_code == 401
    assert "access_token" not in response.text


async def test_malformed_login_body_is_rejected(stack: LocalStack) -> None:
    response = await ApiClient(stack.app_url).request("POST", "/api/auth/login", json={"email": TEST_EMAIL})
    assert response.status_code == 422


async def test_failed_logins_are_rate_limited_per_account(stack: LocalStack) -> None:
    client = ApiClient(stack.app_url)
    locked = {"email": "locked@example.com", "password": "not-it"}
    statuses = [(await client.request("POST", "/api/auth/login", json=locked)).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    refused = await client.request("POST", "/api/auth/login", json=locked)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    # Even the right password is refused while the account is locked out ...
    right = await client.request(
        "POST", "/api/auth/login", json={"email": "locked@example.com", "password": "Locked-pass-1"}
    )
    assert right.status_code == 429
    # ... and other accounts are unaffected.
    assert await client.login()


def limiter_for(*emails: str, max_failures: int = 3, lockout_s: float = 60.0) -> LoginRateLimiter:
    """The limiter an app with these accounts builds (built the way the app builds it)."""
    accounts = tuple(Account(email, "Some-pass-1") for email in emails)
    settings = replace(
        Settings.from_env(), accounts=accounts, login_max_failures=max_failures, login_lockout_s=lockout_s
    )
    return AppContext.build(settings).login_limiter


def test_sprayed_unknown_emails_do_not_reset_a_real_lockout() -> None:
    limiter = limiter_for("real@example.com")
    for _ in range(3):
        limiter.record_failure("real@example.com")
    assert limiter.retry_after("real@example.com") > 0
    for i in range(20_000):
        limiter.record_failure(f"made-up-{i}@example.com")
        limiter.retry_after(f"made-up-{i}@example.com")
    assert limiter.retry_after("Real@Example.com ") > 0
    assert len(limiter) <= 10_001  # and memory stays bounded


def test_failed_login_table_sheds_expired_then_quiet_made_up_emails_only() -> None:
    now = [0.0]
    limiter = LoginRateLimiter(3, 60.0, ["real@example.com"], max_unknown=3, clock=lambda: now[0])
    for email in ("old-1@example.com", "old-2@example.com"):
        limiter.record_failure(email)
    now[0] = 100.0  # the old ones' window has passed
    for _ in range(3):
        limiter.record_failure("real@example.com")
    for email in ("new-1@example.com", "new-2@example.com", "new-3@example.com"):
        limiter.record_failure(email)
        limiter.record_failure(email)
    assert len(limiter) == 1 + 3  # the expired ones went first, the live ones stayed
    assert limiter.retry_after("new-1@example.com") == 0  # (2 failures of 3)
    limiter.record_failure("new-4@example.com")  # over the cap: the longest-quiet made-up email goes
    assert len(limiter) == 1 + 3
    limiter.record_failure("new-1@example.com")  # forgotten, so this is its first failure again
    assert limiter.retry_after("new-1@example.com") == 0
    assert limiter.retry_after("real@example.com") == 60.0


def test_unknown_emails_lock_out_like_real_ones() -> None:
    """Same answers for made-up and real emails, so the lockout does not reveal which accounts exist."""
    limiter = limiter_for("real@example.com")
    for email in ("real@example.com", "made-up@example.com"):
        for _ in range(2):
            limiter.record_failure(email)
        assert limiter.retry_after(email) == 0
        limiter.record_failure(email)
        assert 59 < limiter.retry_after(email) <= 60


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_api_requires_a_bearer_token(stack: LocalStack, method: str, path: str) -> None:
    client = ApiClient(stack.app_url)
    missing = await client.request(method, path)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    forged = jwt.encode(
        {"sub": TEST_EMAIL, "role": "admin", "exp": int(time.time()) + 60}, "not-the-secret-but-long-enough-for-hs256"
    )
    assert (await client.request(method, path, token=forged)).status_code == 401
    assert (await client.request(method, path, token="garbage")).status_code == 401


async def test_expired_token_is_refused(stack: LocalStack) -> None:
    expired = jwt.encode(
        {"sub": TEST_EMAIL, "role": "admin", "exp": int(time.time()) - 5}, stack.jwt_secret, algorithm="HS256"
    )
    response = await ApiClient(stack.app_url).request("GET", "/api/sessions", token=expired)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]


async def test_configured_non_admin_account_cannot_clear_everything(stack: LocalStack, api: ApiClient) -> None:
    viewer = ApiClient(stack.app_url)
    await viewer.login("viewer@example.com", "Viewer-pass-1")
    started = await api.start_live()
    live_id = started.json()["live_id"]
    assert (await viewer.request("POST", "/api/digital_human_develop/clear_all_sessions")).status_code == 403
    assert (await viewer.leave_room(live_id)).status_code == 403
    assert await viewer.sessions() == []  # the admin's session is not the viewer's to see
    own = await viewer.start_live()
    assert own.status_code == 200
    assert [s["live_id"] for s in await viewer.sessions()] == [own.json()["live_id"]]
    assert (await viewer.leave_room(own.json()["live_id"])).status_code == 200


async def test_secrets_never_reach_the_logs(stack: LocalStack, api: ApiClient) -> None:
    token = api.token
    assert token is not None
    await ApiClient(stack.app_url).request("POST", "/api/auth/login", json={"email": TEST_EMAIL, "password": "oops"})
    await api.sessions()
    logs = stack.log_text("app") + stack.log_text("realtime-sim")
    for secret in (token, stack.jwt_secret, stack.sim_api_key, TEST_PASSWORD, "Viewer-pass-1"):
        assert secret not in logs


def test_service_logs_are_json_lines(stack: LocalStack) -> None:
    for service in stack.services:
        for line in stack.log_text(service).splitlines():
            entry = json.loads(line)
            assert {"ts", "service", "level", "msg"} <= set(entry), line
