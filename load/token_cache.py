"""One login per account per process: the load test measures voice sessions, not the login."""

from __future__ import annotations

import threading

import httpx

__all__ = ["TokenCache"]


class TokenCache:
    def __init__(self) -> None:
        # Made here, at import: building its TLS context takes ~50 ms of CPU, which inside a
        # running user would stall every other user's paced sends.
        self._http = httpx.Client(timeout=15)
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()  # a gevent lock once Locust has patched threading
        self.logins = 0

    def token(self, api_url: str, login_path: str, email: str, password: str) -> str:
        key = (api_url, email)
        with self._lock:
            if key not in self._tokens:
                response = self._http.post(f"{api_url}{login_path}", json={"email": email, "password": password})
                if response.status_code != 200:
                    raise RuntimeError(f"login as {email} at {api_url} answered HTTP {response.status_code}")
                self._tokens[key] = response.json()["access_token"]
                self.logins += 1
            return self._tokens[key]

    def forget(self, api_url: str, email: str) -> None:
        """After a 4001 (the token expired): the next session logs in again."""
        with self._lock:
            self._tokens.pop((api_url, email), None)
