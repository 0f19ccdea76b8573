"""One QuickBooks Online realm's HTTP calls: auth, limits, retries, Faults.

QBO allows 500 requests a minute and 10 in flight per realm, and the batch endpoint 40
requests a minute per realm (Intuit, "API call limits and throttles" and "Batch operation":
"up to 10 payloads ... up to 40 requests per minute"); we keep inside all three on our side
(a semaphore, the same sliding window as the Xero client, and a second window for /batch). A `Fault` body is an
error even under HTTP 200. 401 refreshes the token once and resends with the same `requestid`
(a second 401 is an error the runner retries, still with that `requestid`); 429 (JSON or XML body) waits `Retry-After` or the configured time; 5xx and
lost reads are retried with jittered exponential backoff; a write whose answer was lost
raises UnknownOutcome so the caller looks the document up before resending.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from connectors.base import ConnectorError, PermanentError, TokenProvider
from connectors.xero_http import SlidingWindow, UnknownOutcome
from ops import metrics

# Intuit reports a duplicate DocNumber as 6140 and, on other endpoints/versions, 6210
# ("Top QuickBooks Online API errors": 6210 Duplicate Document Number Error).
DUPLICATE_NUMBERS = frozenset({"6140", "6210"})
DUPLICATE_NUMBER, STALE_OBJECT = "6140", "5010"
REQUESTID_MAX = 36          # a batch requestid longer than 36 characters refuses the whole batch
BATCH_ID_MAX = 10           # each bId <= 10 characters when the batch carries a requestid


@dataclass(frozen=True, slots=True)
class QboLimits:
    calls_per_minute: int = 500
    concurrency: int = 10
    minute_seconds: float = 60.0
    batch_size: int = 10                    # Intuit: up to 10 payloads a batch
    batches_per_minute: int = 40            # Intuit: 40 batch requests a minute per realm
    rate_limit_wait: float = 60.0           # when a 429 carries no Retry-After
    rate_limit_waits: int = 30
    server_error_attempts: int = 4
    backoff_initial: float = 0.25
    backoff_max: float = 4.0
    request_timeout: float = 30.0
    minorversion: int = 75


class QboFault(PermanentError):
    def __init__(self, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"QuickBooks Fault {code}: {message}")
        self.code, self.body = code, body


class _ServerFault(ConnectorError):
    pass


def fault_of(body: Any) -> tuple[str, str] | None:
    if not isinstance(body, dict):
        return None
    fault = body.get("Fault") or body.get("fault")
    if not fault:
        return None
    errors = fault.get("Error") or fault.get("error") or [{}]
    first = errors[0]
    return str(first.get("code", "")), str(first.get("Detail") or first.get("Message") or first.get("message") or "")


class QboHttp:
    def __init__(self, base_url: str, realm_id: str, tokens: TokenProvider, limits: QboLimits,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.realm_id, self.limits, self._tokens = realm_id, limits, tokens
        self._client = httpx.AsyncClient(base_url=f"{base_url.rstrip('/')}/v3/company/{realm_id}",
                                         timeout=limits.request_timeout, transport=transport,
                                         limits=httpx.Limits(max_connections=limits.concurrency))
        self._concurrency = asyncio.Semaphore(limits.concurrency)
        self._window = SlidingWindow(limits.calls_per_minute, limits.minute_seconds)
        self._batch_window = SlidingWindow(limits.batches_per_minute, limits.minute_seconds)
        self.calls = self.rate_limited = 0
        self.waits: list[float] = []            # seconds waited per 429 (Retry-After or the fallback)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                   files: dict | None = None, requestid: str | None = None) -> Any:
        params = {**(params or {}), "minorversion": self.limits.minorversion}
        if requestid is not None:
            params["requestid"] = requestid
        retrying = AsyncRetrying(stop=stop_after_attempt(self.limits.server_error_attempts), reraise=True,
                                 wait=wait_random_exponential(multiplier=self.limits.backoff_initial,
                                                              max=self.limits.backoff_max),
                                 retry=retry_if_exception_type(_ServerFault))
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        metrics.record_retry("quickbooks")
                    return await self._authorised(method, path, params, json, files)
        except _ServerFault as exc:
            raise ConnectorError(f"QuickBooks {method} {path} kept failing: {exc}") from exc

    async def _authorised(self, method, path, params, json, files) -> Any:
        stale, refreshed, waits = None, False, 0
        while True:
            response, token = await self._send(method, path, params, json, files, stale)
            stale = None
            if response.status_code == 401 and not refreshed:     # expired meanwhile: refresh once, same requestid
                stale, refreshed = token, True
                continue
            if response.status_code == 429:
                waits += 1
                self.rate_limited += 1
                metrics.record_429("quickbooks")
                if waits > self.limits.rate_limit_waits:
                    raise ConnectorError(f"QuickBooks kept answering 429 for realm {self.realm_id}")
                try:
                    wait = float(response.headers.get("Retry-After", ""))
                except ValueError:
                    wait = self.limits.rate_limit_wait
                self.waits.append(wait)
                self._window.block_for(wait)
                if path == "/batch":
                    self._batch_window.block_for(wait)
                continue
            return self._decode(method, path, response)

    async def _send(self, method, path, params, json, files, stale) -> tuple[httpx.Response, str]:
        """The token is taken once a slot is free, so calls queued behind the semaphore do not all
        go out with a token that expired while they waited."""
        batch = path == "/batch"
        if batch:                   # waited for outside the semaphore: queued batches never hold a slot
            await self._batch_window.acquire()
        try:
            async with self._concurrency:
                token = await (self._tokens.refreshed(stale) if stale else self._tokens.access_token())
                headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
                await self._window.acquire()
                try:
                    self.calls += 1
                    return await self._client.request(method, path, params=params, json=json, files=files,
                                                      headers=headers), token
                except httpx.TransportError as exc:
                    if method == "GET":
                        raise _ServerFault(f"{type(exc).__name__}: {exc}") from exc
                    raise UnknownOutcome(f"QuickBooks {method} {path}: {type(exc).__name__} {exc}") from exc
                finally:
                    self._window.release()
        finally:
            if batch:
                self._batch_window.release()

    def _decode(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        if status >= 500:
            raise _ServerFault(f"HTTP {status}")
        if status == 401:
            raise ConnectorError("QuickBooks still answers 401 after refreshing the token")
        fault = fault_of(body)
        if fault is not None:                       # under 200 too: a Fault is an error
            raise QboFault(fault[0], fault[1], body)
        if status >= 400:
            raise PermanentError(f"QuickBooks {method} {path}: HTTP {status}: {str(body)[:300]}")
        return body
