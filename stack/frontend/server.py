"""The frontend's small server: static pages, the runtime config, a health probe.

The pages are plain HTML and JavaScript modules (no build step). Where the backend
lives is decided at run time, not baked into the files: ``/config.js`` carries
``PUBLIC_API_URL`` / ``PUBLIC_WS_URL`` when they are set, and otherwise ``null``, in
which case the browser derives ``<scheme>//<hostname the page came from>:<port>`` with
port ``PUBLIC_APP_PORT`` (else ``APP_PORT``, else 8080). So the same files work on
loopback, behind docker port maps and behind a proxy.

Environment: HOST, FRONTEND_PORT (see ``__main__``), PUBLIC_API_URL, PUBLIC_WS_URL
(base or full ``.../ws/realtime``), PUBLIC_APP_PORT, APP_PORT, CONNECT_TIMEOUT_MS
(10000), RECONNECT_BASE_MS (500), RECONNECT_CAP_MS (15000).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stack.service import ConfigError, env_int, env_str, log_fields

__all__ = ["STATIC_DIR", "FrontendSettings", "create_app"]

logger = logging.getLogger("stack.frontend")

STATIC_DIR = Path(__file__).resolve().parent / "static"
REALTIME_PATH = "/ws/realtime"

# Explicit types: ``mimetypes`` depends on the host's /etc/mime.types (and Python 3.11
# says application/javascript); module scripts and worklets need a JavaScript type.
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}

# Pages by URL. ``/`` is the voice page; the two diagnostics pages keep the seed's names.
_PAGES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/login": "login.html",
    "/login.html": "login.html",
    "/test-realtime.html": "test-realtime.html",
    "/test-connection-fixed.html": "test-connection-fixed.html",
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _public_url(name: str, schemes: tuple[str, ...]) -> str | None:
    """A base URL from the environment, validated and without a trailing slash."""
    raw = env_str(name, "")
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.netloc:
        example = f"{schemes[0]}://localhost:8080"
        raise ConfigError(f"{name}={raw!r} is not a {'/'.join(schemes)} URL; set it to e.g. {example}")
    if parts.query or parts.fragment:
        raise ConfigError(f"{name}={raw!r} must not carry a query string or fragment")
    return raw.rstrip("/")


@dataclass(frozen=True)
class FrontendSettings:
    """What the browser needs to know at run time (never a secret)."""

    api_url: str | None = None
    ws_url: str | None = None
    app_port: int = 8080
    connect_timeout_ms: int = 10_000
    reconnect_base_ms: int = 500
    reconnect_cap_ms: int = 15_000

    @classmethod
    def from_env(cls) -> FrontendSettings:
        api_url = _public_url("PUBLIC_API_URL", ("http", "https"))
        ws_url = _public_url("PUBLIC_WS_URL", ("ws", "wss"))
        # PUBLIC_WS_URL may be given as the base (ws://host:8080) or as the full endpoint
        # (ws://host:8080/ws/realtime, like --ws-url); the page appends the path itself.
        if ws_url is not None and ws_url.endswith(REALTIME_PATH):
            ws_url = ws_url[: -len(REALTIME_PATH)]
        if ws_url is None and api_url is not None:
            ws_url = "ws" + api_url[len("http") :]  # http→ws, https→wss; same host and path
        base_ms = env_int("RECONNECT_BASE_MS", 500, minimum=1)
        return cls(
            api_url=api_url,
            ws_url=ws_url,
            # PUBLIC_APP_PORT: the app's port as the browser sees it, when a port map makes it
            # differ from APP_PORT (the port the app listens on).
            app_port=env_int("PUBLIC_APP_PORT", env_int("APP_PORT", 8080, minimum=1), minimum=1),
            connect_timeout_ms=env_int("CONNECT_TIMEOUT_MS", 10_000, minimum=100),
            reconnect_base_ms=base_ms,
            reconnect_cap_ms=env_int("RECONNECT_CAP_MS", 15_000, minimum=base_ms),
        )

    def browser_config(self) -> dict[str, Any]:
        return {
            "apiUrl": self.api_url,
            "wsUrl": self.ws_url,
            "appPort": self.app_port,
            "realtimePath": REALTIME_PATH,
            "connectTimeoutMs": self.connect_timeout_ms,
            "reconnectBaseMs": self.reconnect_base_ms,
            "reconnectCapMs": self.reconnect_cap_ms,
        }

    def config_js(self) -> str:
        payload = json.dumps(self.browser_config(), ensure_ascii=False, sort_keys=True)
        return (
            "// Runtime configuration of the realtime-qa reference frontend (generated).\n"
            f"window.REALTIME_QA_CONFIG = Object.freeze({payload});\n"
        )

    def content_security_policy(self) -> str:
        if self.api_url or self.ws_url:
            backends = " ".join(sorted({_origin(u) for u in (self.api_url, self.ws_url) if u}))
        else:
            # The backend's host is only known in the browser (same hostname, APP_PORT).
            backends = "http: https: ws: wss:"
        return (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self' {backends}; media-src 'self' blob:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )


class _SecurityHeaders:
    """Pure ASGI middleware (no BaseHTTPMiddleware overhead) adding the same headers everywhere."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"permissions-policy", b"microphone=(self), camera=(), geolocation=()"),
            (b"content-security-policy", csp.encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in existing]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _etag(path: Path) -> tuple[str, str]:
    stat = path.stat()
    digest = hashlib.sha256(f"{stat.st_mtime_ns}-{stat.st_size}".encode()).hexdigest()[:32]
    return f'"{digest}"', formatdate(stat.st_mtime, usegmt=True)


def _file_response(request: Request, path: Path) -> Response:
    media_type = _MEDIA_TYPES.get(path.suffix)
    if media_type is None or not path.is_file():
        return PlainTextResponse("Not Found", status_code=404)
    etag, last_modified = _etag(path)
    # No content hashes in the file names, so browsers must revalidate (cheap: 304).
    headers = {"cache-control": "no-cache", "etag": etag, "last-modified": last_modified}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and etag in [t.strip().removeprefix("W/") for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=media_type, headers=headers)


def create_app(settings: FrontendSettings | None = None, static_dir: Path = STATIC_DIR) -> ASGIApp:
    """The ASGI app serving the frontend; settings come from the environment by default."""
    settings = settings or FrontendSettings.from_env()
    static_root = static_dir.resolve()
    config_body = settings.config_js()

    async def page(request: Request) -> Response:
        return _file_response(request, static_root / _PAGES[request.url.path])

    async def static(request: Request) -> Response:
        target = (static_root / request.path_params["path"]).resolve()
        if not target.is_relative_to(static_root):
            return PlainTextResponse("Not Found", status_code=404)
        return _file_response(request, target)

    async def favicon(request: Request) -> Response:
        return _file_response(request, static_root / "favicon.svg")

    async def config_js(request: Request) -> Response:
        return Response(
            config_body,
            media_type="text/javascript; charset=utf-8",
            headers={"cache-control": "no-store"},
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"cache-control": "no-store"})

    routes = [Route(path, page, methods=["GET"]) for path in _PAGES]
    routes += [
        Route("/static/{path:path}", static, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/config.js", config_js, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    logger.info(
        "frontend configured",
        extra=log_fields(
            api_url=settings.api_url or f"(derived: page host, port {settings.app_port})",
            ws_url=settings.ws_url or f"(derived: page host, port {settings.app_port})",
            connect_timeout_ms=settings.connect_timeout_ms,
        ),
    )
    return _SecurityHeaders(app, settings.content_security_policy())
