"""REST endpoints: login, sessions, the digital-human start/leave/clear calls, health, metrics."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from stack.app.auth import Identity, InvalidToken, bearer_token
from stack.app.context import AppContext
from stack.app.errors import ApiError
from stack.app.pool import POOL_FULL_MESSAGE
from stack.app.upstream import upstream_host
from stack.service import log_fields

log = logging.getLogger("app.api")
router = APIRouter()


def context(request: Request) -> AppContext:
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(context)]


def current_identity(request: Request, ctx: Ctx) -> Identity:
    token = bearer_token(request.headers.get("authorization"))
    try:
        return ctx.auth.verify(token)
    except InvalidToken as exc:
        raise ApiError(401, f"authentication required: {exc}", headers={"WWW-Authenticate": "Bearer"}) from None


User = Annotated[Identity, Depends(current_identity)]


class LoginRequest(BaseModel):
    email: str
    password: str


@router.post("/api/auth/login")
async def login(body: LoginRequest, ctx: Ctx) -> JSONResponse:
    wait = ctx.login_limiter.retry_after(body.email)
    if wait > 0:
        ctx.metrics.logins.labels("rate_limited").inc()
        raise ApiError(
            429,
            f"too many failed logins for this account; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    account = await ctx.auth.check_password(body.email, body.password)
    if account is None:
        ctx.login_limiter.record_failure(body.email)
        ctx.metrics.logins.labels("failed").inc()
        log.info("login failed", extra=log_fields(email=body.email.strip().lower()))
        raise ApiError(401, "invalid email or password", headers={"WWW-Authenticate": "Bearer"})
    ctx.login_limiter.record_success(body.email)
    token, ttl = ctx.auth.issue(account)
    ctx.metrics.logins.labels("ok").inc()
    log.info("login ok", extra=log_fields(email=account.email))
    return JSONResponse(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": ttl,
            "user": {"email": account.email, "role": account.role},
        }
    )


@router.get("/api/sessions")
async def list_sessions(user: User, ctx: Ctx) -> dict[str, object]:
    """An admin sees every session; anyone else only their own (others' emails and live_ids are not theirs)."""
    visible = ctx.pool.sessions() if user.is_admin else [s for s in ctx.pool.sessions() if s.user == user.email]
    sessions = [s.public() for s in visible]
    return {"sessions": sessions, "count": len(sessions), "limit": ctx.pool.limit}


@router.post("/api/digital_human_develop/start_live")
async def start_live(user: User, ctx: Ctx, _body: Annotated[dict | None, Body()] = None) -> JSONResponse:
    session = ctx.pool.try_acquire("live", user.email)
    if session is None:
        ctx.metrics.pool_refusals.labels("live").inc()
        return JSONResponse({"code": 4002, "message": POOL_FULL_MESSAGE}, status_code=429)
    return JSONResponse({"code": 0, "message": "ok", "live_id": session.live_id, "session": session.public()})


@router.delete("/api/digital_human_develop/leave_room/{live_id}")
async def leave_room(live_id: str, user: User, ctx: Ctx) -> dict[str, object]:
    session = ctx.pool.get(live_id)
    if session is None:
        raise ApiError(404, f"no live session {live_id!r}")
    if session.user != user.email and not user.is_admin:
        raise ApiError(403, "this session belongs to another user")
    if ctx.pool.release(live_id, "leave_room") is None:
        # Another release (reaper, a second leave_room, the socket closing) freed it first: we freed nothing.
        raise ApiError(404, f"no live session {live_id!r}")
    return {"code": 0, "message": "left", "live_id": live_id}


@router.post("/api/digital_human_develop/clear_all_sessions")
async def clear_all_sessions(user: User, ctx: Ctx) -> dict[str, object]:
    if not user.is_admin:
        raise ApiError(403, "only an admin account may clear every session")
    cleared = ctx.pool.clear("clear_all_sessions")
    log.info("all sessions cleared", extra=log_fields(by=user.email, cleared=cleared))
    return {"code": 0, "message": "cleared", "cleared": cleared}


@router.get("/health")
async def health(ctx: Ctx) -> dict[str, object]:
    """Answers from memory only: no lock, no I/O, so it stays fast when everything else is busy."""
    return {
        "status": "ok",
        "components": {
            "engine_pool": {"status": "ok", "active": len(ctx.pool), "limit": ctx.pool.limit},
            "upstream": {"endpoint": upstream_host(ctx.settings)},
        },
    }


@router.head("/health")
async def health_head() -> Response:
    """Uptime checkers send HEAD: 200, no body, same no-I/O path."""
    return Response(status_code=200)


@router.get("/metrics")
async def metrics(ctx: Ctx) -> Response:
    return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
