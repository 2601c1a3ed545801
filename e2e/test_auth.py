"""Login and tokens, over HTTP and on the realtime socket (the second seed's 问题 1 and 问题 3)."""

from __future__ import annotations

import time

import jwt
import pytest

from fixtures.api_client import ApiClient
from fixtures.profile import TargetProfile
from fixtures.target_setup import Target

pytestmark = pytest.mark.seed_class("auth", story="login and tokens")


async def test_the_account_logs_in_and_gets_a_token(api: ApiClient, target: Target) -> None:
    response = await api.request("POST", api.paths.login, json={"email": target.email, "password": target.password})
    assert response.status_code == 200, f"login as {target.email} answered {response.status_code}"
    token = response.json().get("access_token")
    assert isinstance(token, str)
    assert token.count(".") == 2, "the token is not a JWT (header.payload.signature)"
    assert "exp" in jwt.decode(token, options={"verify_signature": False}), "the token never expires (no exp)"
    reuse = await api.request("GET", api.paths.sessions, token=token)
    assert reuse.status_code == 200, f"the new token was refused by {api.paths.sessions}: {reuse.status_code}"


async def test_a_wrong_password_gets_401_and_no_token(api: ApiClient, target: Target) -> None:
    response = await api.request(
        "POST", api.paths.login, json={"email": target.email, "password": target.password + "-not-it"}
    )
    assert response.status_code == 401, f"a wrong password answered {response.status_code}, not 401 (auth)"
    assert "access_token" not in response.text
    await api.login(target.email, target.password)  # a success resets the failed-login count


async def test_no_token_gets_401(api: ApiClient) -> None:
    response = await api.request("GET", api.paths.sessions, token="")
    assert response.status_code == 401, f"{api.paths.sessions} without a token answered {response.status_code}"


@pytest.mark.parametrize("kind", ["garbage", "forged", "expired"])
async def test_a_bad_token_is_refused_on_the_socket_with_4001(realtime, profile: TargetProfile, kind: str) -> None:
    """The upgrade is accepted and then closed with the auth code, so a browser can say 认证失败，请重新登录."""
    now = int(time.time())
    token = {
        "garbage": "not-a-jwt",
        "forged": jwt.encode({"sub": "someone", "exp": now + 600}, "a-secret-the-deployment-does-not-have-xx"),
        "expired": jwt.encode({"sub": "someone", "exp": now - 600}, "a-secret-the-deployment-does-not-have-xx"),
    }[kind]
    client = await realtime(token=token, wait_created=False)
    code = await client.wait_closed(timeout_s=10)
    assert code == profile.close_codes.auth_failed, (
        f"a {kind} token was closed with {code}, not {profile.close_codes.auth_failed} (auth failed); "
        f"seen: {client.seen_types()}"
    )
    assert "session.created" not in client.seen_types(), "a session was created with a bad token"
