"""One figure everywhere (issue 13): every output of a random document, parsed back the way its
reader would parse it, shows the same line amounts, tax shares, subtotal, tax and total to the cent.

Outputs: the InvoiceEvent as decoded from its Avro bytes, the PDF (text through pypdf), the
timesheet report (pypdf), the e-mail body, the Xero API body and the QuickBooks API body (JSON as
sent), the IIF, Xero CSV, QBO CSV and plain CSV exports (csv module), the ops API's invoice detail
and List Batches, and the CLI's List Batches row. Signs are brought to ours (credit memos negative)
where a vendor books credits positive; nothing else is computed here except Xero's own documented
Quantity x UnitAmount for the Xero CSV, which carries no line amount.
"""
from __future__ import annotations

import asyncio
import csv
import dataclasses
import datetime as dt
import io
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.figures import complete, settle
from backoffice.generation import GenerationRequest, build_batch
from backoffice.model import (
    DocumentKind, Invoice, InvoiceLine, LineCategory, PayCode, TimesheetApproval, TimesheetEntry,
)
from backoffice.money import line_amount
from cli.demo_worker import list_batches_row
from connectors.base import CustomerRef, OutgoingDocument
from connectors.export import formats
from connectors.mapping import QboMapping
from connectors.quickbooks import ITEM_NAMES, QuickBooksConnector
from connectors.xero_payload import XeroOptions, document_payload
from documents.messages import EmailTemplates
from documents.render import render_document, render_timesheet_report
from api.reads import invoice_answer
from readmodel import models as read_tables, queries as read_queries
from readmodel.rows import Message, build as project
from readmodel.store import store as store_rows
from schemas.codec import decode, encode
from schemas.mapping import invoice_from_record, invoice_to_record
from tests.documents import factories
from tests.documents.pdfs import pdf_text

D = Decimal
CENT = D("0.01")
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
WEEK_END = factories.WEEK_END
CREDITED = ("inv-a", "inv-b", "inv-c")

# -- random documents --------------------------------------------------------------------------

hours = st.decimals(min_value=D("0.25"), max_value=D("60"), places=2)
rate2 = st.decimals(min_value=D("12"), max_value=D("250"), places=2)
rate4 = st.decimals(min_value=D("12"), max_value=D("250"), places=4)
price = st.decimals(min_value=D("0.01"), max_value=D("20000"), places=2)


@st.composite
def line_specs(draw, index: int, credit: bool):
    taxable = draw(st.booleans())
    if draw(st.booleans()):                                     # timesheet hours, 2- or 4-decimal rate
        quantity, rate = draw(hours), draw(rate2 | rate4)
        code, category = draw(st.sampled_from(["REG", "OT"])), LineCategory.TIMESHEETS
    else:
        quantity, rate = D(draw(st.integers(1, 5))), draw(price)
        code, category = None, LineCategory.PRODUCTS_SERVICES
    credited = None
    if credit:
        credited = draw(st.sampled_from(CREDITED))
        if draw(st.booleans()):
            quantity, rate = D(1), -line_amount(quantity, rate)     # a credit of an amount
        else:
            quantity = -quantity                                    # a credit of hours
    return InvoiceLine(
        line_id=f"L-{index:03d}", pay_line_id=f"PL-{index:03d}", placement_id=f"P-{index:03d}",
        description=f"Line-{index:03d}", quantity=quantity, rate=rate, amount=line_amount(quantity, rate),
        taxable=taxable, category=category, pay_code=code, work_date=WEEK_END, credited_invoice_id=credited)


# 1-12 lines mostly, 13-200 in one example of twenty: a 200-line PDF takes seconds to render and read
line_counts = st.integers(0, 19).flatmap(lambda k: st.integers(13, 200) if k == 0 else st.integers(1, 12))


@st.composite
def documents(draw) -> Invoice:
    credit = draw(st.booleans())
    count = draw(line_counts)
    lines = tuple(draw(line_specs(i, credit)) for i in range(count))
    mode = draw(st.sampled_from(["plain", "plain", "plain", "zero base", "tax on a zero base"]))
    if mode == "zero base" and lines:                    # taxable lines that cancel out: tax 0 on a 0 base
        lines = tuple(dataclasses.replace(ln, taxable=False) for ln in lines) + (
            dataclasses.replace(lines[0], line_id="L-998", pay_line_id="PL-998", description="Line-998",
                                placement_id="P-998", taxable=True),
            dataclasses.replace(lines[0], line_id="L-999", pay_line_id="PL-999", description="Line-999",
                                placement_id="P-999", taxable=True, quantity=-lines[0].quantity,
                                amount=-lines[0].amount))
    base = factories.invoice(lines, kind=DocumentKind.CREDIT_MEMO if credit else DocumentKind.INVOICE,
                             number=f"{draw(st.integers(1000, 99999))}",
                             tax_rate=draw(st.sampled_from(["0", "0.0333", "0.0625", "0.0825", "0.2"])),
                             invoice_id="cm-1" if credit else "inv-1")
    base = dataclasses.replace(base, currency=draw(st.sampled_from(["USD", "EUR", "GBP", "CAD"])))
    doc = settle(base)
    if mode == "tax on a zero base":                     # an old event: tax stated, nothing taxable
        cents = D(draw(st.integers(0, 500))) * (-CENT if credit else CENT)
        doc = complete(dataclasses.replace(
            base, lines=tuple(dataclasses.replace(ln, taxable=False) for ln in lines),
            subtotal=doc.subtotal, tax=cents, total=doc.subtotal + cents))
    return doc


# -- every output, parsed back -------------------------------------------------------------------

def _num(text: str) -> Decimal:
    return D(text.replace(",", ""))


def _neg(values):
    return [-v for v in values]


def from_event(doc: Invoice) -> dict:
    rec = invoice_to_record(doc, event_id="e", event_type="GENERATED", occurred_at=dt.datetime(2026, 3, 17, tzinfo=dt.UTC))
    back = invoice_from_record(decode(encode("InvoiceEvent", rec)).record)
    return {"amounts": [ln.amount for ln in back.lines], "taxes": [ln.tax_share for ln in back.lines],
            "subtotal": back.subtotal, "tax": back.tax, "total": back.total,
            "allocations": [(a.invoice_id, a.amount) for a in back.allocations]}


def from_pdf(doc: Invoice, registry, agency) -> dict:
    flat = " ".join(pdf_text(render_document(doc, registry.resolve(doc), agency)).split())
    rows = re.findall(r"Line-(\d{3}) (-?[\d,]+(?:\.\d+)?) (-?[\d,]+\.\d{2,4}) (-?[\d,]+\.\d{2})", flat)
    for _, quantity, rate, amount in rows:            # what the page says multiplies out
        assert (_num(quantity) * _num(rate)).quantize(CENT, ROUND_HALF_UP) == _num(amount), (quantity, rate, amount)
    # a document that runs onto a second page may have the page's footer between the two totals
    totals = re.search(r"Subtotal (-?[\d,]+\.\d\d) Total Tax (-?[\d,]+\.\d\d) (?:.*? )?Total Amount "
                       r"(-?[\d,]+\.\d\d)", flat)
    return {"amounts": [_num(a) for *_, a in rows], "subtotal": _num(totals[1]), "tax": _num(totals[2]),
            "total": _num(totals[3])}


def approvals_for(doc: Invoice, limit: int = 3) -> tuple[list, list, list[InvoiceLine]]:
    """Approved weeks for (at most `limit`) timesheet lines: the line's hours spread over five days."""
    chosen = [ln for ln in doc.lines if ln.category is LineCategory.TIMESHEETS][:limit]
    placements, approvals = [], []
    for ln in chosen:
        placements.append(dataclasses.replace(factories.temp_placement(ln.placement_id),
                                              bill_rates=((PayCode(ln.pay_code), ln.rate),)))
        per_day = (ln.quantity / 5).quantize(CENT, rounding="ROUND_DOWN")
        days = [per_day] * 4 + [ln.quantity - 4 * per_day]
        entries = tuple(TimesheetEntry(WEEK_END - dt.timedelta(days=6 - d), PayCode(ln.pay_code), h)
                        for d, h in enumerate(days))
        approvals.append(TimesheetApproval("t1", f"ev-{ln.line_id}", f"TS-{ln.line_id}", ln.placement_id, WEEK_END,
                                           entries, dt.datetime(2026, 3, 16, tzinfo=dt.UTC), 1, "Approver"))
    return placements, approvals, chosen


def from_report(doc: Invoice, registry, agency) -> dict | None:
    placements, approvals, chosen = approvals_for(doc)
    if doc.is_credit_memo or not chosen:
        return None
    flat = " ".join(pdf_text(render_timesheet_report(placements, approvals, doc, template=registry.timesheet_report(),
                                                     agency=agency)).split())
    codes = re.findall(r"(?:REG|OT) total (-?[\d,.]+) ((?:-?[\d,]+\.\d{2,4} )?)(-?[\d,]+\.\d\d)", flat)
    for quantity, rate, amount in codes:
        if rate:
            assert (_num(quantity) * _num(rate)).quantize(CENT, ROUND_HALF_UP) == _num(amount), (quantity, rate, amount)
    return {"report amounts": [_num(a) for *_, a in codes]}


def from_email(doc: Invoice, agency) -> dict:
    templates = EmailTemplates(TEMPLATES / "email")
    text = templates.render(templates.default_for(doc), doc, agency)
    body = re.search(r"(?:Amount due|Credit amount): (-?[\d,]+\.\d\d) ", text.body)
    subject = re.search(r" - (-?[\d,]+\.\d\d) ", text.subject)
    assert body[1] == subject[1], (text.subject, text.body)
    return {"total": _num(body[1])}


def from_xero_body(doc: Invoice) -> dict:
    sent = json.loads(json.dumps(document_payload(doc, "c-1", XeroOptions())), parse_float=D)
    items = sent["LineItems"]
    flip = _neg if doc.is_credit_memo else list
    return {"amounts": flip([D(i["LineAmount"]) for i in items]), "taxes": flip([D(i["TaxAmount"]) for i in items])}


class _NoTokens:
    async def access_token(self) -> str:
        return "unused"

    async def refreshed(self, stale: str) -> str:
        return "unused"


_QBO = QuickBooksConnector("http://qbo.invalid", "realm", "t1", _NoTokens(),
                           mapping=QboMapping(income_account="79", taxable_tax_code="TAX", exempt_tax_code="NON"))
_QBO._items = {name: str(i) for i, name in enumerate(ITEM_NAMES.values())}    # no item lookups


def from_qbo_body(doc: Invoice) -> dict:
    payload = asyncio.run(_QBO._payload(OutgoingDocument(doc), CustomerRef("1", doc.account_name)))
    sent = json.loads(json.dumps(payload), parse_float=D)
    flip = _neg if doc.is_credit_memo else list
    for line in sent["Line"]:                          # QBO refuses Amount != Qty x UnitPrice (Fault 6070)
        detail = line["SalesItemLineDetail"]
        assert (D(str(detail["Qty"])) * D(str(detail["UnitPrice"]))).quantize(CENT, ROUND_HALF_UP) == D(line["Amount"])
    return {"amounts": flip([D(line["Amount"]) for line in sent["Line"]]),
            "tax": flip([D(sent["TxnTaxDetail"]["TotalTax"])])[0]}


def from_iif(doc: Invoice) -> dict:
    rows = [r.split("\t") for r in formats.iif([doc], sales_tax_item="Sales Tax").decode().split("\r\n") if r]
    header = {r[0]: r[1:] for r in rows if r[0].startswith("!")}
    trns = [dict(zip(header["!TRNS"], r[1:])) for r in rows if r[0] == "TRNS"]
    spl = [dict(zip(header["!SPL"], r[1:])) for r in rows if r[0] == "SPL"]
    lines = [s for s in spl if s["MEMO"] != "Sales tax"]
    tax = [s for s in spl if s["MEMO"] == "Sales tax"]
    return {"amounts": [-D(s["AMOUNT"]) for s in lines], "tax": -D(tax[0]["AMOUNT"]) if tax else D("0.00"),
            "total": D(trns[0]["AMOUNT"])}


def xero_line_amount(quantity: str, unit: str) -> Decimal:
    """Xero's import arithmetic: Quantity x UnitAmount (4 decimals each), half away from zero to the cent."""
    return (D(quantity).quantize(D("0.0001")) * D(unit).quantize(D("0.0001"))).quantize(CENT, ROUND_HALF_UP)


def from_xero_csv(doc: Invoice) -> dict:
    rows = list(csv.DictReader(io.StringIO(formats.xero_csv([doc], date_format="DD/MM/YYYY")[0].decode())))
    return {"amounts": [xero_line_amount(r["*Quantity"], r["*UnitAmount"]) for r in rows],
            "taxes": [D(r["TaxAmount"]) for r in rows], "total": D(rows[0]["Total"])}


def from_qbo_csv(doc: Invoice) -> dict:
    """Invoices only: QBO's CSV importer takes no credit memos (they are listed in a note instead)."""
    rows = list(csv.DictReader(io.StringIO(formats.qbo_csv([doc]).decode())))
    return {"amounts": [D(r["ItemAmount"]) for r in rows]}


def from_plain_csv(doc: Invoice) -> dict:
    rows = list(csv.DictReader(io.StringIO(formats.plain_csv([doc]).decode())))
    return {"amounts": [D(r["amount"]) for r in rows], "taxes": [D(r["line_tax"]) for r in rows],
            "subtotal": D(rows[0]["subtotal"]), "tax": D(rows[0]["tax"]), "total": D(rows[0]["total"])}


def _read_model_of(doc: Invoice):
    """The document as the projector stores it: its InvoiceEvent, encoded, projected into SQLite."""
    import sqlalchemy as sa
    from sqlalchemy.pool import StaticPool

    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    read_tables.metadata.create_all(engine)
    at = dt.datetime(2026, 3, 17, tzinfo=dt.UTC)
    rec = invoice_to_record(doc, event_id="e", event_type="GENERATED", occurred_at=at)
    store_rows(engine, "g", {}, project([Message("billing.invoices", 0, 0, b"k", encode("InvoiceEvent", rec))], at))
    return engine


def from_ops_api(doc: Invoice) -> dict:
    """The ops API's invoice detail (`backoffice api`), answered from the read model."""
    engine = _read_model_of(doc)
    answer = json.loads(json.dumps(invoice_answer(read_queries.invoice_detail(engine, doc.tenant_id, doc.invoice_id))))
    return {"amounts": [D(ln["amount"]) for ln in answer["lines"]], "taxes": [D(ln["tax"]) for ln in answer["lines"]],
            "subtotal": D(answer["subtotal"]), "tax": D(answer["tax"]), "total": D(answer["total"]),
            "allocations": [(a["invoice_id"], D(a["amount"])) for a in answer["allocations"]]}


def from_list_batches(doc: Invoice) -> dict:
    request = GenerationRequest("t1", "w", doc.issue_date, doc.period_start, doc.period_end,
                                dt.datetime(2026, 3, 17, tzinfo=dt.UTC))
    domain = build_batch(request, "b-1", [doc])
    (api,) = read_queries.batch_summaries(_read_model_of(doc), doc.tenant_id)
    rec = invoice_to_record(doc, event_id="e", event_type="GENERATED", occurred_at=dt.datetime(2026, 3, 17, tzinfo=dt.UTC))
    cli = list_batches_row("t1", "b-1", [decode(encode("InvoiceEvent", rec)).record]).split()
    return {"by category": [domain.amount_timesheets, domain.amount_products_services],
            "api by category": [api["amount_timesheets"], api["amount_products_services"]],
            "cli by category": [_num(cli[-2]), _num(cli[-1])]}


# -- the property ---------------------------------------------------------------------------------

def _summary(doc: Invoice) -> str:
    lines = "\n".join(f"  {ln.line_id} {ln.quantity} x {ln.rate} = {ln.amount} taxable={ln.taxable} "
                      f"credits={ln.credited_invoice_id}" for ln in doc.lines)
    return (f"{doc.kind.value} {doc.number} {doc.currency} tax rate {doc.tax_rate}: subtotal {doc.subtotal} "
            f"tax {doc.tax} total {doc.total}\n{lines}")


def _agree(doc: Invoice, outputs: dict[str, dict]) -> None:
    fields = sorted({f for out in outputs.values() for f in out})
    for field in fields:
        having = [(name, out[field]) for name, out in outputs.items() if field in out]
        first_name, first = having[0]
        for name, value in having[1:]:
            assert value == first, (f"{field} differs between {first_name} and {name}\n{_summary(doc)}\n"
                                    f"{first_name}: {first}\n{name}: {value}")


@pytest.mark.slow          # 200 examples, each rendering one invoice PDF and (for timesheet lines) one report
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents())
def test_every_output_shows_the_same_figures(registry, doc):
    agency = factories.agency()
    outputs = {"event": from_event(doc), "pdf": from_pdf(doc, registry, agency), "email": from_email(doc, agency),
               "xero api": from_xero_body(doc), "qbo api": from_qbo_body(doc), "iif": from_iif(doc),
               "xero csv": from_xero_csv(doc), "csv": from_plain_csv(doc),
               "ops api": from_ops_api(doc)}
    if not doc.is_credit_memo:
        outputs["qbo csv"] = from_qbo_csv(doc)
    batches = from_list_batches(doc)
    categories = [sum((a for a, ln in zip(outputs["pdf"]["amounts"], doc.lines) if ln.category is c), D("0.00"))
                  for c in (LineCategory.TIMESHEETS, LineCategory.PRODUCTS_SERVICES)]
    outputs["list batches"] = {"by category": batches["by category"]}
    outputs["cli list batches"] = {"by category": batches["cli by category"]}
    outputs["ops api list batches"] = {"by category": batches["api by category"]}
    outputs["pdf by category"] = {"by category": categories}            # the PDF's lines, summed by category
    report = from_report(doc, registry, agency)
    if report is not None:
        _, _, chosen = approvals_for(doc)
        outputs["report"] = report
        outputs["pdf lines the report covers"] = {"report amounts": [
            a for a, ln in zip(outputs["pdf"]["amounts"], doc.lines) if ln in chosen]}
    assert len(outputs["pdf"]["amounts"]) == len(doc.lines), _summary(doc)
    _agree(doc, outputs)
    if doc.is_credit_memo:
        linked = {ln.credited_invoice_id for ln in doc.lines}
        assert {i for i, _ in outputs["event"]["allocations"]} <= linked
        assert sum(a for _, a in outputs["event"]["allocations"]) == -doc.total
