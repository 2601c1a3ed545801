"""Fault injection on a local stack: the loopback proxy that cuts the app off from its model."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from fixtures.api_client import ApiClient
from fixtures.realtime_client import RealtimeClient
from fixtures.tcp_proxy import TcpProxy
from tests.conftest import StackFactory


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)


def _is_gone(conn: socket.socket) -> bool:
    """Reset or closed by the far end: what the app sees when its upstream is cut."""
    try:
        conn.sendall(b"more")
        return conn.recv(4) == b""
    except OSError:
        return True


def test_proxy_forwards_then_cuts_then_forwards_again() -> None:
    server, port = _echo_server()
    proxy = TcpProxy("127.0.0.1", port).start()
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
            conn.sendall(b"ping")
            assert conn.recv(4) == b"ping"
            proxy.cut()
            assert _is_gone(conn), "the forwarded connection survived the cut"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as refused:
            assert refused.recv(4) == b""  # new connections are accepted and dropped at once
        proxy.restore()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
            conn.sendall(b"back")
            assert conn.recv(4) == b"back"
        assert proxy.forwarded == 2
    finally:
        proxy.stop()
        server.close()


@pytest.mark.chaos
async def test_cut_upstream_fails_sessions_without_leaking_slots(stack_factory: StackFactory) -> None:
    stack = stack_factory()
    api = ApiClient(stack.app_url)
    await api.login()
    client = await RealtimeClient.connect(stack.ws_url, api.token)
    await client.wait_for("session.created")

    stack.cut_upstream()
    error = await client.wait_for("error")
    assert error["error"]["code"] == "upstream_error"
    assert await client.wait_closed() == 1011
    refused = await RealtimeClient.connect(stack.ws_url, api.token)
    assert "unavailable" in (await refused.wait_for("error"))["error"]["message"]
    assert await refused.wait_closed() == 1011
    assert await api.sessions() == []

    stack.restore_upstream()
    again = await RealtimeClient.connect(stack.ws_url, api.token)
    await again.wait_for("session.created")
    await again.close()
    for _ in range(50):
        if await api.sessions() == []:
            break
        await asyncio.sleep(0.1)
    assert await api.sessions() == []
