"""Not collected on its own (no test_ prefix): the harness's canary test (tests/test_qualification.py)
hands it to pytest beside e2e/.

It leaks every secret it can reach every way a test can — stdout, stderr, logging, a raw
allure attachment, an HTTP exchange with the token, a failure message — and fails, so the
failure-only attachments (service logs, HTTP exchanges) are written too. The run's
report must still contain none of them.
"""

from __future__ import annotations

import logging
import os
import sys

import allure
import pytest

from fixtures.api_client import ApiClient
from fixtures.target_setup import Target


@pytest.mark.seed_class("auth", story="canary secrets")
async def test_leaks_every_secret_it_knows(target: Target, api: ApiClient, stack, realtime) -> None:
    canaries = [
        target.token,
        target.password,
        os.environ.get("CANARY_API_KEY", ""),
        os.environ.get("CANARY_JWT_SECRET", ""),
    ]
    text = " ".join(c for c in canaries if c)
    print(f"stdout: token={target.token} password={target.password} all: {text}")
    print(f"stderr: Authorization: Bearer {target.token} {text}", file=sys.stderr)
    logging.getLogger("canary").warning("log: %s ?token=%s", text, target.token)
    allure.attach(text, name="raw attachment", attachment_type=allure.attachment_type.TEXT)
    await api.request("GET", api.paths.sessions, headers={"X-Canary": text})
    client = await realtime()
    await client.send({"type": "session.update", "session": {"type": "realtime", "instructions": text}})
    pytest.fail(f"deliberate failure carrying the canaries: {text}")
