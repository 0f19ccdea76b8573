"""Periods on documents (issue 11, part 8), through the worker's pure logic (no Faust, no broker):
an on-demand invoice prints the days of its own lines, and each monthly window's invoice and its
timesheet report carry only the days of a split week inside that window's month.

Expectations are read off the ATS records' entries (the days worked), not off the pay lines."""
import datetime as dt
from decimal import Decimal
from pathlib import Path

from documents.registry import TemplateRegistry
from documents.render import timesheet_context
from schemas.codec import encode
from schemas.mapping import account_from_record
from schemas.topics import ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from tests.documents.factories import agency
from workers.ledger_logic import Parked, approvals_of, collect, decode_approval, ingest, new_record, settle
from workers.messages import LinesChunk, WindowRequest
from workers.window_logic import ReportInputs, hierarchy_for, new_tenant, try_generate

SPLIT_WEEK = dt.date(2026, 10, 4)          # Monday 28 Sep - Sunday 4 Oct 2026
NOW = dt.datetime(2026, 10, 20, 12, tzinfo=dt.timezone.utc)
TODAY = NOW.date()
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _apply(record, topic, value):
    return ingest(record, Parked(topic, 0, 0, record.ledger.key.encode(), value, NOW), TODAY).record


def _ledger(pid, company, cycle, weeks):
    record = _apply(new_record(f"t1:{pid}"), ATS_PLACEMENTS,
                    encode("PlacementUpserted", placement_record("t1", pid, company, cycle=cycle)))
    sheets = [timesheet_record("t1", pid, week) for week in weeks]
    for ts in sheets:
        record = _apply(record, ATS_TIMESHEETS, encode("TimesheetApproved", ts))
    return record, sheets


def _worked_days(sheets):
    return sorted(e["work_date"] for ts in sheets for e in ts["entries"] if e["hours"] > 0)


def _hierarchy():
    nodes = [(f"t1:{c}".encode(), account_from_record(account_record("t1", c, c.title()))) for c in ("acme", "globex")]
    return hierarchy_for("t1", nodes)


def _run(records, request):
    """Collect from every ledger, generate, settle: (result, chunks, records after the settle)."""
    chunks, collected = [], {}
    for key, record in records.items():
        record, due = collect(record, request)
        collected[key] = record
        chunks.append(LinesChunk(request, 0, len(chunks), tuple(due), (record.ledger.placement,),
                                 approvals_of(record, due)))
    result = try_generate(request, chunks, _hierarchy(), new_tenant("t1"))
    drawn = {line.pay_line_id: line for chunk in chunks for line in chunk.lines}
    invoiced = {k: (drawn[k], inv) for k, inv in result.assignments.items()}
    settled = {k: settle(r, request.window_key, {i: v for i, v in invoiced.items() if i in r.ledger.lines},
                         request.as_of)[0] for k, r in collected.items()}
    return result, chunks, settled


def test_an_on_demand_invoice_prints_the_days_of_its_own_lines():
    weekly, weekly_sheets = _ledger("p1", "acme", "WEEKLY", [dt.date(2026, 9, 6), dt.date(2026, 9, 13)])
    monthly, monthly_sheets = _ledger("p2", "globex", "MONTHLY", [SPLIT_WEEK])
    request = WindowRequest("t1", "cmd:g", "g", None, dt.date(1970, 1, 1), TODAY, TODAY, on_demand=True)
    result, _, _ = _run({"p1": weekly, "p2": monthly}, request)
    periods = {inv.account_id: (inv.period_start, inv.period_end) for inv in result.invoices}
    acme_days, globex_days = _worked_days(weekly_sheets), _worked_days(monthly_sheets)
    assert periods == {"acme": (acme_days[0], dt.date(2026, 9, 13)),          # Mon 31 Aug .. week ending 13 Sep
                       "globex": (globex_days[0], SPLIT_WEEK)}                # Mon 28 Sep .. Sun 4 Oct
    assert (result.batch.period_start, result.batch.period_end) == (acme_days[0], SPLIT_WEEK)


def test_each_monthly_window_invoices_and_reports_only_its_own_days_of_a_split_week():
    record, sheets = _ledger("p2", "globex", "MONTHLY", [SPLIT_WEEK])
    (ts,) = sheets
    rates = {"REG": Decimal("31.50"), "OT": Decimal("47.25")}               # placement_record's defaults
    template, profile = TemplateRegistry.load(TEMPLATES, strict=True).timesheet_report(), agency()
    records = {"p2": record}
    for month, (start, end) in enumerate([(dt.date(2026, 9, 1), dt.date(2026, 9, 30)),
                                          (dt.date(2026, 10, 1), dt.date(2026, 10, 31))], start=9):
        request = WindowRequest("t1", f"MONTHLY:{end}", f"c{month}", "MONTHLY", start, end,
                                end + dt.timedelta(days=3))
        result, chunks, records = _run(records, request)
        (invoice,) = result.invoices
        inside = [e for e in ts["entries"] if e["work_date"].month == month]
        hours = {code: sum((e["hours"] for e in inside if e["pay_code"] == code), Decimal(0)) for code in rates}
        expected = sum(((h * rates[code]).quantize(Decimal("0.01"), "ROUND_HALF_UP") for code, h in hours.items()),
                       Decimal(0))                                          # half-up per line (code and part)
        assert invoice.subtotal == expected and expected > 0
        assert {line.work_date for line in invoice.lines} <= {d for d in (end, SPLIT_WEEK) if start <= d <= end}
        placements, raw = ReportInputs.of(chunks).for_invoice(invoice)
        context = timesheet_context(placements, [decode_approval(x) for x in raw], invoice, template, profile)
        shown = sorted({row["work_date"] for section in context["sections"] for row in section["rows"]})
        assert shown == sorted({f"{e['work_date']:%m/%d/%Y}" for e in inside}), (month, shown)
