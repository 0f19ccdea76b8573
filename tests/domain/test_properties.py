"""Invariants over random event streams (hypothesis)."""
import datetime as dt
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice import ledger as L
from backoffice.errors import DomainError
from backoffice.generation import GenerationRequest, generate_invoices
from backoffice.model import BatchOption, FeeKind, FeeRealized, PayCode, PayLineStatus
from backoffice.money import line_amount, round_cents
from backoffice.numbering import TenantSequence
from tests.domain.factories import D, hierarchy, placement, timesheet

START = dt.date(2026, 9, 6)   # a Sunday
PIDS = ["p1", "p2", "p3", "p4"]

placement_options = st.sampled_from(list(BatchOption))
timesheet_events = st.builds(
    lambda pid, week, version, reg, ot: ("ts", pid, timesheet(f"ts-{pid}-{week}", pid, START + dt.timedelta(weeks=week),
                                                              version, str(reg), str(ot))),
    st.sampled_from(PIDS), st.integers(0, 8), st.integers(1, 3), st.integers(0, 45), st.integers(0, 6))
# fee ids where one is a prefix of another (f1, f10, f100) so a prefix match between fees shows
fee_ids = st.sampled_from(["1", "10", "100", "11", "2", "20"])
fee_events = st.builds(
    lambda pid, n, offset, price, qty, version: ("fee", pid, FeeRealized(
        "t1", f"e{n}-{version}", f"f{n}", pid, FeeKind.SERVICE, "Service", D(qty), D(price) / 100,
        START + dt.timedelta(days=offset), True, None, version)),
    st.sampled_from(PIDS), fee_ids, st.integers(0, 120), st.integers(1, 500000), st.integers(1, 3),
    st.integers(1, 3))
snooze_events = st.builds(lambda pid, n: ("snooze", pid, n), st.sampled_from(PIDS), st.integers(0, 10))
invoice_events = st.builds(lambda pid, n: ("invoice", pid, n), st.sampled_from(PIDS), st.integers(0, 10))
streams = st.lists(st.one_of(timesheet_events, fee_events, snooze_events), max_size=40)


def apply_all(events, options, today):
    ledgers = {pid: L.apply_placement(L.empty_ledger("t1", pid),
                                      placement(pid, option=options[i], po=f"PO-{i % 2}")).ledger
               for i, pid in enumerate(PIDS)}
    for kind, pid, payload in events:
        led = ledgers[pid]
        try:
            if kind == "ts":
                led = L.apply_timesheet(led, payload, today).ledger
            elif kind == "fee":
                led = L.apply_fee(led, payload, today).ledger
            elif kind == "invoice":
                pending = sorted(k for k, v in led.lines.items() if v.status is PayLineStatus.PENDING)
                led = L.mark_invoiced(led, {k: f"inv-{payload}" for k in pending}).ledger
            else:
                keys = sorted(led.lines)
                if keys:
                    led = L.snooze(led, keys[payload % len(keys)]).ledger
        except DomainError:
            pass
        ledgers[pid] = led
    return ledgers


def close_window(ledgers, placements, sequence, period_end, today, key):
    due = [x for led in ledgers.values() for x in L.due_lines(led, period_end, today)]
    req = GenerationRequest("t1", key, today, period_end - dt.timedelta(days=6), period_end,
                            dt.datetime.combine(today, dt.time(12), tzinfo=dt.timezone.utc))
    return due, generate_invoices(due, placements, hierarchy(), sequence, req)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(placement_options, min_size=4, max_size=4), st.integers(0, 10), st.integers(-6, 3))
def test_window_invariants(events, options, week, lag):
    """`lag` < 0: the run happens before its period ends (on demand), so lines dated after
    today but inside the period are Scheduled and only their status keeps them off."""
    period_end = START + dt.timedelta(weeks=week)
    today = period_end + dt.timedelta(days=lag)
    ledgers = apply_all(events, options, today)
    placements = {pid: led.placement for pid, led in ledgers.items()}
    due, res = close_window(ledgers, placements, TenantSequence("t1"), period_end, today, "w1")
    all_lines = {k: v for led in ledgers.values() for k, v in led.lines.items()}
    invoiced = Counter(line.pay_line_id for inv in res.invoices for line in inv.lines)
    expected = {k for k, v in all_lines.items()
                if v.status is PayLineStatus.PENDING and v.work_date <= period_end} | \
               {k for k, v in all_lines.items()
                if v.status is PayLineStatus.SCHEDULED and v.effective_date <= today and v.work_date <= period_end}
    assert set(invoiced) == expected                                     # every due line...
    assert all(n == 1 for n in invoiced.values())                        # ...exactly once
    for k in invoiced:
        assert all_lines[k].status is not PayLineStatus.SNOOZED
        assert all_lines[k].effective_date <= today                      # never a Scheduled line
    for inv in res.invoices:
        taxable = sum((x.amount for x in inv.lines if x.taxable), D(0))
        assert inv.subtotal == sum((x.amount for x in inv.lines), D(0))
        assert inv.tax == round_cents(taxable * inv.tax_rate) and inv.total == inv.subtotal + inv.tax


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(placement_options, min_size=4, max_size=4))
def test_replaying_the_same_events_changes_nothing(events, options):
    today = START + dt.timedelta(weeks=5)
    once = apply_all(events, options, today)
    # ATS events replayed (operator commands are deduplicated by command id in the worker)
    twice = apply_all(events + [e for e in events if e[0] != "snooze"], options, today)
    assert {k: v.lines for k, v in once.items()} == {k: v.lines for k, v in twice.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(placement_options, min_size=4, max_size=4), st.integers(1, 500))
def test_numbers_are_gapless_across_batches(events, options, first):
    ledgers = apply_all(events, options, START + dt.timedelta(weeks=10))
    placements = {pid: led.placement for pid, led in ledgers.items()}
    sequence = TenantSequence("t1", first - 1)
    numbers = []
    for week in range(0, 10, 3):
        today = START + dt.timedelta(weeks=week, days=2)
        _, res = close_window(ledgers, placements, sequence, START + dt.timedelta(weeks=week), today, f"w{week}")
        sequence = res.sequence
        numbers += [int(i.number) for i in res.invoices]
        for pid, led in ledgers.items():
            mine = {k: v for k, v in res.assignments.items() if k in led.lines}
            ledgers[pid] = L.mark_invoiced(led, mine).ledger
    assert numbers == list(range(first, first + len(numbers)))
    assert sequence.last_number == first - 1 + len(numbers)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(fee_events, snooze_events, invoice_events), max_size=40))
def test_each_fee_keeps_exactly_its_newest_amount(events):
    """Pending, invoiced plus adjustments: a fee's lines always sum to its newest version's amount."""
    today = START + dt.timedelta(weeks=5)
    newest: dict[tuple[str, str], tuple[int, object]] = {}
    for kind, pid, payload in events:
        if kind == "fee" and payload.version > newest.get((pid, payload.fee_id), (-1, None))[0]:
            newest[(pid, payload.fee_id)] = (payload.version, line_amount(payload.quantity, payload.unit_price))
    ledgers = apply_all(events, [BatchOption.ACCOUNT] * 4, today)
    sums: dict[tuple[str, str], object] = {}
    for pid, led in ledgers.items():
        for line in led.lines.values():
            sums[(pid, line.fee_id)] = sums.get((pid, line.fee_id), D("0")) + line.amount
    assert sums == {k: amount for k, (_, amount) in newest.items()}
