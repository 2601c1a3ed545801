"""The app's settings, read once from the environment (names from the seeds and DESIGN.md)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field

from stack.service import ConfigError, env_float, env_int, env_str

DEFAULT_ACCOUNTS = [{"email": "betty@123.com", "password": "Betty@123.com", "role": "admin"}]


@dataclass(frozen=True)
class Account:
    email: str
    password: str = field(repr=False)
    role: str = "user"  # "admin" may clear every session


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    engine_limit: int
    idle_timeout_s: float
    reaper_interval_s: float
    jwt_secret: str = field(repr=False)
    jwt_secret_generated: bool
    jwt_ttl_s: int
    accounts: tuple[Account, ...]
    login_max_failures: int
    login_lockout_s: float
    allowed_origins: tuple[str, ...]
    max_message_bytes: int  # one WebSocket frame; larger closes 1009
    upstream_endpoint: str
    upstream_api_key: str = field(repr=False)
    # One HTTP request body; larger gets 413 before it is read (the JSON APIs take a few hundred bytes).
    max_request_body_bytes: int = 64 * 1024
    upstream_deployment: str = "gpt-realtime"
    upstream_api_version: str = "2025-08-28"
    upstream_connect_timeout_s: float = 10.0

    @classmethod
    def from_env(cls) -> Settings:
        frontend_port = env_int("FRONTEND_PORT", 3000)
        default_origins = f"http://localhost:{frontend_port},http://127.0.0.1:{frontend_port}"
        origins = tuple(
            o.strip().rstrip("/") for o in env_str("ALLOWED_ORIGINS", default_origins).split(",") if o.strip()
        )
        idle = env_float("SESSION_IDLE_TIMEOUT_S", 300.0, minimum=0.1)
        secret = os.environ.get("JWT_SECRET", "")
        return cls(
            host=env_str("HOST", "127.0.0.1"),
            port=env_int("APP_PORT", 8080, minimum=1),
            engine_limit=env_int("ENGINE_CONCURRENCY_LIMIT", 8, minimum=0),
            idle_timeout_s=idle,
            reaper_interval_s=env_float("SESSION_REAPER_INTERVAL_S", min(5.0, max(idle / 4, 0.05))),
            jwt_secret=secret or secrets.token_urlsafe(32),
            jwt_secret_generated=not secret,
            jwt_ttl_s=env_int("JWT_TTL_S", 3600, minimum=1),
            accounts=_accounts_from_env(),
            login_max_failures=env_int("LOGIN_MAX_FAILURES", 5, minimum=1),
            login_lockout_s=env_float("LOGIN_LOCKOUT_S", 60.0, minimum=0.1),
            allowed_origins=origins,
            max_message_bytes=env_int("MAX_MESSAGE_BYTES", 1024 * 1024, minimum=1024),
            max_request_body_bytes=env_int("MAX_REQUEST_BODY_BYTES", 64 * 1024, minimum=1024),
            upstream_endpoint=env_str("AZURE_OPENAI_REALTIME_ENDPOINT", "http://127.0.0.1:8090"),
            upstream_api_key=env_str("AZURE_OPENAI_REALTIME_API_KEY", ""),
            upstream_deployment=env_str("AZURE_OPENAI_REALTIME_DEPLOYMENT_NAME", "gpt-realtime"),
            upstream_api_version=env_str("AZURE_OPENAI_REALTIME_API_VERSION", "2025-08-28"),
            upstream_connect_timeout_s=env_float("UPSTREAM_CONNECT_TIMEOUT_S", 10.0, minimum=0.1),
        )


def _accounts_from_env() -> tuple[Account, ...]:
    """AUTH_ACCOUNTS is a JSON list of {"email", "password", "role"}; defaults to the seed's test account."""
    raw = os.environ.get("AUTH_ACCOUNTS", "").strip()
    if not raw:
        entries = DEFAULT_ACCOUNTS
    else:
        try:
            entries = json.loads(raw)
            if not isinstance(entries, list) or not entries:
                raise ValueError
            for entry in entries:
                if not isinstance(entry, dict) or not entry.get("email") or not entry.get("password"):
                    raise ValueError
        except ValueError:
            raise ConfigError(
                'AUTH_ACCOUNTS must be a JSON list like [{"email": "a@b.c", "password": "...", "role": "admin"}]'
            ) from None
    return tuple(
        Account(str(e["email"]).strip().lower(), str(e["password"]), str(e.get("role", "user"))) for e in entries
    )
