"""Accounts, password checks, JWTs and the per-account login rate limit."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass

import jwt

from stack.app.settings import Account, Settings

_PBKDF2_ITERATIONS = 20_000  # ~10 ms: cheap enough for load tests, not a plaintext compare


@dataclass(frozen=True)
class Identity:
    """Who a valid token belongs to."""

    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class InvalidToken(Exception):
    """The token is missing, malformed, forged or expired."""


class Authenticator:
    """Checks passwords (hashed in memory, compared in constant time) and issues/verifies JWTs."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret
        self._ttl_s = settings.jwt_ttl_s
        self._salt = secrets.token_bytes(16)
        self._accounts = {a.email: (self._hash(a.password), a) for a in settings.accounts}
        # Unknown emails are checked against a dummy hash so timing does not reveal accounts.
        self._dummy_hash = self._hash(secrets.token_urlsafe(16))

    def _hash(self, password: str) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", password.encode(), self._salt, _PBKDF2_ITERATIONS)

    async def check_password(self, email: str, password: str) -> Account | None:
        stored, account = self._accounts.get(email.strip().lower(), (self._dummy_hash, None))
        candidate = await asyncio.to_thread(self._hash, password)
        if hmac.compare_digest(candidate, stored) and account is not None:
            return account
        return None

    def issue(self, account: Account) -> tuple[str, int]:
        now = int(time.time())
        claims = {
            "sub": account.email,
            "role": account.role,
            "iat": now,
            "exp": now + self._ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256"), self._ttl_s

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise InvalidToken("no token")
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("token invalid") from None
        return Identity(email=str(claims["sub"]), role=str(claims.get("role", "user")))


class LoginRateLimiter:
    """After N failed logins for one account within the lockout window, refuse it until the window passes."""

    def __init__(self, max_failures: int, lockout_s: float) -> None:
        self._max = max_failures
        self._window = lockout_s
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > self._window:
            failures.popleft()
        return failures

    def retry_after(self, email: str) -> float:
        """Seconds until this account may try again; 0 when it may try now."""
        now = time.monotonic()
        failures = self._recent(email.strip().lower(), now)
        if len(failures) < self._max:
            return 0.0
        return max(0.0, self._window - (now - failures[0]))

    def record_failure(self, email: str) -> None:
        key = email.strip().lower()
        self._recent(key, time.monotonic()).append(time.monotonic())
        if len(self._failures) > 10_000:  # bound memory against sprayed emails
            self._failures.pop(next(iter(self._failures)))

    def record_success(self, email: str) -> None:
        self._failures.pop(email.strip().lower(), None)


def bearer_token(header_value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not header_value:
        return None
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
