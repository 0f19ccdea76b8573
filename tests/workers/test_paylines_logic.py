"""billing.paylines events (workers.paylines_logic): folding the events of every write, newest
version per pay line, gives back exactly the ledger's lines (pure: no Faust, no broker)."""
import datetime as dt
from dataclasses import replace
from decimal import Decimal

from backoffice import ledger as L
from backoffice.model import CreditMemoRequest, PayLineStatus
from schemas.codec import decode, encode
from tests.domain.factories import WEEK_END, fee, placement, timesheet
from workers.command_logic import window_request  # noqa: F401  (the workers' import order)
from workers.ledger_logic import LedgerRecord, collect, settle
from workers.messages import WindowRequest
from workers.paylines_logic import changes, stamped

TODAY = WEEK_END + dt.timedelta(days=2)
AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.timezone.utc)
W = WindowRequest("t1", "WEEKLY:2026-11-22", "c1", None, WEEK_END - dt.timedelta(days=6), WEEK_END, TODAY)


class Follower:
    """Writes records the way the ledger table does, and folds the events like a consumer."""

    def __init__(self):
        self.record, self.state, self.log = None, {}, []

    def write(self, after: LedgerRecord) -> list[dict]:
        events = changes(self.record, after, AT)
        self.record = stamped(after, events)
        for event in events:
            event = decode(encode("PayLineEvent", event)).record      # what a consumer reads
            self.log.append(event)
            held = self.state.get(event["pay_line_id"])
            assert held is None or event["version"] == held["version"] + 1, event
            self.state[event["pay_line_id"]] = event
        return events

    def visible(self) -> dict:
        return {k: (e["status"], e["amount"], e["invoice_id"], e["window_key"])
                for k, e in self.state.items() if e["status"] != "REMOVED"}


def expected(record: LedgerRecord) -> dict:
    return {k: (x.status.value, x.amount, x.invoice_id, record.reserved.get(k))
            for k, x in record.ledger.lines.items()}


def _changes(events):
    return sorted((e["pay_line_id"].rsplit("|", 2)[-2:][-1], e["change"]) for e in events)


def test_every_kind_of_change_is_an_event_and_the_events_fold_back_to_the_ledger():
    f = Follower()
    led = L.apply_placement(L.empty_ledger("t1", "p1"), placement("p1")).ledger
    assert f.write(LedgerRecord(led)) == []                              # a placement alone has no lines
    led = L.apply_timesheet(led, timesheet("ts1", "p1", ot="4"), TODAY).ledger
    led = L.apply_fee(led, fee("f1", "p1", effective=TODAY + dt.timedelta(days=30)), TODAY).ledger
    assert {e["change"] for e in f.write(replace(f.record, ledger=led))} == {"CREATED"}
    assert f.visible() == expected(f.record)
    fee_id = next(k for k in led.lines if "|FEE|" in k or "f1" in k)
    assert f.state[fee_id]["status"] == "SCHEDULED" and f.state[fee_id]["category"] == "PRODUCTS_SERVICES"

    record, due = collect(f.record, W, TODAY)                            # reserved for window W
    assert {e["change"] for e in f.write(record)} == {"RESERVED"}
    assert f.visible() == expected(f.record)

    record, _ = settle(f.record, W.window_key, {x.pay_line_id: (x, "inv-1") for x in due}, TODAY)
    assert {e["change"] for e in f.write(record)} == {"INVOICED"}
    reg = next(k for k in record.ledger.lines if k.endswith("|REG"))
    assert f.state[reg]["invoice_id"] == "inv-1" and f.state[reg]["window_key"] is None

    credit = CreditMemoRequest("t1", "cr1", "p1", Decimal("100.00"), "overbilled", TODAY, credited_line_id=reg,
                               credited_invoice_id="inv-1")
    events = f.write(replace(f.record, ledger=L.apply_credit(f.record.ledger, credit, TODAY).ledger))
    assert sorted(e["change"] for e in events) == ["CREATED", "CREDITED"]
    assert f.state[reg]["change"] == "CREDITED" and f.state[reg]["status"] == "INVOICED"

    events = f.write(replace(f.record, ledger=L.release_invoice(f.record.ledger, "inv-1", TODAY).ledger))
    assert {e["change"] for e in events} == {"VOIDED"} and f.state[reg]["status"] == "PENDING"
    assert f.write(replace(f.record, ledger=L.snooze(f.record.ledger, reg).ledger))[0]["change"] == "SNOOZED"
    assert f.write(replace(f.record, ledger=L.unsnooze(f.record.ledger, reg, TODAY).ledger))[0]["change"] == "UNSNOOZED"

    # a re-approval: REG re-rated to 30 hours, OT gone
    led = L.apply_timesheet(f.record.ledger, timesheet("ts1", "p1", version=2, reg="30"), TODAY).ledger
    assert sorted(e["change"] for e in f.write(replace(f.record, ledger=led))) == ["REMOVED", "RERATED"]
    assert f.state[reg]["amount"] == Decimal("1200.00")

    later = WEEK_END + dt.timedelta(days=40)                             # the fee's date came
    led = L.advance(f.record.ledger, later).ledger
    assert [e["change"] for e in f.write(replace(f.record, ledger=led))] == ["DUE"]
    assert f.visible() == expected(f.record)
    assert f.write(f.record) == []                                      # a write that changes nothing: no event


def test_a_placement_change_re_sends_its_lines_with_the_new_account():
    f = Follower()
    led = L.apply_placement(L.empty_ledger("t1", "p1"), placement("p1")).ledger
    f.write(LedgerRecord(L.apply_timesheet(led, timesheet("ts1", "p1"), TODAY).ledger))
    moved = L.apply_placement(f.record.ledger, replace(placement("p1", version=2), company_id="co2")).ledger
    events = f.write(replace(f.record, ledger=moved))
    assert [(e["change"], e["account_id"], e["version"]) for e in events] == [("UPDATED", "co2", 2)]


def test_versions_survive_a_replay_so_a_consumer_keeping_the_highest_is_idempotent():
    led = L.apply_placement(L.empty_ledger("t1", "p1"), placement("p1")).ledger
    first = LedgerRecord(L.apply_timesheet(led, timesheet("ts1", "p1"), TODAY).ledger)
    once = changes(None, first, AT)
    again = changes(None, first, AT)                      # the same input processed again after a crash
    assert [(e["event_id"], e["version"]) for e in once] == [(e["event_id"], e["version"]) for e in again]
    stored = stamped(first, once)
    rerated = L.apply_timesheet(stored.ledger, timesheet("ts1", "p1", version=2, reg="20"), TODAY).ledger
    assert [e["version"] for e in changes(stored, replace(stored, ledger=rerated), AT)] == [2]
    assert {x.status for x in rerated.lines.values()} == {PayLineStatus.PENDING}
