"""Issue 14: the vendors' real contract, one test per rule our requests used to break, against
the strict test servers (whose bodies also go through the vendors' SDK models, conftest.py)."""
import asyncio
import dataclasses
import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from backoffice.model import DocumentKind
from backoffice.money import line_amount
from connectors.base import NeedsReauthorization, SyncStatus
from connectors.mapping import MappingMissing, QboMapping
from connectors.oauth import seed
from connectors.registry import Connection, Registry
from connectors.tokens import FernetFileStore
from tests.connectors import xero_workload as workload
from tests.connectors.qbo_server import Limits, QboTestServer
from tests.connectors.test_quickbooks import FAST, US_MAPPING, _connector
from tests.connectors.test_xero_sync import FAST as XERO_FAST
from tests.connectors.xero_server import XeroTestServer
from tests.connectors.xero_tokens import RefreshTokenProvider

ROOT = Path(__file__).resolve().parents[2]


async def _run(connector, call):
    try:
        return await call(connector)
    finally:
        await connector.aclose()


def _xero_connector(server, org, limits):
    from connectors.xero import XeroConnector

    tokens = RefreshTokenProvider(server.token_url, server.issue_grant(org))
    return XeroConnector(server.base_url, org, "tenant-1", tokens, limits)


def _qbo_sync(server, docs, **kw):
    return asyncio.run(_run(_connector(server, **kw), lambda c: c.sync_many(docs)))


def _book_invoice_and_its_credit(server, prefix):
    """One invoice synced, then a credit memo crediting it: (invoice, memo, booked invoice, booked memo)."""
    invoice = workload.invoices(1, prefix=prefix)[0]
    memo = workload.credit_memo_for(invoice, 0, prefix=prefix)
    booked = _qbo_sync(server, [workload.outgoing(invoice, with_pdf=False)])[0].external
    out = dataclasses.replace(workload.outgoing(memo, with_pdf=False), credited_external_ids=(booked.external_id,))
    return invoice, memo, booked, _qbo_sync(server, [out])[0].external


# -- QuickBooks Online --------------------------------------------------------------------------

def test_qbo_batch_requestid_is_at_most_36_and_each_bid_at_most_10_characters():
    docs = [workload.outgoing(i, with_pdf=False) for i in workload.invoices(12, prefix="rid36-")]
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        outcomes = _qbo_sync(server, docs)
        assert [o.status for o in outcomes] == [SyncStatus.SYNCED] * len(docs), outcomes[0].error
        batches = [r for r in server.requests if r["path"] == "batch"]
        assert batches and all(len(r["requestid"]) <= 36 for r in batches)
        assert len(server.documents("r1")) == len(docs)


def test_qbo_bulk_sync_stays_under_40_batch_requests_a_minute():
    """450 invoices = 45 batches: more than QBO's 40 a minute, so the connector must pace them
    (a "minute" of 10 s here: both sides 6 times faster than real time)."""
    docs = [workload.outgoing(i, with_pdf=False) for i in workload.invoices(450, prefix="pace-")]
    with QboTestServer(limits=Limits(minute=100_000), time_scale=6) as server:
        outcomes = _qbo_sync(server, docs, limits=dataclasses.replace(FAST, minute_seconds=10.0))
        assert all(o.status is SyncStatus.SYNCED for o in outcomes)
        batches = [r for r in server.requests if r["path"] == "batch"]
        assert [r["status"] for r in batches].count(429) == 0
        assert max(r["items"] for r in batches) <= 10


def test_qbo_duplicate_reported_as_6210_is_reconciled_not_failed():
    docs = [workload.outgoing(i, with_pdf=False) for i in workload.invoices(5, prefix="dup-")]
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        server.company("r1", duplicate_code="6210")
        first = _qbo_sync(server, docs)
        server.realm("r1").replies.clear()          # the requestids forgotten: QBO sees the numbers again
        again = _qbo_sync(server, docs)
        assert all(o.status is SyncStatus.SYNCED for o in again), [o.error for o in again][:2]
        assert [o.external.external_id for o in again] == [o.external.external_id for o in first]
        assert len(server.documents("r1")) == len(docs)


def test_qbo_company_without_custom_transaction_numbers_is_refused_by_name():
    docs = [workload.outgoing(i, with_pdf=False) for i in workload.invoices(2, prefix="ctn-")]
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        server.company("r1", custom_txn_numbers=False)
        with pytest.raises(MappingMissing, match="custom_transaction_numbers"):
            _qbo_sync(server, docs)
        assert server.documents("r1") == []          # nothing booked under QBO's own numbers


def test_qbo_credit_memo_prints_the_credited_invoice_number_not_an_internal_id():
    invoice = workload.invoices(1, prefix="memo-")[0]
    memo = workload.credit_memo_for(invoice, 0, prefix="memo-")
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        booked = _qbo_sync(server, [workload.outgoing(invoice)])[0].external
        out = dataclasses.replace(workload.outgoing(memo), credited_external_ids=(booked.external_id,),
                                  credited_numbers=(booked.number,))
        assert _qbo_sync(server, [out])[0].status is SyncStatus.SYNCED
        printed = server.documents("r1", "CreditMemo")[0]["CustomerMemo"]["value"]
        assert invoice.number in printed and invoice.invoice_id not in printed and memo.invoice_id not in printed


def test_qbo_lines_use_the_companys_mapped_tax_codes_and_income_account():
    """A non-US company has no TAX/NON codes and account 1 is not an income account there."""
    docs = [workload.outgoing(i, with_pdf=False) for i in workload.invoices(4, prefix="gb-")]
    mapping = QboMapping(income_account="80", taxable_tax_code="5", exempt_tax_code="7")
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        server.company("r1", country="GB")
        outcomes = _qbo_sync(server, docs, mapping=mapping)
        assert all(o.status is SyncStatus.SYNCED for o in outcomes), outcomes[0].error
        for booked, doc in zip(server.documents("r1"), docs, strict=True):
            assert [ln["SalesItemLineDetail"]["TaxCodeRef"]["value"] for ln in booked["Line"]] == \
                ["5" if ln.taxable else "7" for ln in doc.invoice.lines]
        assert {i["IncomeAccountRef"]["value"] for i in server.documents("r1", "Item")} == {"80"}


def test_qbo_server_tracks_balances_refuses_over_applied_credit_and_bumps_sync_tokens():
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        _, memo, _, _ = _book_invoice_and_its_credit(server, "bal-")
        inv = server.documents("r1")[0]
        credit = server.documents("r1", "CreditMemo")[0]
        assert Decimal(str(inv["Balance"])) == Decimal(str(inv["TotalAmt"])) - abs(memo.total).quantize(Decimal("0.01"))
        assert credit["RemainingCredit"] == 0 and inv["SyncToken"] == credit["SyncToken"] == "1"
        again = {"CustomerRef": inv["CustomerRef"], "TotalAmt": 0, "Line": [
            {"Amount": 1.0, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]},
            {"Amount": 1.0, "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "CreditMemo"}]}]}
        status, body = server._create(server.realm("r1"), "Payment", again, "r1")
        assert status == 400 and "exceeds what is left" in body["Fault"]["Error"][0]["Message"]
        status, body = server._create(server.realm("r1"), "Item", dict(server.documents("r1", "Item")[0]), "r1")
        assert status == 400 and body["Fault"]["Error"][0]["code"] == "6240"


# -- Xero ---------------------------------------------------------------------------------------

def _four_decimal_invoice():
    base = workload.invoices(1, prefix="dp4-")[0]
    line = dataclasses.replace(base.lines[0], quantity=Decimal("7.5"), rate=Decimal("12.3456"), taxable=False,
                               amount=line_amount(Decimal("7.5"), Decimal("12.3456")))
    return dataclasses.replace(base, lines=(line,), subtotal=line.amount, tax=Decimal("0.00"), total=line.amount)


def test_xero_unit_amounts_keep_four_decimals_on_write_and_read():
    invoice = _four_decimal_invoice()
    with XeroTestServer(time_scale=60) as server:
        connector = _xero_connector(server, "org-dp4", XERO_FAST)
        outcomes = asyncio.run(_run(connector, lambda c: c.sync_many([workload.outgoing(invoice)])))
        assert outcomes[0].status is SyncStatus.SYNCED, outcomes[0].error
        stored = next(iter(server.book("org-dp4").documents["Invoices"].values()))
        assert Decimal(str(stored["LineItems"][0]["UnitAmount"])) == Decimal("12.3456")
        found = asyncio.run(_run(_xero_connector(server, "org-dp4", XERO_FAST),
                                 lambda c: c.find_by_number("INVOICE", invoice.number)))
        assert found is not None and found.total == str(invoice.total)
        documents = [r for r in server.api_requests("org-dp4") if r["path"].startswith(("Invoices", "CreditNotes"))
                     and "Attachments" not in r["path"]]
        assert documents and {r["unitdp"] for r in documents} == {"4"}       # every write and every read


def test_xero_void_sends_the_specs_wrapper_body():
    docs = [workload.outgoing(i, with_pdf=False) for i in workload.invoices(1, prefix="void-")]
    with XeroTestServer(time_scale=60) as server:
        booked = asyncio.run(_run(_xero_connector(server, "org-v", XERO_FAST), lambda c: c.sync_many(docs)))[0]
        voided = asyncio.run(_run(_xero_connector(server, "org-v", XERO_FAST), lambda c: c.void(booked.external)))
        assert voided.voided
        assert next(iter(server.book("org-v").documents["Invoices"].values()))["Status"] == "VOIDED"


def test_xero_attachments_go_as_application_octet_stream():
    docs = [workload.outgoing(i) for i in workload.invoices(2, prefix="att-")]
    with XeroTestServer(time_scale=60) as server:
        outcomes = asyncio.run(_run(_xero_connector(server, "org-a", XERO_FAST), lambda c: c.sync_many(docs)))
        assert all(o.status is SyncStatus.SYNCED for o in outcomes), outcomes[0].error
        assert len(server.book("org-a").attachments) == len(docs)
        assert all(r["status"] == 200 for r in server.api_requests("org-a") if "Attachments" in r["path"])


def test_xero_per_element_errors_carry_has_errors_and_fail_that_document_only():
    docs = [workload.outgoing(i, with_pdf=False) for i in workload.invoices(3, prefix="he-")]
    with XeroTestServer(time_scale=60) as server:
        server.book("org-h").rejections[docs[1].invoice.number] = "Account code '999' has been archived."
        outcomes = asyncio.run(_run(_xero_connector(server, "org-h", XERO_FAST), lambda c: c.sync_many(docs)))
        assert [o.status for o in outcomes] == [SyncStatus.SYNCED, SyncStatus.FAILED, SyncStatus.SYNCED]
        assert "archived" in outcomes[1].error


def test_xero_refresh_token_expiry_needs_reauthorization():
    docs = [workload.outgoing(i, with_pdf=False) for i in workload.invoices(1, prefix="rt-")]
    with XeroTestServer(time_scale=60, refresh_ttl=0.2) as server:
        tokens = RefreshTokenProvider(server.token_url, server.issue_grant("org-r"))
        import time
        time.sleep(0.3)                              # the refresh token outlived its 60 days
        from connectors.xero import XeroConnector

        connector = XeroConnector(server.base_url, "org-r", "tenant-1", tokens, XERO_FAST)
        with pytest.raises(NeedsReauthorization):
            asyncio.run(_run(connector, lambda c: c.sync_many(docs)))


# -- per-tenant mapping ---------------------------------------------------------------------------

def test_a_tenant_without_a_mapping_is_refused_naming_the_missing_setting(tmp_path):
    store = FernetFileStore(tmp_path / "tokens", Fernet.generate_key().decode())
    seed(store, "quickbooks-acme", "refresh-token")
    conn = Connection("acme", "quickbooks", {"system": "quickbooks", "base_url": "http://127.0.0.1:9",
                                              "realm_id": "r1", "token_url": "http://127.0.0.1:9/t"})
    registry = Registry("quickbooks", {"acme": conn}, store)
    with pytest.raises(MappingMissing, match="'income_account'"):
        registry.connector("acme")
    assert not registry.reauthorized("acme")
    store.save_mapping("quickbooks-acme", {"income_account": "79", "taxable_tax_code": "TAX"})
    with pytest.raises(MappingMissing, match="'exempt_tax_code'"):
        registry.connector("acme")
    store.save_mapping("quickbooks-acme", dataclasses.asdict(US_MAPPING))
    assert registry.connector("acme").mapping == US_MAPPING and registry.reauthorized("acme")


@pytest.mark.parametrize("system", ["quickbooks", "xero"])
def test_connect_reads_the_company_and_stores_the_mapping_from_flags(tmp_path, system):
    key = Fernet.generate_key().decode()
    server_class = QboTestServer if system == "quickbooks" else XeroTestServer
    with server_class(time_scale=60) as server:
        store = FernetFileStore(tmp_path / "tokens", key)
        if system == "quickbooks":
            token, ids = server.issue_refresh_token(), {"realm_id": "r1"}
            server.company("r1", country="GB")
            flags = ["--income-account", "80", "--taxable-tax-code", "5"]
            more, wrong = ["--exempt-tax-code", "7"], ["--exempt-tax-code", "NON"]
        else:
            token, ids = server.issue_grant("org-c"), {"xero_tenant_id": "org-c"}
            server.country["org-c"] = "US"
            flags = ["--account-code", "200", "--taxable-tax-type", "OUTPUT"]
            more, wrong = ["--exempt-tax-type", "NONE"], ["--exempt-tax-type", "EXEMPTOUTPUT"]
        seed(store, f"{system}-acme", token)
        config = {"tenants": {"acme": {"system": system, "base_url": server.base_url, "token_url": server.token_url,
                                       "client_id": "c", "client_secret": "s", **ids}}}
        (tmp_path / "connectors.yaml").write_text(yaml.safe_dump(config))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BACKOFFICE_CONNECTORS_CONFIG": str(tmp_path / "connectors.yaml"),
               "BACKOFFICE_TOKEN_DIR": str(tmp_path / "tokens"), "BACKOFFICE_TOKEN_KEY": key}

        def connect(*args):
            return subprocess.run([sys.executable, "-m", "cli.main", "connect", system, "--tenant", "acme",
                                   "--reconfigure", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=120)

        missing = connect(*flags)
        assert missing.returncode != 0 and "exempt" in missing.stderr, missing.stderr
        refused = connect(*flags, *wrong)                  # not one of the company's codes
        assert refused.returncode != 0 and "exempt" in refused.stderr
        assert store.load_mapping(f"{system}-acme") is None
        done = connect(*flags, *more)
        assert done.returncode == 0, done.stderr
        stored = store.load_mapping(f"{system}-acme")
        if system == "quickbooks":
            assert stored == {"income_account": "80", "taxable_tax_code": "5", "exempt_tax_code": "7", "items": {}}
        else:
            assert stored["date_format"] == "MM/DD/YYYY" and stored["exempt_tax_type"] == "NONE"


def test_qbo_refuses_voiding_a_linked_document_and_the_connector_unlinks_its_credit_first():
    with QboTestServer(limits=Limits(minute=100_000), time_scale=60) as server:
        _, _, booked, credit = _book_invoice_and_its_credit(server, "lnk-")
        realm = server.realm("r1")
        inv = server.documents("r1")[0]
        status, body = server._void(realm, "Invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, "void")
        assert status == 400 and "linked to Payment" in body["Fault"]["Error"][0]["Message"]
        voided = asyncio.run(_run(_connector(server), lambda c: c.void(credit)))       # the memo: deleted
        assert voided.voided and server.documents("r1", "CreditMemo")[0]["status"] == "delete"
        assert [p["status"] for p in server.documents("r1", "Payment")] == ["delete"]
        assert Decimal(str(server.documents("r1")[0]["Balance"])) == Decimal(str(inv["TotalAmt"]))
        assert asyncio.run(_run(_connector(server), lambda c: c.void(booked))).voided
