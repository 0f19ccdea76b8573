"""OAuth 2.0 access tokens for one tenant's connection (connectors.base.TokenProvider).

Refreshes ahead of expiry (QBO: 1 h access tokens and rotating refresh tokens; Xero: 30 min),
one refresh at a time per connection across processes (the store's file lock), re-reading
the store under the lock so a token another process just refreshed is used, not refreshed
again. The newest refresh token is saved before the new access token is handed out.
`invalid_grant` marks the connection as needing re-authorization and raises
NeedsReauthorization: the runner pauses that tenant, the others go on.
"""
from __future__ import annotations

import asyncio
import time

import httpx

from connectors.base import ConnectorError, NeedsReauthorization
from connectors.tokens import Tokens, TokenStore


class OAuthTokenProvider:
    def __init__(self, store: TokenStore, connection: str, token_url: str, client_id: str, client_secret: str,
                 *, skew_seconds: float = 120.0, timeout: float = 15.0) -> None:
        self.store, self.connection, self.token_url = store, connection, token_url
        self._auth = (client_id, client_secret)
        self.skew, self.timeout = skew_seconds, timeout
        self._tokens: Tokens | None = None
        self._lock = asyncio.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"OAuthTokenProvider({self.connection!r}, {self.token_url!r})"

    async def access_token(self) -> str:
        tokens = self._tokens or self.store.load(self.connection)
        if tokens is not None and tokens.fresh(self.skew):
            self._tokens = tokens
            return tokens.access_token
        return await self.refreshed(tokens.access_token if tokens else "")

    async def refreshed(self, stale: str) -> str:
        async with self._lock:
            tokens = await asyncio.get_running_loop().run_in_executor(None, self._refresh_locked, stale)
            self._tokens = tokens
            return tokens.access_token

    def _refresh_locked(self, stale: str) -> Tokens:
        with self.store.locked(self.connection):
            current = self.store.load(self.connection)
            if current is None:
                raise NeedsReauthorization(f"{self.connection}: no tokens stored; run `backoffice connect`")
            if current.needs_reauth:
                raise NeedsReauthorization(f"{self.connection}: the grant was revoked; re-authorize")
            if current.access_token != stale and current.fresh(self.skew):
                return current                      # another process refreshed it meanwhile
            response = httpx.post(self.token_url, auth=self._auth, timeout=self.timeout, data={
                "grant_type": "refresh_token", "refresh_token": current.refresh_token})
            if response.status_code == 400 and _error(response) == "invalid_grant":
                self.store.save(self.connection, Tokens("", current.refresh_token, 0, needs_reauth=True))
                raise NeedsReauthorization(f"{self.connection}: refresh token rejected (invalid_grant)")
            if response.status_code != 200:
                raise ConnectorError(f"{self.connection}: token endpoint answered HTTP {response.status_code}")
            body = response.json()
            tokens = Tokens(body["access_token"], body.get("refresh_token") or current.refresh_token,
                            time.time() + float(body.get("expires_in", 1800)))
            self.store.save(self.connection, tokens)      # the rotated refresh token is durable first
            self.refreshes += 1
            return tokens


def _error(response: httpx.Response) -> str | None:
    try:
        return response.json().get("error")
    except ValueError:
        return None


def seed(store: TokenStore, connection: str, refresh_token: str) -> None:
    """Store a refresh token obtained out of band (onboarding); the first use refreshes it."""
    store.save(connection, Tokens("", refresh_token, 0))


def authorize_url(base: str, client_id: str, redirect_uri: str, scope: str, state: str) -> str:
    from urllib.parse import urlencode

    return f"{base}?{urlencode({'response_type': 'code', 'client_id': client_id, 'redirect_uri': redirect_uri, 'scope': scope, 'state': state})}"


def exchange_code(store: TokenStore, connection: str, token_url: str, client_id: str, client_secret: str,
                  code: str, redirect_uri: str, timeout: float = 15.0) -> Tokens:
    """Authorization-code grant: the first tokens of a connection, saved before returning."""
    response = httpx.post(token_url, auth=(client_id, client_secret), timeout=timeout, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
    if response.status_code != 200:
        raise ConnectorError(f"{connection}: code exchange failed: HTTP {response.status_code} {_error(response)}")
    body = response.json()
    tokens = Tokens(body["access_token"], body["refresh_token"], time.time() + float(body.get("expires_in", 1800)))
    with store.locked(connection):
        store.save(connection, tokens)
    return tokens
