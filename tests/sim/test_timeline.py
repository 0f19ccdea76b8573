"""The time-shifted timeline and its clock-following oracle, checked by hand against the seeds'
calendar (week ending Sunday, delay 2 days: Tuesday 13:00; semi-monthly on the 2nd and 17th,
monthly on the 3rd, at 00:00)."""
import datetime as dt
from decimal import Decimal

from schemas.topics import ATS_FEES, ATS_TIMESHEETS
from simulator.publish import encode_event
from simulator.timeline import build_timeline, windows_running_in

UTC = dt.timezone.utc
T1 = "tenant-01"


def _at(y, m, d, h=0):
    return dt.datetime(y, m, d, h, tzinfo=UTC)


def test_calendar_runs_each_cycle_at_the_seed_times():
    got = [(w.window_id, w.run_at) for w in windows_running_in(_at(2026, 9, 10, 12), _at(2026, 10, 5, 12))]
    assert got == [
        ("WEEKLY:2026-09-13", _at(2026, 9, 15, 13)), ("SEMI_MONTHLY:2026-09-15", _at(2026, 9, 17)),
        ("WEEKLY:2026-09-20", _at(2026, 9, 22, 13)), ("WEEKLY:2026-09-27", _at(2026, 9, 29, 13)),
        ("SEMI_MONTHLY:2026-09-30", _at(2026, 10, 2)), ("MONTHLY:2026-09-30", _at(2026, 10, 3)),
    ]
    # the run time itself belongs to the interval that ends on it, not to the next one
    assert [w.window_id for w in windows_running_in(_at(2026, 9, 15, 13), _at(2026, 9, 22, 13))] == \
        ["SEMI_MONTHLY:2026-09-15", "WEEKLY:2026-09-20"]


def test_same_seed_same_timeline_and_the_clock_only_moves_forward():
    a, b = build_timeline(seed=3), build_timeline(seed=3)
    assert [(s.clock, [encode_event(e) for e in s.events]) for s in a.steps] == \
        [(s.clock, [encode_event(e) for e in s.events]) for s in b.steps]
    clocks = [s.clock for s in a.steps]
    assert clocks == sorted(set(clocks))
    assert a.window_ids().count("WEEKLY:2026-09-13") == 1
    assert {"MONTHLY:2026-09-30", "SEMI_MONTHLY:2026-09-15", "SEMI_MONTHLY:2026-09-30"} <= set(a.window_ids())
    assert sum(1 for w in a.window_ids() if w.startswith("WEEKLY:")) >= 6


def test_the_time_shifted_cases_are_all_there():
    t = build_timeline(seed=3)
    published = {}   # timesheet id -> [(clock, record)]
    for step in t.steps:
        for e in step.events:
            if e.topic == ATS_TIMESHEETS:
                published.setdefault(e.record["timesheet_id"], []).append((step.clock, e.record))
    early = [ts for ts, v in published.items() if v[0][0].date() < v[0][1]["week_ending"]]
    late = [ts for ts, v in published.items()
            if v[0][0] > dt.datetime.combine(v[0][1]["week_ending"] + dt.timedelta(days=2), dt.time(13), tzinfo=UTC)]
    reapproved = [v for v in published.values() if len(v) > 1]
    assert early and late and reapproved
    after_window = [v for v in reapproved if v[1][0].weekday() == 4]     # corrected on the Friday after its run
    before_window = [v for v in reapproved if v[1][0].weekday() == 0]    # corrected on the Monday before it
    assert after_window and before_window
    fees = [(s.clock.date(), e.record) for s in t.steps for e in s.events if e.topic == ATS_FEES]
    assert any(r["effective_date"] > day for day, r in fees), "no future-dated fee"
    assert {r["kind"] for _, r in fees} >= {"PLACEMENT_FEE"} and len({r["kind"] for _, r in fees}) >= 2
    assert [a.kind for s in t.steps for a in s.actions].count("VOID") == 2


def test_the_oracle_bills_each_case_on_the_window_the_seeds_say():
    t = build_timeline(seed=3)
    where = {}
    for (slot, window), amount in t.billed.items():
        where.setdefault(slot, []).append(window)
    fee = f"{T1}:{T1}-pl"
    assert where[f"{fee}0|FEE|fee-{T1}-a"] == ["WEEKLY:2026-09-13"]         # past-dated
    assert where[f"{fee}1|FEE|fee-{T1}-b"] == ["WEEKLY:2026-09-20"]         # 9/16: Scheduled at ingest
    assert where[f"{fee}2|FEE|fee-{T1}-c"] == ["WEEKLY:2026-09-20"]         # 9/14: after 9/13's period end
    assert where[f"{fee}5|FEE|fee-{T1}-perm"] == ["WEEKLY:2026-09-27"]      # perm start 9/21
    assert where[f"{fee}3|FEE|fee-{T1}-e"] == ["WEEKLY:2026-10-11"]
    assert where[f"{fee}6|FEE|fee-{T1}-m1"] == where[f"{fee}6|FEE|fee-{T1}-m2"] == ["MONTHLY:2026-09-30"]
    assert where[f"{fee}7|FEE|fee-{T1}-s1"] == ["SEMI_MONTHLY:2026-09-15"]
    assert where[f"{fee}7|FEE|fee-{T1}-s2"] == ["SEMI_MONTHLY:2026-09-30"]
    assert {f"{fee}3|FEE|fee-{T1}-d", f"{fee}6|FEE|fee-{T1}-m3", f"{fee}7|FEE|fee-{T1}-s3"} <= t.not_due
    assert not any(slot in t.live for slot in t.not_due)
    # approved on Friday 9/11 before the week ended: billed by the 9/13 window, once
    assert where[f"{fee}0|TS|ts-{T1}-pl0-20260913|REG"] == ["WEEKLY:2026-09-13"]
    # the 8/30 and 9/6 weeks arrived after their windows ran: the next window bills them
    assert where[f"{fee}0|TS|ts-{T1}-pl0-20260830|REG"] == ["WEEKLY:2026-09-13"]
    # re-approved on Friday 9/25 after 9/20 billed it: the difference on 9/27, the total is the new value
    slot = f"{fee}0|TS|ts-{T1}-pl0-20260920|REG"
    assert where[slot] == ["WEEKLY:2026-09-20", "WEEKLY:2026-09-27"]
    assert t.billed[(slot, "WEEKLY:2026-09-27")] > 0
    assert t.live[slot] == t.billed[(slot, "WEEKLY:2026-09-20")] + t.billed[(slot, "WEEKLY:2026-09-27")]
    # re-approved on Monday before its window: replaced, one line at the new value
    assert where[f"{fee}1|TS|ts-{T1}-pl1-20260913|REG"] == ["WEEKLY:2026-09-13"]
    # the void: pl4's 9/20 invoice (its week and the 9/13 adjustment) billed again on 9/27
    void = next(v for v in t.voids if v.action.tenant_id == T1)
    assert void.window_id == "WEEKLY:2026-09-20"
    assert void.slots == {f"{fee}4|TS|ts-{T1}-pl4-20260920|REG", f"{fee}4|TS|ts-{T1}-pl4-20260913|REG"}
    for s in void.slots:
        assert where[s][-2:] == ["WEEKLY:2026-09-20", "WEEKLY:2026-09-27"]
        assert t.billed[(s, "WEEKLY:2026-09-20")] == t.billed[(s, "WEEKLY:2026-09-27")]
    # the credit: a quarter of a line billed on 9/13, on the next window after the request
    credit = next(a for s in t.steps for a in s.actions if a.kind == "CREATE_CREDIT_MEMO" and a.tenant_id == T1)
    credited = t.live[credit.pay_line_id]
    assert credit.amount == (credited / 4).quantize(Decimal("0.01"))
    assert t.billed[(f"{T1}:{credit.placement_id}|CR|{credit.command_id}", "WEEKLY:2026-09-27")] == -credit.amount
