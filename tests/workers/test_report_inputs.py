"""The timesheet report's inputs travel with the invoice: the ledger keeps each applied
approval's Avro bytes, the Collect puts those of its due lines on the chunk, and the
assembler hands each invoice exactly the placements and weeks behind its own lines
(pure: no Faust, no broker)."""
import datetime as dt

from schemas.codec import encode
from schemas.mapping import account_from_record
from schemas.topics import ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from workers.delivery import report_inputs
from workers.ledger_logic import Parked, approvals_of, collect, decode_approval, ingest, new_record
from workers.messages import LinesChunk, WindowRequest
from workers.window_logic import ReportInputs, hierarchy_for, new_tenant, try_generate

WEEK = dt.date(2026, 9, 6)
TODAY = WEEK + dt.timedelta(days=2)
NOW = dt.datetime(2026, 9, 8, 12, tzinfo=dt.timezone.utc)


def _apply(record, topic, value):
    return ingest(record, Parked(topic, 0, 0, record.ledger.key.encode(), value, NOW), TODAY).record


def _ledger(pid, company, weeks):
    record = _apply(new_record(f"t1:{pid}"), ATS_PLACEMENTS, encode("PlacementUpserted", placement_record("t1", pid, company)))
    raws = {}
    for week in weeks:
        raw = encode("TimesheetApproved", timesheet_record("t1", pid, week))
        record = _apply(record, ATS_TIMESHEETS, raw)
        raws[week] = raw
    return record, raws


def test_the_ledger_keeps_the_applied_approval_bytes_and_a_stale_version_changes_nothing():
    record, raws = _ledger("p1", "acme", [WEEK])
    (ts_id, raw), = record.approvals.items()
    assert raw == raws[WEEK] and decode_approval(raw).week_ending == WEEK
    stale = _apply(record, ATS_TIMESHEETS, raws[WEEK])            # same version again: a replay
    assert stale.approvals == record.approvals


def test_each_invoice_carries_the_placements_and_weeks_of_its_own_lines_only():
    request = WindowRequest("t1", "cmd:g", "g", None, dt.date(1970, 1, 1), WEEK, TODAY, on_demand=True)
    chunks = []
    for pid, company in (("p1", "acme"), ("p2", "globex")):
        record, _ = _ledger(pid, company, [WEEK - dt.timedelta(days=7), WEEK])
        record, due = collect(record, request)
        chunks.append(LinesChunk(request, 0, len(chunks), tuple(due), (record.ledger.placement,),
                                 approvals_of(record, due)))
    nodes = [(f"t1:{c}".encode(), account_from_record(account_record("t1", c, c.title()))) for c in ("acme", "globex")]
    result = try_generate(request, chunks, hierarchy_for("t1", nodes), new_tenant("t1"))
    assert len(result.invoices) == 2
    reports = ReportInputs.of(chunks)
    for invoice in result.invoices:
        placements, approvals = reports.for_invoice(invoice)
        (pid,) = {line.placement_id for line in invoice.lines}
        assert [p.placement_id for p in placements] == [pid]
        decoded = [decode_approval(raw) for raw in approvals]
        assert sorted(a.week_ending for a in decoded) == [WEEK - dt.timedelta(days=7), WEEK]
        assert {a.placement_id for a in decoded} == {pid}
        # the owner's side: what the report is drawn from
        drawn_placements, drawn = report_inputs(invoice, placements, approvals)
        assert [p.placement_id for p in drawn_placements] == [pid] and len(drawn) == 2
