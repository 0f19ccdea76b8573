"""QuickBooks Online connector against the loopback QBO server: every document exactly once,
equal to ours, under timeouts-after-commit, 429 storms, 5xx bursts and token expiry."""
import asyncio
import dataclasses
from decimal import Decimal

import pytest

from backoffice.model import DocumentKind
from connectors.base import ConnectorError, NeedsReauthorization, SyncStatus
from connectors.mapping import QboMapping
from connectors.qbo_http import QboLimits
from connectors.quickbooks import QuickBooksConnector, quote
from tests.connectors import xero_workload as workload
from tests.connectors.qbo_server import Limits, QboTestServer
from tests.connectors.xero_tokens import RefreshTokenProvider

# the servers below run 60 times faster (time_scale=60): our minute is a second too
FAST = QboLimits(calls_per_minute=100_000, concurrency=10, backoff_initial=0.01, backoff_max=0.05,
                 rate_limit_wait=0.05, request_timeout=5, minute_seconds=1.0)
US_MAPPING = QboMapping(income_account="79", taxable_tax_code="TAX", exempt_tax_code="NON")


def _docs(count=500, memos=50, prefix=""):
    invoices = workload.invoices(count, prefix)
    return [workload.outgoing(i) for i in invoices] + \
        [workload.outgoing(workload.credit_memo_for(invoices[k], k, prefix)) for k in range(memos)]


def _connector(server, realm="r1", limits=FAST, mapping=US_MAPPING):
    tokens = RefreshTokenProvider(server.token_url, server.issue_refresh_token())
    return QuickBooksConnector(server.base_url, realm, "tenant-1", tokens, limits, mapping=mapping)


def _assert_books_equal(server, realm, docs):
    for entity, kind in (("Invoice", DocumentKind.INVOICE), ("CreditMemo", DocumentKind.CREDIT_MEMO)):
        mine = {d.invoice.number: d.invoice for d in docs if d.invoice.kind is kind}
        theirs = server.documents(realm, entity)
        assert sorted(t["DocNumber"] for t in theirs) == sorted(mine)          # each exactly once
        customers = {c["Id"]: c["DisplayName"] for c in server.documents(realm, "Customer")}
        for t in theirs:
            inv = mine[t["DocNumber"]]
            assert Decimal(str(t["TotalAmt"])).quantize(Decimal("0.01")) == abs(inv.total)
            assert Decimal(str(t["TxnTaxDetail"]["TotalTax"])).quantize(Decimal("0.01")) == abs(inv.tax)
            assert customers[t["CustomerRef"]["value"]] == inv.account_name
            assert [Decimal(str(x["Amount"])).quantize(Decimal("0.01")) for x in t["Line"]] == \
                [abs(x.amount) for x in inv.lines]
            assert [x["SalesItemLineDetail"]["TaxCodeRef"]["value"] for x in t["Line"]] == \
                ["TAX" if x.taxable else "NON" for x in inv.lines]
    attached = {a["AttachableRef"][0]["EntityRef"]["value"] for a in server.realm(realm).attachments}
    assert len(attached) == len(docs) == len(server.realm(realm).attachments)
    _assert_credits_applied(server, realm, docs)


def _assert_credits_applied(server, realm, docs):
    """Each linked memo is applied, once, to the invoice it credits, for its whole amount."""
    applied = {}
    for links, payment in server.credit_applications(realm):
        memo, amount = links["CreditMemo"]
        assert memo not in applied and payment["TotalAmt"] == 0 and links["Invoice"][1] == amount
        applied[memo] = (links["Invoice"][0], Decimal(str(amount)).quantize(Decimal("0.01")))
    numbers = {d.invoice.invoice_id: d.invoice.number for d in docs}
    assert applied == {d.invoice.number: (numbers[d.invoice.lines[0].credited_invoice_id], abs(d.invoice.total))
                       for d in docs if d.credited_external_ids}


async def _sync(server, docs, waits=None, **kw):
    connector = _connector(server, **kw)
    try:
        return await connector.sync_many(docs)
    finally:
        await connector.aclose()
        if waits is not None:
            waits.extend(connector.http.waits)


async def _sync_linked(server, docs, waits=None, **kw):
    """Invoices first, then their credit memos linked to the invoices' QBO ids (as the runner does)."""
    invoices = [d for d in docs if d.invoice.kind is DocumentKind.INVOICE]
    first = await _sync(server, invoices, waits, **kw)
    ids = {o.invoice_id: o.external.external_id for o in first if o.external}
    memos = [dataclasses.replace(d, credited_external_ids=(ids[d.invoice.lines[0].credited_invoice_id],))
             for d in docs if d.invoice.kind is DocumentKind.CREDIT_MEMO]
    return first + await _sync(server, memos, waits, **kw), invoices + memos


def _posts(server, start=0):
    return [r for r in server.requests[start:] if r["method"] == "POST"]


def test_500_invoices_and_50_credit_memos_land_once_and_equal_ours():
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        outcomes, docs = asyncio.run(_sync_linked(server, _docs()))
        assert all(o.status is SyncStatus.SYNCED for o in outcomes), [o.error for o in outcomes if o.error][:3]
        _assert_books_equal(server, "r1", docs)
        first = {r["requestid"] for r in _posts(server)}
        mark = len(server.requests)
        again = asyncio.run(_sync(server, docs))                     # a replay books nothing new
        assert all(o.status is SyncStatus.SYNCED for o in again)
        _assert_books_equal(server, "r1", docs)
        assert {r["requestid"] for r in _posts(server, mark)} <= first      # deterministic: the same ids again
        batches = [r for r in server.requests if r["path"] == "batch"]
        assert batches and max(r["items"] for r in batches) <= 10                 # ours: <= 10 a batch
        assert all(r["requestid"] and len(r["requestid"]) <= 50 for r in _posts(server))


def test_a_retried_create_carries_the_same_requestid_and_the_token_is_refreshed_once():
    docs = _docs(1, 0, prefix="rid-")
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        server.inject("r1", "expire_tokens", count=1, path="batch")     # 401: refreshed, resent
        server.inject("r1", "5xx", count=1, path="batch")               # then a 5xx: resent again
        outcomes = asyncio.run(_sync(server, docs))
        assert outcomes[0].status is SyncStatus.SYNCED
        batch = [r for r in server.requests if r["path"] == "batch"]
        assert [r["status"] for r in batch] == [401, 503, 200]
        assert len({r["requestid"] for r in batch}) == 1 and len(batch[0]["requestid"]) <= 50
        assert len(server.documents("r1")) == 1 and len(server.realm("r1").attachments) == 1
        server.inject("r1", "expire_tokens", count=2, path="query")           # 401 again after the refresh
        with pytest.raises(ConnectorError, match="401 after refreshing"):
            asyncio.run(_sync(server, _docs(1, 0, prefix="rid2-")))
        assert [r["status"] for r in server.requests[-2:]] == [401, 401]      # one refresh, not three


FAULTS = [("reset", [6]), ("429", [25]), ("429_bare", [25]), ("5xx", [3]), ("expire_tokens", [1, 1, 1])]


@pytest.mark.parametrize("fault,counts", FAULTS)
def test_exactly_once_under_injected_faults(fault, counts):
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        for n, count in enumerate(counts):           # token expiries spread over the run
            server.inject("r1", fault, count=count, after=5 + 300 * n)
        limits, waits = dataclasses.replace(FAST, rate_limit_wait=0.0625), []
        outcomes, docs = asyncio.run(_sync_linked(server, _docs(prefix=f"{fault[:4]}-"), waits, limits=limits))
        assert all(o.status is SyncStatus.SYNCED for o in outcomes), [o.error for o in outcomes if o.error][:3]
        _assert_books_equal(server, "r1", docs)
        statuses = [r["status"] for r in server.requests]
        if fault.startswith("429"):
            assert statuses.count(429) >= sum(counts)
            # without Retry-After the configured wait applies; with it, the server's value
            assert (0.0625 in waits) == (fault == "429_bare") and len(waits) >= sum(counts)
        if fault == "expire_tokens":
            assert statuses.count(401) >= len(counts)


def test_a_number_too_long_fails_that_document_only():
    docs = _docs(3, 0)
    long = workload.outgoing(docs[0].invoice.__class__(**{**{f: getattr(docs[0].invoice, f) for f in
                                                             docs[0].invoice.__dataclass_fields__},
                                                          "number": "X" * 22, "invoice_id": "too-long"}))
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        outcomes = asyncio.run(_sync(server, [long] + docs))
    assert [o.status for o in outcomes] == [SyncStatus.FAILED] + [SyncStatus.SYNCED] * 3


def test_fault_in_200_duplicates_and_revoked_tokens_are_errors_not_bookings():
    docs = _docs(10, 0, prefix="e-")
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        server.inject("r1", "fault200", count=1, path="batch")
        outcomes = asyncio.run(_sync(server, docs))
        failed = [o for o in outcomes if o.status is SyncStatus.FAILED]
        assert len(failed) == len(docs) and "Fault 6000" in failed[0].error   # Fault under 200 = error
        assert server.documents("r1") == []
        # someone else's document already carries our number: never a second one
        asyncio.run(_sync(server, [workload.outgoing(docs[0].invoice.__class__(**{
            **{f: getattr(docs[0].invoice, f) for f in docs[0].invoice.__dataclass_fields__},
            "account_name": "Somebody Else", "invoice_id": "not-ours"}))]))
        clash = asyncio.run(_sync(server, docs[:1]))
        assert clash[0].status is SyncStatus.FAILED and "already has" in clash[0].error
        assert len(server.documents("r1")) == 1
        server.revoke_all()
        connector = QuickBooksConnector(server.base_url, "r1", "tenant-1",
                                        RefreshTokenProvider(server.token_url, "revoked-token"), FAST,
                                        mapping=US_MAPPING)
        with pytest.raises(NeedsReauthorization):
            asyncio.run(connector.sync_many(docs[1:2]))


def test_void_refetches_a_stale_sync_token_and_queries_escape_quotes():
    docs = _docs(2, 1, prefix="v-")
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        outcomes = asyncio.run(_sync(server, docs))
        invoice = next(o.external for o in outcomes if o.external.kind == "INVOICE")
        server.documents("r1")[0]["SyncToken"] = "7"                        # edited in QBO meanwhile

        async def void():
            connector = _connector(server)
            try:
                return await connector.void(invoice)
            finally:
                await connector.aclose()

        voided = asyncio.run(void())
        assert voided.voided and server.realm("r1").entities["Invoice"][invoice.external_id]["status"] == "void"
    assert quote("O'Brien \\ Co") == "'O\\'Brien \\\\ Co'"
