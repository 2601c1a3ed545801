"""Fixtures for the harness's own tests: the reference stack as real local processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack

import pytest

from fixtures.api_client import ApiClient
from stack.launcher import LocalStack

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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """On failure, attach the tail of every service log the test's stacks wrote, and keep the logs."""
    report = yield
    if report.failed:
        for stack in getattr(item, "_stacks", []):
            stack.keep_logs = True  # the whole log outlives the stack; its path is in the report
            for name in stack.services:
                item.add_report_section(call.when, f"{name} log ({stack.log_dir})", stack.log_tail(name, 60))
    return report


def _track(request: pytest.FixtureRequest, stack: LocalStack) -> None:
    node = request.node
    node._stacks = [*getattr(node, "_stacks", []), stack]


@pytest.fixture(scope="module")
def contract_stack() -> Iterator[LocalStack]:
    """app + realtime-sim, shared by a module's tests; each test starts from an empty pool."""
    with LocalStack(services=["realtime-sim", "app"], env=CONTRACT_ENV) as stack:
        yield stack


@pytest.fixture
def stack(contract_stack: LocalStack, request: pytest.FixtureRequest) -> LocalStack:
    _track(request, contract_stack)
    return contract_stack


@pytest.fixture
async def api(stack: LocalStack) -> ApiClient:
    """A logged-in admin client; clears the pool before the test so tests do not see each other's slots."""
    client = ApiClient(stack.app_url)
    await client.login()
    await client.clear_all_sessions()
    return client


@pytest.fixture
def stack_factory(request: pytest.FixtureRequest) -> Iterator[StackFactory]:
    """Start a stack of one's own (for destructive or differently configured tests)."""
    with ExitStack() as exits:

        def start(
            services: tuple[str, ...] = ("realtime-sim", "app"), env: Mapping[str, str] | None = None
        ) -> LocalStack:
            stack = LocalStack(services=services, env=dict(env or {}))
            _track(request, stack)
            return exits.enter_context(stack)

        yield start
