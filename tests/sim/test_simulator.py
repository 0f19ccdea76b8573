import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from schemas.codec import DecodeError, decode
from schemas.mapping import InvalidEvent, timesheet_from_record
from schemas.topics import ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.generate import generate
from simulator.publish import encode_event

ARGS = dict(tenants=3, placements=30, weeks=5, seed=11, start=dt.date(2026, 9, 7), bad_rate=0.3)


def _digest(stream) -> str:
    h = hashlib.sha256()
    for e in stream.events:
        h.update(e.topic.encode() + b"\0" + e.key + b"\0" + encode_event(e))
    return h.hexdigest()


def test_same_seed_same_bytes_and_a_different_seed_differs():
    assert _digest(generate(**ARGS)) == _digest(generate(**ARGS))
    assert _digest(generate(**{**ARGS, "seed": 12})) != _digest(generate(**ARGS))


def test_stream_is_realistic():
    stream = generate(**{**ARGS, "bad_rate": 0.0, "placements": 60})
    counts = stream.counts()
    assert {ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS, ATS_FEES} <= set(counts)
    records = [e.record for e in stream.events]
    accounts = [r for e, r in zip(stream.events, records) if e.topic == ATS_ACCOUNTS]
    named_levels = {r["entity_type"] for r in accounts if r["account_name"]}
    assert named_levels == {"COMPANY", "CLIENT", "OFFICE"}       # Account Name at every level across tenants
    placements = [r for e, r in zip(stream.events, records) if e.topic == ATS_PLACEMENTS]
    assert {p["placement_type"] for p in placements} == {"TEMP", "PERM", "CONTRACT"}
    timesheets = [r for e, r in zip(stream.events, records) if e.topic == ATS_TIMESHEETS]
    assert {x["pay_code"] for t in timesheets for x in t["entries"]} == {"REG", "OT", "DT"}
    assert any(t["version"] > 1 for t in timesheets), "no re-approval in the sample"
    fees = [r for e, r in zip(stream.events, records) if e.topic == ATS_FEES]
    assert {f["kind"] for f in fees} == {"PLACEMENT_FEE", "PRODUCT", "SERVICE"}
    last_week = ARGS["start"] + dt.timedelta(weeks=ARGS["weeks"])
    assert any(f["effective_date"] > last_week for f in fees), "no Scheduled (future) fee"


def test_references_come_after_what_they_refer_to():
    stream = generate(**{**ARGS, "bad_rate": 0.0})
    seen_placements = set()
    for e in stream.events:
        if e.topic == ATS_PLACEMENTS:
            seen_placements.add(e.key)
        elif e.topic in (ATS_TIMESHEETS, ATS_FEES):
            assert e.key in seen_placements


def test_expected_pay_lines_use_the_latest_approval_and_round_half_up():
    stream = generate(**{**ARGS, "bad_rate": 0.0, "placements": 60})
    placements = {e.record["placement_id"]: e.record for e in stream.events if e.topic == ATS_PLACEMENTS}
    latest = {}
    for e in stream.events:
        if e.topic == ATS_TIMESHEETS:
            latest[e.record["timesheet_id"]] = e.record
    expected = {}
    for x in stream.expected_pay_lines:
        if x["source"] == "TIMESHEET":
            expected.setdefault((x["timesheet_id"], x["pay_code"]), []).append(x)
    assert len({k[0] for k in expected}) == len(latest)
    for ts in latest.values():
        placement = placements[ts["placement_id"]]
        rates = {r["pay_code"]: r["rate"] for r in placement["bill_rates"]}
        for code in {x["pay_code"] for x in ts["entries"]}:
            by_period = {}
            for x in ts["entries"]:
                if x["pay_code"] == code:
                    period = _period(placement["billing_cycle"], x["work_date"])
                    by_period[period] = by_period.get(period, Decimal(0)) + x["hours"]
            lines = expected[(ts["timesheet_id"], code)]
            got = {_period(placement["billing_cycle"], dt.date.fromisoformat(x["work_date"])): Decimal(x["amount"])
                   for x in lines}
            assert len(got) == len(lines)
            assert got == {p: (h * rates[code]).quantize(Decimal("0.01"), "ROUND_HALF_UP") for p, h in by_period.items()}


def _period(cycle, day):
    """The billing period a day falls in (seed 003), written apart from the simulator's own."""
    if cycle == "MONTHLY":
        return (day.year, day.month)
    if cycle == "SEMI_MONTHLY":
        return (day.year, day.month, day.day > 15)
    return "whole week"


def test_a_week_over_a_period_end_is_expected_in_one_line_per_period_dated_inside_it():
    stream = generate(**{**ARGS, "bad_rate": 0.0, "placements": 60})
    placements = {e.record["placement_id"]: e.record for e in stream.events if e.topic == ATS_PLACEMENTS}
    split = [x for x in stream.expected_pay_lines if x.get("period_end")]
    assert {placements[x["placement_id"]]["billing_cycle"] for x in split} == {"MONTHLY", "SEMI_MONTHLY"}
    for x in stream.expected_pay_lines:
        if x["source"] != "TIMESHEET":
            continue
        cycle, week_ending = placements[x["placement_id"]]["billing_cycle"], dt.date.fromisoformat(x["week_ending"])
        week = [week_ending - dt.timedelta(days=n) for n in range(7)]
        straddles = len({_period(cycle, d) for d in week}) > 1
        assert bool(x.get("period_end")) == straddles, x
        work_date = dt.date.fromisoformat(x["work_date"])
        assert x["effective_date"] == x["work_date"]
        if straddles:      # the last day of the week inside its period
            assert work_date == max(d for d in week if _period(cycle, d) == _period(cycle, work_date))
        else:
            assert work_date == week_ending


def test_bad_messages_are_really_bad_and_not_expected():
    stream = generate(**ARGS)
    bad = [e for e in stream.events if e.bad_reason]
    assert stream.bad_events == len(bad) > 0
    reasons = {e.bad_reason for e in bad}
    assert len(reasons) >= 3
    expected_ids = {x["fee_id"] for x in stream.expected_pay_lines} | {x["timesheet_id"] for x in stream.expected_pay_lines}
    for e in bad:
        if e.bad_reason == "not Avro":
            with pytest.raises(DecodeError):
                decode(encode_event(e), topic=e.topic, partition=0, offset=0)
        elif e.bad_reason == "negative hours":
            with pytest.raises(InvalidEvent):
                timesheet_from_record(decode(encode_event(e)).record)
        else:
            rec = e.record
            assert rec.get("fee_id", rec.get("timesheet_id")) not in expected_ids
