"""Reservations always come back, and refusals are values (pure: no Faust, no broker)."""
import datetime as dt

import pytest

from backoffice import ledger as L
from backoffice.numbering import TenantSequence
from infra.settings import load_settings
from tests.domain.factories import WEEK_END, fee, hierarchy, placement, timesheet
from workers.command_logic import CommandRefused, window_request
from workers.ledger_logic import LedgerRecord, collect, release_window, settle
from workers.messages import LinesChunk, WindowEnd, WindowRequest
from workers.window_logic import (
    Refusal, TenantState, WindowState, late_release, on_end, releases_on_completion, try_generate,
)

TODAY = WEEK_END + dt.timedelta(days=2)
W = WindowRequest("t1", "WEEKLY:2026-11-22", "c1", None, WEEK_END - dt.timedelta(days=6), WEEK_END, TODAY)
W2 = WindowRequest("t1", "WEEKLY:2026-11-29", "c2", None, WEEK_END + dt.timedelta(days=1),
                   WEEK_END + dt.timedelta(days=7), TODAY + dt.timedelta(days=7))


def _record(pid, *timesheets):
    led = L.apply_placement(L.empty_ledger("t1", pid), placement(pid)).ledger
    for ts in timesheets:
        led = L.apply_timesheet(led, ts, TODAY).ledger
    return LedgerRecord(led)


def test_a_replayed_collect_reserves_what_came_since_and_the_release_gives_it_back():
    p1 = _record("p1", timesheet("ts1", "p1", ot="4"))
    p1, first = collect(p1, W)
    assert len(first) == 2 and set(p1.reserved.values()) == {W.window_key}
    # the window is assembled from the first Collect and settles p1 only
    p1, refused = settle(p1, W.window_key, {x.pay_line_id: (x, "inv-1") for x in first}, TODAY)
    assert p1.reserved == {} and refused == []
    # p2's timesheet arrives afterwards; a replay of W's Collect reserves it for the done window
    p2 = _record("p2", timesheet("ts2", "p2"))
    p2, late = collect(p2, W)
    assert late and collect(p2, W2) == (p2, [])          # stuck: no later window can take it
    released = release_window(p2, W.window_key)
    assert released is not None and released.reserved == {}
    _, taken = collect(released, W2)
    assert [x.pay_line_id for x in taken] == [x.pay_line_id for x in late]


def test_release_is_idempotent_and_leaves_other_windows_alone():
    p1 = _record("p1", timesheet("ts1", "p1"))
    p1, due = collect(p1, W2)
    assert due
    assert release_window(p1, W.window_key) is None                 # nothing of W's: no write
    again = release_window(release_window(p1, W2.window_key), W2.window_key)
    assert again is None


def _chunk(request, partition=3):
    return LinesChunk(request, partition, 0, (), ())


def test_a_done_window_releases_each_partition_on_its_end_marker():
    done = WindowState(W, {p: 0 for p in range(8)}, done=True)
    assert late_release(done, WindowEnd(W, 5, 8, 1)) == 5
    assert late_release(done, _chunk(W)) is None                  # wait for the end: it follows every chunk
    open_ = on_end(None, WindowEnd(W, 5, 8, 1))
    assert late_release(open_, WindowEnd(W, 6, 8, 0)) is None      # not done: the completion releases all
    assert releases_on_completion(W, 8) == tuple(range(8))


def test_a_manual_consolidate_leaves_its_lines_to_the_invoice_owner():
    c = WindowRequest("t1", "cmd:k", "k", None, dt.date(1970, 1, 1), TODAY, TODAY, on_demand=True,
                      consolidate_into="inv-9")
    assert releases_on_completion(c, 8) == ()
    assert late_release(WindowState(c, done=True), WindowEnd(c, 2, 8, 0)) is None


def test_a_first_number_already_issued_is_a_refusal_not_a_crash():
    led = _record("p1", timesheet("ts1", "p1"))
    _, due = collect(led, W)
    chunk = LinesChunk(W, 0, 0, tuple(due), (led.ledger.placement,))
    tenant = TenantState("t1", TenantSequence("t1", 7))
    reused = WindowRequest(**{**{f: getattr(W, f) for f in W.__slots__}, "on_demand": True, "first_number": 7})
    refusal = try_generate(reused, [chunk], hierarchy(), tenant)
    assert isinstance(refusal, Refusal) and "already issued" in refusal.reason and "7" in refusal.reason
    fresh = WindowRequest(**{**{f: getattr(W, f) for f in W.__slots__}, "on_demand": True, "first_number": 8})
    result = try_generate(fresh, [chunk], hierarchy(), tenant)
    assert [inv.number for inv in result.invoices] == ["8"]


def _generate_cmd(first):
    return {"tenant_id": "t1", "command_id": "g1", "command": "GENERATE", "first_number": first}


def test_the_command_agent_refuses_a_reused_first_number_against_the_tenant_sequence():
    settings, now = load_settings(), dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
    with pytest.raises(CommandRefused, match="already issued"):
        window_request(_generate_cmd(12), settings, now, last_number=12)
    assert window_request(_generate_cmd(13), settings, now, last_number=12).first_number == 13
    assert window_request(_generate_cmd(None), settings, now, last_number=12).first_number is None


def _windows_bill(record, requests, today_of):
    """Run the ledger side of several windows: collect, then settle each drawn line onto an invoice."""
    billed = []
    for n, request in enumerate(requests):
        record, drawn = collect(record, request, today_of(request))
        billed += [(x.pay_line_id, f"inv-{n}") for x in drawn]
        record, refused = settle(record, request.window_key, {x.pay_line_id: (x, f"inv-{n}") for x in drawn},
                                 today_of(request))
        assert refused == []
    return record, billed


def test_a_scheduled_fee_that_came_due_is_billed_by_one_window_only():
    """Issue 11's reproduction: stored Scheduled, due by the next window, must not be billed by the one after."""
    due_day = WEEK_END + dt.timedelta(days=3)
    led = L.apply_placement(L.empty_ledger("t1", "p1"), placement("p1")).ledger
    record = LedgerRecord(L.apply_fee(led, fee(effective=due_day), TODAY).ledger)
    assert [x.status for x in record.ledger.lines.values()] == [L.PayLineStatus.SCHEDULED]
    W3 = WindowRequest("t1", "WEEKLY:2026-12-06", "c3", None, WEEK_END + dt.timedelta(days=8),
                       WEEK_END + dt.timedelta(days=14), TODAY + dt.timedelta(days=14))
    record, billed = _windows_bill(record, [W, W2, W3], lambda r: r.as_of)
    assert [pl for pl, _ in billed] == list(record.ledger.lines)          # exactly once, by W2
    assert billed[0][1] == "inv-1"
    (line,) = record.ledger.lines.values()
    assert line.status is L.PayLineStatus.INVOICED and line.invoice_id == "inv-1"


def test_a_line_reserved_by_a_window_cannot_be_snoozed_until_it_settles():
    from workers.ledger_logic import reservation_of
    record, due = collect(_record("p1", timesheet("ts1", "p1")), W, TODAY)
    assert reservation_of(record, due[0].pay_line_id) == W.window_key
    record, _ = settle(record, W.window_key, {}, TODAY)
    assert reservation_of(record, due[0].pay_line_id) is None


def test_settling_a_line_already_on_another_invoice_is_refused_not_billed_twice():
    record, due = collect(_record("p1", timesheet("ts1", "p1")), W, TODAY)
    record, refused = settle(record, W.window_key, {x.pay_line_id: (x, "inv-1") for x in due}, TODAY)
    assert refused == []
    record, refused = settle(record, W2.window_key, {x.pay_line_id: (x, "inv-2") for x in due}, TODAY)
    assert [r.pay_line_id for r in refused] == [x.pay_line_id for x in due]
    assert {x.invoice_id for x in record.ledger.lines.values()} == {"inv-1"}
