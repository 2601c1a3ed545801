"""Where and how the app reaches the realtime model (Azure OpenAI, or realtime-sim by default)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect

from stack.app.settings import Settings

_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


def upstream_url(settings: Settings) -> str:
    """``https://x.openai.azure.com`` -> ``wss://x.openai.azure.com/openai/realtime?api-version=..&deployment=..``."""
    parts = urlsplit(settings.upstream_endpoint.rstrip("/"))
    scheme = _WS_SCHEMES.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(
            f"AZURE_OPENAI_REALTIME_ENDPOINT={settings.upstream_endpoint!r} is not an http(s) or ws(s) URL"
        )
    path = parts.path if parts.path.endswith("/realtime") else f"{parts.path}/openai/realtime"
    query = urlencode({"api-version": settings.upstream_api_version, "deployment": settings.upstream_deployment})
    return urlunsplit((scheme, parts.netloc, path, query, ""))


def upstream_host(settings: Settings) -> str:
    """The endpoint without credentials or query: safe to show in /health and logs."""
    parts = urlsplit(settings.upstream_endpoint)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}"


async def connect_upstream(settings: Settings) -> ClientConnection:
    """Open one upstream realtime session (the ``api-key`` header is how Azure authenticates)."""
    return await connect(
        upstream_url(settings),
        additional_headers={"api-key": settings.upstream_api_key},
        open_timeout=settings.upstream_connect_timeout_s,
        max_size=None,  # the client side already enforces MAX_MESSAGE_BYTES
        compression=None,
        ping_interval=20,
        ping_timeout=20,
        close_timeout=2,
    )
