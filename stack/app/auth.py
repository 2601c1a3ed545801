"""Accounts, password checks, JWTs and the per-account login rate limit."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
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
            claims = jwt.decode(token, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("token invalid") from None
        return Identity(email=str(claims["sub"]), role=str(claims.get("role", "user")))


class LoginRateLimiter:
    """After N failed logins for one email within the lockout window, refuse it until the window passes.

    Real accounts and made-up emails get the same answers (401s, then 429 with Retry-After),
    so the lockout does not tell which accounts exist. Their failures live apart: the real
    accounts' table is bounded by the configured accounts and never evicted; the made-up
    emails' table is capped at ``max_unknown`` and sheds expired entries first, then the
    longest-quiet. Spraying made-up emails can therefore never evict, and so unlock, a real
    account. (Under a flood of more than ``max_unknown`` live made-up emails one of them may be
    forgotten before its window ends: the price of bounded memory, paid by made-up emails only.)
    """

    def __init__(
        self,
        max_failures: int,
        lockout_s: float,
        known_emails: Iterable[str] = (),
        *,
        max_unknown: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = lockout_s
        self._known = frozenset(_key(email) for email in known_emails)
        self._max_unknown = max_unknown
        self._clock = clock
        self._accounts: dict[str, deque[float]] = {}
        # Ordered by last failure (re-inserted on each): expired and quiet entries sit in front.
        self._unknown: dict[str, deque[float]] = {}

    def __len__(self) -> int:
        """How many emails have failures on record (memory is bounded by this)."""
        return len(self._accounts) + len(self._unknown)

    def _table(self, key: str) -> dict[str, deque[float]]:
        return self._accounts if key in self._known else self._unknown

    def _recent(self, table: dict[str, deque[float]], key: str, now: float) -> deque[float] | None:
        """The failures still inside the window (None, and the entry dropped, when there are none)."""
        failures = table.get(key)
        if failures is None:
            return None
        while failures and now - failures[0] > self._window:
            failures.popleft()
        if not failures:
            del table[key]
            return None
        return failures

    def retry_after(self, email: str) -> float:
        """Seconds until this email may try again; 0 when it may try now. Records nothing."""
        key = _key(email)
        now = self._clock()
        failures = self._recent(self._table(key), key, now)
        if failures is None or len(failures) < self._max:
            return 0.0
        return max(0.0, self._window - (now - failures[0]))

    def record_failure(self, email: str) -> None:
        key = _key(email)
        now = self._clock()
        table = self._table(key)
        failures = self._recent(table, key, now) or deque(maxlen=self._max)  # only the last N matter
        failures.append(now)
        table.pop(key, None)
        table[key] = failures  # to the back: the most recent failure
        if table is self._unknown:
            self._shed_unknown(now)

    def _shed_unknown(self, now: float) -> None:
        """Keep the made-up emails' table within its cap: expired entries first, then the longest-quiet."""
        table = self._unknown
        while table:
            key, failures = next(iter(table.items()))
            if now - failures[-1] > self._window or len(table) > self._max_unknown:
                del table[key]
            else:
                return

    def record_success(self, email: str) -> None:
        key = _key(email)
        self._table(key).pop(key, None)


def _key(email: str) -> str:
    return email.strip().lower()


def bearer_token(header_value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not header_value:
        return None
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
