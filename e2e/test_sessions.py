"""The engine pool through the REST API: the first seed's 4002 and its remedies.

``start_live`` up to the limit, then ``concurrency over limit (code: 4002)`` with the seed's
exact text; ``/api/sessions`` lists what is held; ``leave_room`` and ``clear_all_sessions``
free slots (the seed's 方案一 and 方案二), and clearing also ends live realtime sockets.
"""

from __future__ import annotations

import contextlib

import pytest

from e2e.helpers import fill_with_live_sessions, wait_for_session_count
from fixtures.api_client import ApiClient
from fixtures.profile import TargetProfile
from fixtures.target_setup import Target

pytestmark = pytest.mark.seed_class("concurrency", story="engine pool over REST")


@contextlib.asynccontextmanager
async def held(api: ApiClient, limit: int):  # type: ignore[no-untyped-def]
    """Fill the pool with live sessions; leave every one of them afterwards, whatever happened."""
    taken: list[str] = []
    try:
        taken += await fill_with_live_sessions(api, limit)
        yield taken
    finally:
        for live_id in taken:
            await api.leave_room(live_id)


async def test_start_live_up_to_the_limit_then_4002_with_the_seeds_text(
    api: ApiClient, pool_limit: int, profile: TargetProfile
) -> None:
    async with held(api, pool_limit):
        refused = await api.start_live()
        body = refused.json()
        assert refused.status_code == profile.pool.refused_http_status, (
            f"start_live on a full pool answered {refused.status_code}, not {profile.pool.refused_http_status}: {body}"
        )
        assert body.get("code") == profile.pool.refused_code, f"the refusal carries code {body.get('code')}, not 4002"
        assert body.get("message") == profile.pool.refused_message, (
            f"the refusal's message is {body.get('message')!r}, not the seed's {profile.pool.refused_message!r}"
        )
        assert len(await api.sessions()) == pool_limit, "a refused start_live still took a slot"


async def test_sessions_lists_what_start_live_opened(api: ApiClient, target: Target) -> None:
    response = await api.start_live()
    assert response.status_code == 200, f"start_live answered {response.status_code}: {response.text[:200]}"
    live_id = response.json()["live_id"]
    try:
        listed = {s["live_id"]: s for s in await api.sessions()}
        assert live_id in listed, f"{live_id} is not in /api/sessions: {sorted(listed)}"
        entry = listed[live_id]
        assert entry.get("user") == target.email, f"the session's user is {entry.get('user')!r}"
        assert {"created_at", "last_active_at"} <= set(entry), f"the entry lacks its times: {entry}"
    finally:
        await api.leave_room(live_id)


async def test_leave_room_frees_a_slot_for_the_next_start_live(api: ApiClient, pool_limit: int) -> None:
    async with held(api, pool_limit) as taken:
        freed = taken.pop()
        left = await api.leave_room(freed)
        assert left.status_code == 200, f"leave_room({freed}) answered {left.status_code}: {left.text[:200]}"
        again = await api.start_live()
        assert again.status_code == 200, f"the slot leave_room freed was not reusable: {again.status_code} {again.text}"
        taken.append(again.json()["live_id"])
        unknown = await api.leave_room(freed)
        assert unknown.status_code == 404, f"leaving a room twice answered {unknown.status_code}, not 404"


async def test_clear_all_sessions_frees_every_slot_and_ends_live_sockets(
    api: ApiClient, realtime, pool_limit: int, profile: TargetProfile
) -> None:
    probe = await api.request("POST", api.paths.clear_all_sessions)
    if probe.status_code == 403:
        pytest.skip("clear_all_sessions needs an admin account; the run's account is not one")
    assert probe.status_code == 200, f"clear_all_sessions answered {probe.status_code}: {probe.text[:200]}"
    socket = await realtime()
    taken = await fill_with_live_sessions(api, pool_limit)
    assert len(await api.sessions()) == pool_limit
    cleared = await api.clear_all_sessions()
    assert cleared == pool_limit, f"clear_all_sessions reported {cleared} cleared of {pool_limit} held"
    await wait_for_session_count(api, 0, "an empty /api/sessions after clear_all_sessions", profile.slo.slot_release_s)
    code = await socket.wait_closed(timeout_s=profile.slo.slot_release_s)
    assert code == profile.close_codes.session_cleared, (
        f"clear_all_sessions left the realtime socket open or closed it with {code}, "
        f"not {profile.close_codes.session_cleared}"
    )
    assert (await api.start_live()).status_code == 200
    assert taken  # the ids went with the clear; the autouse check sees nothing left
    await api.clear_all_sessions()
