"""Offline exports checked against each format's rules by parsing them, not by string equality."""
import csv
import dataclasses
import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from decimal import Decimal

import pytest

from backoffice.model import DocumentKind
from backoffice.money import line_amount
from connectors.export import formats
from connectors.export.bundle import build_zip
from tests.connectors import xero_workload as workload


def _batch(n=6):
    docs = [dataclasses.replace(d, number=str(1000 + i), batch_id="b1") for i, d in enumerate(workload.invoices(n))]
    memo = workload.credit_memo_for(docs[0], 0)
    return docs + [dataclasses.replace(memo, number="2000", batch_id="b1")]


def parse_iif(data: bytes):
    """Header rows first, then TRNS, SPL..., ENDTRNS groups; returns [(trns, [spl...])]."""
    rows = [r.split("\t") for r in data.decode().split("\r\n") if r]
    assert [r[0] for r in rows[:3]] == ["!TRNS", "!SPL", "!ENDTRNS"]
    trns_cols, spl_cols = rows[0][1:], rows[1][1:]
    groups, current = [], None
    for r in rows[3:]:
        if r[0] == "TRNS":
            assert current is None, "TRNS inside an open transaction"
            assert len(r) - 1 == len(trns_cols)
            current = (dict(zip(trns_cols, r[1:])), [])
        elif r[0] == "SPL":
            assert current is not None and len(r) - 1 == len(spl_cols)
            current[1].append(dict(zip(spl_cols, r[1:])))
        else:
            assert r == ["ENDTRNS"] and current is not None
            groups.append(current)
            current = None
    assert current is None
    return groups


def test_iif_transactions_balance_and_carry_every_line():
    docs = _batch()
    groups = parse_iif(formats.iif(docs, sales_tax_item="State Sales Tax"))
    assert len(groups) == len(docs)
    by_number = {d.number: d for d in docs}
    for trns, spls in groups:
        doc = by_number[trns["DOCNUM"]]
        assert trns["ACCNT"] == "Accounts Receivable" and Decimal(trns["AMOUNT"]) == doc.total
        assert Decimal(trns["AMOUNT"]) + sum(Decimal(s["AMOUNT"]) for s in spls) == 0
        assert trns["TRNSTYPE"] == ("CREDIT MEMO" if doc.kind is DocumentKind.CREDIT_MEMO else "INVOICE")
        assert len([s for s in spls if s["ACCNT"] == "Income"]) == len(doc.lines)
        dt.datetime.strptime(trns["DATE"], "%m/%d/%Y")
    memo = next(t for t, _ in groups if t["TRNSTYPE"] == "CREDIT MEMO")
    assert Decimal(memo["AMOUNT"]) < 0                         # A/R goes down


def test_xero_csv_columns_dates_repeated_numbers_and_500_per_file():
    docs = [dataclasses.replace(d, number=str(5000 + i)) for i, d in enumerate(workload.invoices(501))]
    files = formats.xero_csv(docs, date_format="DD/MM/YYYY")
    assert len(files) == 2
    seen = {}
    for data in files:
        reader = csv.DictReader(io.StringIO(data.decode()))
        assert reader.fieldnames == formats.XERO_COLUMNS
        rows = list(reader)
        assert len({r["*InvoiceNumber"] for r in rows}) <= 500
        for r in rows:
            assert all(r[c] for c in formats.XERO_COLUMNS if c.startswith("*")), r
            dt.datetime.strptime(r["*InvoiceDate"], "%d/%m/%Y")
            seen.setdefault(r["*InvoiceNumber"], []).append(r)
    by_number = {d.number: d for d in docs}
    assert set(seen) == set(by_number)
    for number, rows in seen.items():
        doc = by_number[number]
        assert len(rows) == len(doc.lines)                                  # the number on every line
        assert sum(Decimal(r["TaxAmount"]) for r in rows) == doc.tax
        assert sum(line_amount(Decimal(r["*Quantity"]), Decimal(r["*UnitAmount"])) for r in rows) == doc.subtotal


def test_qbo_csv_and_plain_csv_rows_add_up():
    docs = _batch()
    rows = list(csv.DictReader(io.StringIO(formats.qbo_csv(docs).decode())))
    for doc in (d for d in docs if d.kind is DocumentKind.INVOICE):
        mine = [r for r in rows if r["InvoiceNo"] == doc.number]
        assert sum(Decimal(r["ItemAmount"]) for r in mine) == doc.subtotal
        dt.datetime.strptime(mine[0]["InvoiceDate"], "%m/%d/%Y")
    plain = list(csv.DictReader(io.StringIO(formats.plain_csv(docs).decode())))
    assert len(plain) == sum(len(d.lines) for d in docs)


def test_the_zip_is_byte_identical_across_exports_and_holds_the_pdfs():
    docs = _batch()

    def pdfs(doc):
        return [(f"{doc.number}.pdf", workload.pdf_for(doc))]

    tax = {"sales_tax_item": "State Sales Tax"}
    one, two = build_zip("iif", "b1", docs, pdfs, tax), build_zip("iif", "b1", list(reversed(docs)), pdfs, tax)
    assert one == two
    names = zipfile.ZipFile(io.BytesIO(one)).namelist()
    assert names == sorted(names) and "b1.iif" in names and len([n for n in names if n.endswith(".pdf")]) == len(docs)


@pytest.mark.integration
def test_export_command_reads_the_batch_from_the_broker(kafka_bootstrap, tmp_path, unique_name):
    from infra.admin import create_topics
    from schemas.codec import encode
    from schemas.mapping import invoice_to_record
    from schemas.topics import BILLING_INVOICES
    from tests.workers.harness import ROOT, produce

    create_topics(kafka_bootstrap)
    batch = f"{unique_name}-batch"
    docs = [dataclasses.replace(d, batch_id=batch, tenant_id=unique_name) for d in _batch(3)]
    at = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    produce(kafka_bootstrap, [(BILLING_INVOICES, d.invoice_id.encode(), encode("InvoiceEvent", invoice_to_record(
        d, event_id=f"{d.invoice_id}:g", event_type="GENERATED", occurred_at=at))) for d in docs])
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PYTHONPATH": str(ROOT)}
    outs = []
    for attempt in range(2):
        run = subprocess.run([sys.executable, "-m", "cli.main", "export", batch, "--format", "xero-csv",
                              "--date-format", "MM/DD/YYYY", "--out", str(tmp_path / str(attempt))], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        outs.append((tmp_path / str(attempt) / f"{batch}-xero-csv.zip").read_bytes())
    assert outs[0] == outs[1]
    names = zipfile.ZipFile(io.BytesIO(outs[0])).namelist()
    assert names == [f"{batch}-xero-001.csv", f"{batch}-xero-002.csv"]     # invoices, then the credit note


# -- the import formats' own rules (issue 14) -------------------------------------------------

def test_iif_tax_goes_on_the_sales_tax_item_with_autostax_and_quantities_carry_the_sign():
    """Intuit's IIF import kit: the tax SPL names the company's sales-tax item with
    EXTRA=AUTOSTAX (else QuickBooks leaves it out of the sales-tax liability report), and the
    sign of a line is on QNTY with a positive PRICE (invoice: QNTY < 0; credit memo: QNTY > 0)."""
    docs = _batch()
    groups = parse_iif(formats.iif(docs, sales_tax_item="State Sales Tax"))
    by_number = {d.number: d for d in docs}
    for trns, spls in groups:
        doc = by_number[trns["DOCNUM"]]
        tax = [s for s in spls if s["ACCNT"] == "Sales Tax Payable"]
        assert len(tax) == (1 if doc.tax else 0)
        for row in tax:
            assert row["INVITEM"] == "State Sales Tax" and row["EXTRA"] == "AUTOSTAX"
            assert Decimal(row["PRICE"].rstrip("%")) == doc.tax_rate * 100
        for row in (s for s in spls if s["ACCNT"] == "Income"):
            amount, quantity, price = Decimal(row["AMOUNT"]), Decimal(row["QNTY"]), Decimal(row["PRICE"])
            assert price > 0 and (quantity > 0) == (amount > 0) and line_amount(quantity, price) == amount
            assert (quantity > 0) == (doc.kind is DocumentKind.CREDIT_MEMO)


def test_iif_with_tax_and_no_sales_tax_item_is_refused_by_name():
    with pytest.raises(formats.ExportSettingMissing, match="sales_tax_item"):
        formats.iif(_batch())


@pytest.mark.parametrize("date_format,strf", [("MM/DD/YYYY", "%m/%d/%Y"), ("DD/MM/YYYY", "%d/%m/%Y")])
def test_xero_csv_dates_follow_the_organisations_regional_format(date_format, strf):
    """A US organisation imports MM/DD/YYYY: the 13th of a month must not come out day-first."""
    docs = [dataclasses.replace(d, number=str(7000 + i), issue_date=dt.date(2026, 11, 13),
                                due_date=dt.date(2026, 12, 13)) for i, d in enumerate(workload.invoices(3))]
    rows = list(csv.DictReader(io.StringIO(formats.xero_csv(docs, date_format=date_format)[0].decode())))
    assert {r["*InvoiceDate"] for r in rows} == {dt.date(2026, 11, 13).strftime(strf)}
    assert {r["*DueDate"] for r in rows} == {dt.date(2026, 12, 13).strftime(strf)}
    with pytest.raises(formats.ExportSettingMissing, match="date_format"):
        formats.xero_csv(docs, date_format="")


def test_a_qbo_csv_never_carries_a_credit_memo_and_the_zip_names_the_ones_left_out():
    docs = _batch()
    memos = {d.number for d in docs if d.kind is DocumentKind.CREDIT_MEMO}
    entries = zipfile.ZipFile(io.BytesIO(build_zip("qbo-csv", "b1", docs)))
    for name in (n for n in entries.namelist() if n.endswith(".csv")):
        rows = list(csv.DictReader(io.StringIO(entries.read(name).decode())))
        assert not memos & {r["InvoiceNo"] for r in rows}, name
        assert all(Decimal(r["ItemAmount"]) >= 0 for r in rows)
    note = entries.read("b1-qbo-credit-memos-not-imported.txt").decode()
    assert all(m in note for m in memos)
