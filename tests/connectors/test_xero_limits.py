"""Xero's limits and grants: revoked tokens, the daily quota, the minute/concurrency limits, and
tenants that must not slow each other."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from connectors.base import NeedsReauthorization, SyncStatus
from connectors.xero import XeroConnector, XeroDailyLimitReached, XeroLimits
from tests.connectors import xero_workload as wl
from tests.connectors.xero_server import Limits, XeroTestServer
from tests.connectors.xero_tokens import RefreshTokenProvider

FAST = XeroLimits(calls_per_minute=100_000, backoff_initial=0.01, backoff_max=0.05, request_timeout=5.0)
ROOMY = Limits(minute=100_000, day=1_000_000, concurrent=5)


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def make(server: XeroTestServer, org: str, limits: XeroLimits = FAST, *, tenant: str = "tenant-1",
         utcnow=None, grant_orgs: tuple[str, ...] | None = None) -> XeroConnector:
    tokens = RefreshTokenProvider(server.token_url, server.issue_grant(*(grant_orgs or (org,))))
    return XeroConnector(server.base_url, org, tenant, tokens, limits, utcnow=utcnow)


async def test_revoked_grant_raises_needs_reauthorization():
    with XeroTestServer(limits=ROOMY) as server:
        conn = make(server, "org-r")
        docs = [wl.outgoing(inv) for inv in wl.invoices(120)]
        try:
            assert wl.assert_synced(await conn.sync_many(docs[:20]), docs[:20])
            server.revoke_all()
            server.inject("org-r", "expire_tokens", count=1, after=2)   # mid-batch: the refresh finds it revoked
            with pytest.raises(NeedsReauthorization, match="invalid_grant"):
                await conn.sync_many(docs[20:])
            fresh = make(server, "org-r")     # the grant issued before revoke_all is revoked too
            server.revoke_all()
            with pytest.raises(NeedsReauthorization):
                await fresh.find_by_number("INVOICE", "INV-1")
            await fresh.aclose()
        finally:
            await conn.aclose()
        assert len(server.book("org-r").attachments) < 120      # the sync stopped at the revoked grant


async def test_tenant_outside_the_grant_needs_reauthorization():
    with XeroTestServer(limits=ROOMY) as server:
        conn = make(server, "org-x", grant_orgs=("org-other",))
        try:
            with pytest.raises(NeedsReauthorization, match="refused access"):
                await conn.find_or_create_customer(wl.invoices(1)[0])
        finally:
            await conn.aclose()


async def test_daily_limit_pauses_with_resume_at_then_resumes_exactly_once():
    clock = Clock(dt.datetime(2026, 3, 17, 21, 30, tzinfo=dt.UTC))
    with XeroTestServer(limits=dataclasses.replace(ROOMY, day=5), utcnow=clock) as server:
        conn = make(server, "org-d", utcnow=clock)
        docs = [wl.outgoing(inv, with_pdf=False) for inv in wl.invoices(400)]      # 2 contact calls + 8 chunks
        try:
            with pytest.raises(XeroDailyLimitReached) as caught:
                await conn.sync_many(docs)
            assert caught.value.resume_at == dt.datetime(2026, 3, 18, tzinfo=dt.UTC)
            assert caught.value.xero_tenant_id == "org-d"
            # Counted where calls leave: a request sent just before the day's last answer may
            # still be on its way to the server (its task was cancelled, its bytes were not).
            sent = conn.http.calls
            with pytest.raises(XeroDailyLimitReached):          # paused: no call leaves for Xero
                await conn.sync_many(docs)
            assert conn.http.calls == sent
            assert len(server.api_requests("org-d")) <= sent    # and the server saw only what was sent
            clock.now = dt.datetime(2026, 3, 18, 0, 0, 1, tzinfo=dt.UTC)
            server.configure("org-d", day=1000)
            server.new_day("org-d")
            ids = wl.assert_synced(await conn.sync_many(docs), docs)
        finally:
            await conn.aclose()
        wl.assert_books_equal(server.book("org-d"), docs, ids)


async def test_calls_queued_behind_the_days_last_call_never_go_out():
    """One call in flight at a time; the 3rd answer says the day's quota is spent while three more
    wait for the slot: those are refused here, not sent (Xero counts every call, even a 429)."""
    clock = Clock(dt.datetime(2026, 3, 17, 21, 30, tzinfo=dt.UTC))
    with XeroTestServer(limits=dataclasses.replace(ROOMY, day=3), utcnow=clock) as server:
        conn = make(server, "org-q", dataclasses.replace(FAST, concurrency=1), utcnow=clock)
        try:
            results = await asyncio.gather(*(conn.http.call("GET", "/Contacts") for _ in range(6)),
                                           return_exceptions=True)
        finally:
            await conn.aclose()
        assert [type(r) is XeroDailyLimitReached for r in results] == [False] * 3 + [True] * 3
        assert [r["status"] for r in server.api_requests("org-q")] == [200, 200, 200]
        assert conn.http.calls == 3


async def test_calls_stay_within_xero_minute_and_concurrency_limits():
    """Xero's real limits on a 40x faster clock: 60 calls per 1.5 s window, 5 in flight."""
    scale = 40.0
    limits = dataclasses.replace(FAST, calls_per_minute=60, concurrency=5, minute_seconds=60.0 / scale)
    with XeroTestServer(limits=Limits(minute=60, day=100_000, concurrent=5), time_scale=scale) as server:
        conn = make(server, "org-l", limits)
        docs = [wl.outgoing(inv) for inv in wl.invoices(130)]    # 130 attachments: more than 2 windows of calls
        try:
            ids = wl.assert_synced(await conn.sync_many(docs), docs)
        finally:
            await conn.aclose()
        log = server.api_requests("org-l")
        assert len(log) > 2 * 60
        assert [r for r in log if r["status"] == 429] == []
        wl.assert_books_equal(server.book("org-l"), docs, ids)


async def test_a_broken_tenant_does_not_hold_up_another():
    with XeroTestServer(limits=ROOMY) as server:
        broken, healthy = make(server, "org-broken"), make(server, "org-ok", tenant="tenant-2")
        server.inject("org-broken", "hang", count=10_000, after=2)       # Xero stops answering this org
        bad_docs = [wl.outgoing(inv) for inv in wl.invoices(100, prefix="b")]
        good_docs = [wl.outgoing(inv) for inv in wl.invoices(300, prefix="g")]
        finished: list[str] = []

        async def run(conn, docs, name):
            outcomes = await conn.sync_many(docs)
            finished.append(name)
            return outcomes

        try:
            slow = asyncio.create_task(run(broken, bad_docs, "broken"))
            good = await run(healthy, good_docs, "healthy")
            assert finished == ["healthy"] and not slow.done()
            server.release_hangs()
            bad = await slow
        finally:
            await broken.aclose()
            await healthy.aclose()
        assert finished == ["healthy", "broken"]
        wl.assert_books_equal(server.book("org-ok"), good_docs, wl.assert_synced(good, good_docs))
        wl.assert_books_equal(server.book("org-broken"), bad_docs, wl.assert_synced(bad, bad_docs))


async def test_a_rate_limited_tenant_does_not_slow_another():
    """One org has almost no quota left this minute (429 + Retry-After): the other syncs everything meanwhile."""
    with XeroTestServer(limits=ROOMY) as server:
        server.configure("org-starved", minute=3)
        starved, healthy = make(server, "org-starved"), make(server, "org-ok", tenant="tenant-2")
        starved_docs = [wl.outgoing(inv) for inv in wl.invoices(100, prefix="s")]
        good_docs = [wl.outgoing(inv) for inv in wl.invoices(300, prefix="g")]
        try:
            waiting = asyncio.create_task(starved.sync_many(starved_docs))
            good = await healthy.sync_many(good_docs)
            assert not waiting.done()
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
        finally:
            await starved.aclose()
            await healthy.aclose()
        assert all(o.status is SyncStatus.SYNCED for o in good)
        wl.assert_books_equal(server.book("org-ok"), good_docs, wl.assert_synced(good, good_docs))
        # the starved org got its 3 calls; then X-MinLimit-Remaining: 0 (or a 429) held it back, not hammering
        starved_log = server.api_requests("org-starved")
        assert sum(r["status"] == 200 for r in starved_log) == 3
        assert all(r["status"] == 429 and r["problem"] == "minute" for r in starved_log if r["status"] != 200)
        assert len(starved_log) <= 3 + 2
