"""A minimal OAuth 2.0 TokenProvider for the Xero tests (until connectors.oauth lands).

Refresh-token grant against the test server's token endpoint; refresh tokens rotate (each
is single use), so the newest one is kept. Concurrent callers share one refresh.
"""
from __future__ import annotations

import asyncio
import time

import httpx

from connectors.base import ConnectorError, NeedsReauthorization


class RefreshTokenProvider:
    def __init__(self, token_url: str, refresh_token: str, *, client_id: str = "test-client",
                 client_secret: str = "test-secret", early_seconds: float = 60.0):
        self._url, self._refresh_token = token_url, refresh_token
        self._auth = (client_id, client_secret)
        self._early = early_seconds
        self._access: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0
        self._revoked: NeedsReauthorization | None = None

    async def access_token(self) -> str:
        async with self._lock:
            if self._access is None or time.monotonic() >= self._expires_at:
                await self._refresh()
            return self._access  # type: ignore[return-value]

    async def refreshed(self, stale: str) -> str:
        async with self._lock:
            if self._access == stale or self._access is None:
                await self._refresh()
            return self._access  # type: ignore[return-value]

    async def _refresh(self) -> None:
        if self._revoked is not None:       # the grant is gone: no point asking again
            raise self._revoked
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.post(self._url, auth=self._auth, data={
                "grant_type": "refresh_token", "refresh_token": self._refresh_token})
        if response.status_code == 400 and response.json().get("error") == "invalid_grant":
            self._revoked = NeedsReauthorization("Xero refresh token revoked or expired (invalid_grant)")
            raise self._revoked
        if response.status_code != 200:
            raise ConnectorError(f"token endpoint answered HTTP {response.status_code}")
        body = response.json()
        self.refreshes += 1
        self._access, self._refresh_token = body["access_token"], body["refresh_token"]
        ttl = float(body["expires_in"])
        self._expires_at = time.monotonic() + ttl - min(self._early, ttl / 4)
