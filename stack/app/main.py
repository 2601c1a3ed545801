"""The app: FastAPI wiring of the API, the realtime relay, CORS, metrics and the idle reaper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stack.app.api import router
from stack.app.context import AppContext
from stack.app.errors import (
    ApiError,
    api_error_response,
    http_error_response,
    internal_error_response,
    validation_error_response,
)
from stack.app.limits import RequestBodyLimit
from stack.app.relay import realtime_endpoint
from stack.app.settings import Settings
from stack.app.upstream import upstream_host
from stack.service import log_fields

log = logging.getLogger("app")


class RequestTimer:
    """Pure ASGI middleware timing HTTP requests into a histogram (no logging on the hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            ctx: AppContext | None = getattr(scope.get("app").state, "ctx", None) if scope.get("app") else None
            if ctx is not None:
                ctx.metrics.http_requests.labels(scope["method"], template, str(status)).observe(
                    time.perf_counter() - started
                )


async def _idle_reaper(ctx: AppContext) -> None:
    """Free slots that saw no traffic for SESSION_IDLE_TIMEOUT_S; never dies of one bad pass."""
    while True:
        await asyncio.sleep(ctx.settings.reaper_interval_s)
        try:
            reaped = ctx.pool.reap_idle(ctx.settings.idle_timeout_s)
            if reaped:
                log.info("idle sessions reaped", extra=log_fields(count=reaped))
        except Exception:
            log.exception("idle reaper pass failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    ctx = AppContext.build(settings, debug_faults=os.environ.get("APP_DEBUG_FAULTS") == "1")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.jwt_secret_generated:
            log.warning("JWT_SECRET is not set: using a generated secret; tokens die with this process")
        if not settings.upstream_api_key:
            log.warning("AZURE_OPENAI_REALTIME_API_KEY is empty: the upstream will likely refuse sessions")
        log.info(
            "app ready",
            extra=log_fields(
                engine_limit=settings.engine_limit,
                idle_timeout_s=settings.idle_timeout_s,
                upstream=upstream_host(settings),
                allowed_origins=list(settings.allowed_origins),
            ),
        )
        reaper = asyncio.create_task(_idle_reaper(ctx), name="idle-reaper")
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            cleared = ctx.pool.clear("shutdown")
            if cleared:
                log.info("sessions released at shutdown", extra=log_fields(count=cleared))
                await asyncio.sleep(0.2)  # let evicted relays send their close frames

    app = FastAPI(title="realtime-qa reference app", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    # Innermost of ours: a 413 still gets CORS headers and is timed like any answer.
    app.add_middleware(RequestBodyLimit, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.allowed_origins),
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],  # so the login page can say how long to wait
        max_age=600,
    )
    app.add_middleware(RequestTimer)
    app.add_exception_handler(ApiError, api_error_response)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error_response)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error_response)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, internal_error_response)
    app.include_router(router)
    app.add_api_websocket_route("/ws/realtime", realtime_endpoint)
    return app
