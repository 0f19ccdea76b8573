"""Issue 12, pure: hostile values are refused with a named reason by the ledger's ingest, the
dead letter always fits the broker, operator commands with absurd dates are refused, and a
window that fails inside generation is a refusal (no Faust, no broker)."""
import datetime as dt
import hashlib
from dataclasses import replace
from decimal import Decimal

import pytest

from infra.settings import load_settings
from schemas.codec import encode
from schemas.mapping import dead_letter_record
from schemas.topics import ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import placement_record, timesheet_record
from tests.reliability.corpus import command_record, fee_record
from workers.command_logic import CommandRefused, line_command, window_request
from workers.ledger_logic import Parked, ingest, new_record
from workers.messages import LinesChunk, WindowRequest
from workers.window_logic import Refusal, new_tenant, try_generate
from backoffice.billto import BilltoHierarchy

UTC = dt.timezone.utc
WEEK = dt.date(2026, 9, 13)
NOW = dt.datetime(2026, 10, 14, 12, tzinfo=UTC)
TODAY = NOW.date()
MIB = 1024 * 1024


def _feed(record, topic, rec_or_bytes, offset=0):
    value = rec_or_bytes if isinstance(rec_or_bytes, bytes) else encode(
        {ATS_PLACEMENTS: "PlacementUpserted", ATS_TIMESHEETS: "TimesheetApproved", ATS_FEES: "FeeRealized"}[topic],
        rec_or_bytes)
    return ingest(record, Parked(topic, 0, offset, record.ledger.key.encode(), value, NOW), TODAY)


def _placed(pid="p1", **over):
    out = _feed(new_record(f"t1:{pid}"), ATS_PLACEMENTS, {**placement_record("t1", pid, "acme"), **over})
    assert not out.dead and out.record.ledger.placement is not None
    return out.record


def _week(hours_by_day: list[Decimal], ending=WEEK, **over):
    entries = [{"work_date": ending - dt.timedelta(days=d), "pay_code": "REG", "hours": h}
               for d, h in enumerate(hours_by_day)]
    return {**timesheet_record("t1", "p1", WEEK), "week_ending": ending, "entries": entries, **over}


def _refused_as(outcome, name):
    assert len(outcome.dead) == 1, outcome.dead
    error = outcome.dead[0][1]
    assert type(error).__name__ == name, (type(error).__name__, error)
    return error


IMPLAUSIBLE = [
    ("10,000-hour day", ATS_TIMESHEETS, _week([Decimal(10_000)]), "ImplausibleHours"),
    ("25 h a day, 175 h a week", ATS_TIMESHEETS, _week([Decimal(25)] * 7), "ImplausibleHours"),
    ("week ending in year 1", ATS_TIMESHEETS, _week([Decimal(8)], ending=dt.date(1, 1, 7)), "DateOutOfRange"),
    ("week ending in 9999", ATS_TIMESHEETS, _week([Decimal(8)], ending=dt.date(9999, 12, 31),
                                                  approved_at=NOW, occurred_at=NOW), "DateOutOfRange"),
    ("fee effective in year 1", ATS_FEES, fee_record("t1", "p1", "f1", effective=dt.date(1, 1, 1)),
     "DateOutOfRange"),
    ("fee of 1e13", ATS_FEES, fee_record("t1", "p1", "f2", unit_price=Decimal("10000000000000")),
     "ImplausibleAmount"),
    ("2 KiB approver", ATS_TIMESHEETS, _week([Decimal(8)], approver="R" * 2048), "OversizedField"),
    ("40 KiB message", ATS_FEES, fee_record("t1", "p1", "f3", description="é" * 20_000), "OversizedMessage"),
]


@pytest.mark.parametrize("label,topic,rec,reason", IMPLAUSIBLE, ids=[x[0] for x in IMPLAUSIBLE])
def test_implausible_or_oversized_input_is_dead_lettered_with_a_named_reason(label, topic, rec, reason):
    record = _placed()
    out = _feed(record, topic, rec)
    _refused_as(out, reason)
    assert not out.changed and not out.record.ledger.lines


def test_a_placement_with_a_1e14_rate_is_refused_not_lost():
    out = _feed(new_record("t1:p1"), ATS_PLACEMENTS, {**placement_record("t1", "p1", "acme"), "bill_rates": [
        {"pay_code": "REG", "rate": Decimal("100000000000000")}]})
    _refused_as(out, "ImplausibleAmount")


def test_a_conflicting_duplicate_is_dead_lettered_with_both_hashes_and_the_first_stays():
    record = _feed(_placed(), ATS_TIMESHEETS, timesheet_record("t1", "p1", WEEK)).record
    eight = {x.pay_line_id: x.quantity for x in record.ledger.lines.values()}
    replay = _feed(record, ATS_TIMESHEETS, timesheet_record("t1", "p1", WEEK))      # same content: a replay
    assert not replay.dead
    twelve = _feed(record, ATS_TIMESHEETS, timesheet_record("t1", "p1", WEEK, reg_hours=Decimal(12)))
    error = _refused_as(twelve, "ConflictingDuplicate")
    hashes = [w for w in error.reason.split() if len(w.rstrip(":;,")) == 16 and all(
        c in "0123456789abcdef" for c in w.rstrip(":;,"))]
    assert len(set(hashes)) == 2, error.reason
    assert {x.pay_line_id: x.quantity for x in twelve.record.ledger.lines.values()} == eight


def test_a_parked_event_that_fails_on_replay_is_dead_lettered_alone_and_its_placement_is_stored():
    """Hours x rate beyond the decimal context (InvalidOperation, not a BAD_INPUT error) once
    crashed the replay, and the placement that released it was never stored."""
    poison = _week([Decimal("99999999999999.9999")])
    fine = timesheet_record("t1", "p1", WEEK + dt.timedelta(days=7))
    record = replace(new_record("t1:p1"), parked=tuple(
        Parked(ATS_TIMESHEETS, 0, offset, b"t1:p1", encode("TimesheetApproved", rec), NOW)
        for offset, rec in enumerate((poison, fine))))
    out = _feed(record, ATS_PLACEMENTS, {**placement_record("t1", "p1", "acme"), "bill_rates": [
        {"pay_code": "REG", "rate": Decimal("99999.99")}, {"pay_code": "OT", "rate": Decimal("99999.99")}]})
    assert [item.offset for item, _ in out.dead] == [0]
    assert out.record.ledger.placement is not None and not out.record.parked
    assert {x.timesheet_id for x in out.record.ledger.lines.values()} == {fine["timesheet_id"]}


def test_a_dead_letter_of_a_1_mib_message_is_truncated_with_size_offset_and_sha256():
    value = b"\xc3\x01" + b"D" * MIB
    record = dead_letter_record(topic=ATS_FEES, partition=3, offset=77, key=b"t1:p1", value=value,
                                error=ValueError("too large"), first_seen=NOW)
    encoded = encode("DeadLetter", record)
    assert len(encoded) < 100 * 1024
    assert value.startswith(record["original_value"]) and len(record["original_value"]) < len(value)
    assert str(len(value)) in record["error"] and hashlib.sha256(value).hexdigest() in record["error"]
    assert (record["original_topic"], record["original_partition"], record["original_offset"]) == (ATS_FEES, 3, 77)


SETTINGS = load_settings()
ABSURD_COMMANDS = [   # each a fresh dict per run (the test pops from it)
    ("close-window year 1", dict(command="CLOSE_WINDOW", window_id="WEEKLY:0001-01-07")),
    ("close-window 9999", dict(command="CLOSE_WINDOW", window_id="WEEKLY:9999-12-26")),
    ("close-window garbage", dict(command="CLOSE_WINDOW", window_id="WEEKLY:31/12/2026")),
    ("generate as of 9999-12-31", dict(command="GENERATE", as_of=dt.date(9999, 12, 31))),
    ("generate as of year 1", dict(command="GENERATE", as_of=dt.date(1, 1, 1))),
]


@pytest.mark.parametrize("label,fields", ABSURD_COMMANDS, ids=[x[0] for x in ABSURD_COMMANDS])
def test_window_commands_with_absurd_dates_are_refused_at_the_door(label, fields):
    fields = dict(fields)
    cmd = command_record("t1", "c1", fields.pop("command"), **fields)
    with pytest.raises(CommandRefused):
        window_request(cmd, SETTINGS, NOW)


def test_a_credit_above_the_ceiling_is_refused():
    cmd = command_record("t1", "c1", "CREATE_CREDIT_MEMO", placement_id="p1", amount=Decimal("1000000000000.00"))
    with pytest.raises(CommandRefused):
        line_command(cmd, TODAY)


def test_a_window_that_fails_inside_generation_is_a_refusal_not_an_exception():
    """as_of 9999-12-31 got past the door once: the due date overflowed inside the window."""
    record = _feed(_placed(), ATS_TIMESHEETS, timesheet_record("t1", "p1", WEEK)).record
    lines = tuple(record.ledger.lines.values())
    end = dt.date(9999, 12, 31)
    request = WindowRequest("t1", "cmd:c9", "c9", None, dt.date(1970, 1, 1), end, end, on_demand=True,
                            created_at=NOW)
    chunk = LinesChunk(request, 0, 0, lines, (record.ledger.placement,))
    from backoffice.model import BilltoNode, EntityType
    hierarchy = BilltoHierarchy([BilltoNode("t1", EntityType.COMPANY, "acme", None, "Acme")])
    result = try_generate(request, [chunk], hierarchy, new_tenant("t1"))
    assert isinstance(result, Refusal) and result.reason


def test_a_parked_item_raising_outside_the_named_refusals_on_replay_does_not_lose_the_placement():
    """Whatever a parked item raises on replay (here a TypeError from a corrupt stored item),
    it is dead-lettered alone: the placement that released it and the other items are applied."""
    fine = timesheet_record("t1", "p1", WEEK)
    record = replace(new_record("t1:p1"), parked=(
        Parked(ATS_TIMESHEETS, 0, 0, b"t1:p1", 12345, NOW),                 # not bytes: TypeError in decoding
        Parked(ATS_TIMESHEETS, 0, 1, b"t1:p1", encode("TimesheetApproved", fine), NOW)))
    out = _feed(record, ATS_PLACEMENTS, placement_record("t1", "p1", "acme"), offset=9)
    assert [(item.offset, type(error).__name__) for item, error in out.dead] == [(0, "TypeError")]
    assert out.record.ledger.placement is not None and not out.record.parked
    assert {x.timesheet_id for x in out.record.ledger.lines.values()} == {fine["timesheet_id"]}
