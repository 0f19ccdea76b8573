"""One Xero tenant connection's HTTP calls: auth, rate limits, retries.

Xero limits each (app, tenant) connection to 5 calls in flight, 60 calls per minute and a
daily quota (5000), and answers 429 with `Retry-After` and `X-Rate-Limit-Problem`
(minute | day | concurrent). We stay inside the limits on our side (a semaphore and a
sliding window per Xero tenant) so 429s are the exception, not the flow control.

A write that may have reached Xero but whose answer was lost (timeout, connection reset)
raises `UnknownOutcome`: the caller reconciles (looks the document up) before it resends,
and every resend carries the same `Idempotency-Key`.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from connectors.base import ConnectorError, NeedsReauthorization, PermanentError, TokenProvider
from ops import metrics


@dataclass(frozen=True, slots=True)
class XeroLimits:
    """Client-side budget for one Xero tenant (Xero's published limits by default).

    `minute_seconds` is the length of the per-minute window: benches shrink it together
    with the test server's time scale."""

    calls_per_minute: int = 60
    concurrency: int = 5
    minute_seconds: float = 60.0
    batch_size: int = 50
    server_error_attempts: int = 4          # per call: 5xx and read-only transport faults
    backoff_initial: float = 0.25
    backoff_max: float = 4.0
    rate_limit_waits: int = 30              # per call: 429 minute/concurrent waits before giving up
    unknown_outcome_rounds: int = 4         # per write: reconcile-then-resend rounds
    request_timeout: float = 30.0


class XeroDailyLimitReached(ConnectorError):
    """The tenant's daily call quota is spent: pause this tenant (only) until `resume_at`."""

    def __init__(self, xero_tenant_id: str, resume_at: dt.datetime):
        super().__init__(f"Xero daily API limit reached for tenant {xero_tenant_id}; resume at {resume_at.isoformat()}")
        self.xero_tenant_id = xero_tenant_id
        self.resume_at = resume_at


class XeroValidationError(PermanentError):
    """Xero refused the request itself (HTTP 400 / ValidationErrors)."""

    def __init__(self, message: str, body: Any = None):
        super().__init__(message)
        self.body = body


class UnknownOutcome(ConnectorError):
    """A write was sent but its answer was lost: it may or may not have been applied."""


class _ServerFault(ConnectorError):
    """5xx or a lost read: retried with exponential backoff and jitter."""


class SlidingWindow:
    """At most `calls` per `seconds`, counted the way the server counts them.

    A call occupies a slot from the moment we send it; when it completes, the slot is
    stamped with the completion time (never earlier than the server saw it), so our count
    over any window is >= the server's and the minute limit is never hit by our own calls.
    """

    def __init__(self, calls: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.calls, self.seconds, self._clock = calls, seconds, clock
        self._stamps: deque[float] = deque()
        self._in_flight = 0
        self._blocked_until = 0.0
        self._changed = asyncio.Event()

    def _prune(self, now: float) -> None:
        while self._stamps and self._stamps[0] <= now - self.seconds:
            self._stamps.popleft()

    async def acquire(self) -> None:
        while True:
            now = self._clock()
            self._prune(now)
            if now < self._blocked_until:
                await asyncio.sleep(self._blocked_until - now)
                continue
            if len(self._stamps) + self._in_flight < self.calls:
                self._in_flight += 1
                return
            if self._stamps:
                await asyncio.sleep(max(self._stamps[0] + self.seconds - now, 0.001))
            else:
                self._changed.clear()
                await self._changed.wait()

    def release(self) -> None:
        self._in_flight -= 1
        self._stamps.append(self._clock())
        self._changed.set()

    def observe_remaining(self, remaining: int) -> None:
        """Xero says fewer calls remain than we think (another client shares the quota):
        occupy the difference so we slow down with it."""
        now = self._clock()
        self._prune(now)
        ours = self.calls - len(self._stamps) - self._in_flight
        for _ in range(max(0, ours - remaining)):
            self._stamps.append(now)

    def block_for(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)


def next_utc_midnight(now: dt.datetime) -> dt.datetime:
    now = now.astimezone(dt.UTC)
    return dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _header_number(response: httpx.Response, name: str) -> float | None:
    try:
        return float(response.headers[name])
    except (KeyError, ValueError):
        return None


def error_message(body: Any) -> str:
    """The human part of a Xero error body (ApiException Elements / ValidationErrors / Detail)."""
    if not isinstance(body, dict):
        return str(body)[:300]
    messages: list[str] = []
    for element in body.get("Elements") or []:
        messages += [v.get("Message", "") for v in element.get("ValidationErrors") or []]
    messages += [v.get("Message", "") for v in body.get("ValidationErrors") or []]
    if not messages:
        messages = [str(body.get("Message") or body.get("Detail") or body.get("Title") or body)]
    return "; ".join(m for m in messages if m)[:500]


class XeroHttp:
    """Calls to one Xero tenant, within its limits, with auth refresh and retries."""

    def __init__(self, base_url: str, xero_tenant_id: str, tokens: TokenProvider, limits: XeroLimits,
                 *, utcnow: Callable[[], dt.datetime] | None = None, transport: httpx.AsyncBaseTransport | None = None):
        self.xero_tenant_id = xero_tenant_id
        self.limits = limits
        self._tokens = tokens
        self._utcnow = utcnow or (lambda: dt.datetime.now(dt.UTC))
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/api.xro/2.0", transport=transport,
                                         timeout=limits.request_timeout,
                                         limits=httpx.Limits(max_connections=limits.concurrency))
        self._concurrency = asyncio.Semaphore(limits.concurrency)
        self._window = SlidingWindow(limits.calls_per_minute, limits.minute_seconds)
        self.paused_until: dt.datetime | None = None
        self.calls = 0
        self.rate_limited = 0           # 429s received (for benches and logs)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, *, params: dict | None = None, json: Any = None,
                   content: bytes | None = None, content_type: str | None = None, key: str | None = None) -> Any:
        """One logical call: returns the decoded JSON body (None when empty)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.limits.server_error_attempts),
            wait=wait_random_exponential(multiplier=self.limits.backoff_initial, max=self.limits.backoff_max),
            retry=retry_if_exception_type(_ServerFault), reraise=True,
            before_sleep=lambda _state: metrics.record_retry("xero"),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._call_authorised(method, path, params, json, content, content_type, key)
        except _ServerFault as exc:
            raise ConnectorError(f"Xero {method} {path} kept failing: {exc}") from exc
        raise AssertionError("unreachable")

    async def _call_authorised(self, method, path, params, json, content, content_type, key) -> Any:
        token = await self._tokens.access_token()
        refreshed = False
        waits = 0
        while True:
            response = await self._send(method, path, params, json, content, content_type, key, token)
            status = response.status_code
            if status == 401 and not refreshed:
                token, refreshed = await self._tokens.refreshed(token), True
                continue
            if status == 429:
                waits += 1
                metrics.record_429("xero")
                self._on_rate_limited(response, waits)
                continue
            return self._decode(method, path, response)

    def _on_rate_limited(self, response: httpx.Response, waits: int) -> None:
        self.rate_limited += 1
        problem = response.headers.get("X-Rate-Limit-Problem", "").lower()
        retry_after = _header_number(response, "Retry-After")
        if problem == "day" or _header_number(response, "X-DayLimit-Remaining") == 0:
            self._pause_for_the_day(retry_after)
            raise XeroDailyLimitReached(self.xero_tenant_id, self.paused_until)  # type: ignore[arg-type]
        if waits > self.limits.rate_limit_waits:
            raise ConnectorError(f"Xero kept answering 429 ({problem or 'unspecified'}) for tenant {self.xero_tenant_id}")
        self._window.block_for(retry_after if retry_after is not None else 1.0)

    def _pause_for_the_day(self, retry_after: float | None) -> None:
        now = self._utcnow()
        resume_at = next_utc_midnight(now)
        if retry_after is not None:
            resume_at = max(resume_at, now + dt.timedelta(seconds=retry_after))
        self.paused_until = resume_at

    def _raise_if_paused(self) -> None:
        if self.paused_until is not None:
            if self._utcnow() < self.paused_until:
                raise XeroDailyLimitReached(self.xero_tenant_id, self.paused_until)
            self.paused_until = None

    async def _send(self, method, path, params, json, content, content_type, key, token) -> httpx.Response:
        self._raise_if_paused()
        headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": self.xero_tenant_id,
                   "Accept": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        if content_type is not None:
            headers["Content-Type"] = content_type
        async with self._concurrency:
            await self._window.acquire()
            try:
                # again: the daily quota may have run out while this call waited for a slot
                # (a call queued behind the one that got the day's 429 must not go out)
                self._raise_if_paused()
                self.calls += 1
                response = await self._client.request(method, path, params=params, json=json, content=content,
                                                       headers=headers)
            except httpx.TransportError as exc:
                if method == "GET":
                    raise _ServerFault(f"{type(exc).__name__}: {exc}") from exc
                raise UnknownOutcome(f"Xero {method} {path}: {type(exc).__name__} {exc}") from exc
            finally:
                self._window.release()
        remaining = _header_number(response, "X-MinLimit-Remaining")
        if remaining is not None:
            self._window.observe_remaining(int(remaining))
        if _header_number(response, "X-DayLimit-Remaining") == 0 and response.status_code != 429:
            self._pause_for_the_day(None)
        return response

    def _decode(self, method: str, path: str, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        if status < 300:
            return body
        if status >= 500:
            raise _ServerFault(f"HTTP {status}: {error_message(body)}")
        if status == 403:
            raise NeedsReauthorization(f"Xero refused access to tenant {self.xero_tenant_id}: {error_message(body)}")
        if status == 401:
            raise ConnectorError(f"Xero still answers 401 after a token refresh: {error_message(body)}")
        if status in (400, 404):
            raise XeroValidationError(f"Xero {method} {path}: HTTP {status}: {error_message(body)}", body)
        raise ConnectorError(f"Xero {method} {path}: HTTP {status}: {error_message(body)}")
