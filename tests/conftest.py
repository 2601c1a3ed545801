"""Fixtures for the harness's own tests: the reference stack as real local processes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import ExitStack

import pytest

from fixtures.api_client import ApiClient
from fixtures.local_stack import LocalStack
from fixtures.stack_registry import use_stack

# Settings the shared contract stack runs with: small numbers so limits are reached quickly.
CONTRACT_ENV = {
    "ENGINE_CONCURRENCY_LIMIT": "4",
    "LOGIN_MAX_FAILURES": "3",
    "LOGIN_LOCKOUT_S": "30",
    "MAX_MESSAGE_BYTES": str(256 * 1024),
    "APP_DEBUG_FAULTS": "1",
    "AUTH_ACCOUNTS": (
        '[{"email": "betty@123.com", "password": "Betty@123.com", "role": "admin"},'
        ' {"email": "viewer@example.com", "password": "Viewer-pass-1", "role": "user"},'
        ' {"email": "locked@example.com", "password": "Locked-pass-1", "role": "user"}]'
    ),
}

StackFactory = Callable[..., LocalStack]


@pytest.fixture(scope="module")
def contract_stack() -> Iterator[LocalStack]:
    """app + realtime-sim, shared by a module's tests; each test starts from an empty pool."""
    with LocalStack(services=["realtime-sim", "app"], env=CONTRACT_ENV) as stack:
        yield stack


@pytest.fixture
def stack(contract_stack: LocalStack, request: pytest.FixtureRequest) -> LocalStack:
    return use_stack(request, contract_stack)


@pytest.fixture
async def api(stack: LocalStack) -> AsyncIterator[ApiClient]:
    """A logged-in admin client; clears the pool before the test so tests do not see each other's slots."""
    async with ApiClient(stack.app_url) as client:
        await client.login()
        await client.clear_all_sessions()
        yield client


@pytest.fixture
def stack_factory(request: pytest.FixtureRequest) -> Iterator[StackFactory]:
    """Start a stack of one's own (for destructive or differently configured tests)."""
    with ExitStack() as exits:

        def start(
            services: tuple[str, ...] = ("realtime-sim", "app"), env: Mapping[str, str] | None = None
        ) -> LocalStack:
            stack = LocalStack(services=services, env=dict(env or {}))
            use_stack(request, stack)
            return exits.enter_context(stack)

        yield start


@pytest.fixture
def short_tmp() -> Iterator[str]:
    """A TMPDIR for a nested run: short (Chromium puts a socket in it), removed with what the run kept
    (a run whose test failed keeps its stack's logs, as it should; the harness's own tests must not
    leave them in the machine's /tmp)."""
    path = tempfile.mkdtemp(prefix="rqa-")
    yield path
    shutil.rmtree(path, ignore_errors=True)
