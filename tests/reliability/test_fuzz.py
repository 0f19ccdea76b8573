"""A fuzzer over Avro records of every ATS schema (and operator commands) through the worker's
pure decode -> bound -> validate -> ledger path: nothing escapes but the named refusals.

The records come from the schemas themselves (tests/avro_strategies.py), with the fields a
hostile upstream would abuse widened: any date, the largest decimals, long strings, keys
that match the record (so the ledger really applies them) or not. A fast subset runs in
`make test`; `make test-reliability` runs many more examples."""
from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from backoffice.errors import DomainError
from schemas.codec import SCHEMA_DIR, DecodeError, encode
from schemas.mapping import InvalidEvent
from schemas.topics import ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS, BILLING_COMMANDS
from tests.avro_strategies import strategy_for
from tests.reliability.corpus import NOW
from tests.reliability.pure_path import PurePath

RAW = {json.loads(p.read_text())["name"]: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.avsc")}
TOPICS = {ATS_ACCOUNTS: "AccountUpserted", ATS_PLACEMENTS: "PlacementUpserted", ATS_TIMESHEETS: "TimesheetApproved",
          ATS_FEES: "FeeRealized", BILLING_COMMANDS: "OperatorCommand"}
NAMED = (DecodeError, InvalidEvent, DomainError)

hostile_dates = st.one_of(st.dates(), st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
                          st.dates(dt.date(2026, 8, 1), dt.date(2026, 11, 30)))
hostile_hours = st.one_of(st.decimals(0, 24, places=4), st.decimals(0, "99999999999999.9999", places=4),
                          st.sampled_from([Decimal(24), Decimal(25), Decimal(10_000)]))
hostile_text = st.one_of(st.text(max_size=8), st.text(min_size=1000, max_size=1100), st.just("x" * 40_000))


def _widen(record: dict, draw) -> dict:
    """Put a hostile date, amount or string in some fields; mostly tie ids to tenant t1 and
    placement p1 (so that the ledger really applies them) and work dates to their week."""
    out = dict(record)
    out["tenant_id"] = draw(st.sampled_from(["t1", "t1", "t1", out.get("tenant_id") or "t1"]))
    if "placement_id" in out:
        out["placement_id"] = draw(st.sampled_from(["p1", "p1", "p1", out["placement_id"] or "p1"]))
    for name in ("week_ending", "effective_date", "start_date", "end_date", "as_of"):
        if name in out and draw(st.booleans()):
            out[name] = draw(hostile_dates)
        elif name in out and out[name] is not None:
            out[name] = draw(st.dates(dt.date(2026, 8, 1), dt.date(2026, 11, 30)))
    if "entries" in out and out.get("week_ending") and draw(st.integers(0, 3)):
        we = out["week_ending"]
        out["entries"] = [dict(e, work_date=we - dt.timedelta(days=min(i % 7, (we - dt.date.min).days)),
                               hours=draw(hostile_hours))
                          for i, e in enumerate(out["entries"])]
    for name in ("account_name", "candidate_name", "description", "approver", "reason"):
        if name in out and draw(st.booleans()):
            out[name] = draw(hostile_text)
    return out


@st.composite
def messages(draw):
    topic = draw(st.sampled_from(sorted(TOPICS)))
    record = _widen(draw(strategy_for(copy.deepcopy(RAW[TOPICS[topic]]))), draw)
    if topic == BILLING_COMMANDS:
        key = record["tenant_id"].encode()
    elif topic == ATS_ACCOUNTS:
        key = f"{record['tenant_id']}:{record['entity_id']}".encode()
    else:
        key = draw(st.sampled_from([b"t1:p1", b"t1:p1", b"t1:p1",
                                    f"{record['tenant_id']}:{record['placement_id']}".encode()]))
    try:
        value = encode(TOPICS[topic], record)
    except Exception:   # noqa: BLE001 - a widened value the schema cannot carry: send garbage instead
        value = draw(st.binary(max_size=64))
    return topic, key, value


def _check(batch) -> None:
    path = PurePath(NOW)
    for topic, key, value in batch:
        path.feed(topic, key, value)          # raises if anything but a named refusal escapes
    path.sweep()
    unnamed = [(t, o, e) for t, o, e in path.dead if not isinstance(e, NAMED)]
    assert not unnamed, unnamed
    _accepted_is_plausible(path)


def _accepted_is_plausible(path: PurePath) -> None:
    """What was accepted obeys the written limits (README, infra.settings), checked here
    without the code under test: no line above 168 hours or the amount ceiling, no date
    outside the span, no net terms beyond the maximum, no string beyond the field limit."""
    s = path.settings
    low, high = NOW.date() - dt.timedelta(days=s.date_span_days), NOW.date() + dt.timedelta(days=s.date_span_days)
    for record in path.ledgers.values():
        placement = record.ledger.placement
        if placement is not None:
            assert all(abs(rate) <= s.max_rate for _, rate in placement.bill_rates), placement.bill_rates
            assert len(placement.candidate_name.encode()) <= s.max_field_bytes
        for line in record.ledger.lines.values():
            assert abs(line.amount) <= s.max_amount, line
            assert low <= line.work_date <= high, line
            if line.timesheet_id:
                assert line.quantity <= 168, line
            assert len(line.description.encode()) <= 3 * s.max_field_bytes + 100, line
    for node in path.accounts.values():
        assert 0 <= node.net_terms_days <= s.max_net_terms_days, node
        assert len((node.account_name or "").encode()) <= s.max_field_bytes


FAST = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
FULL = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def batches(draw, max_size):
    """A fuzzed placement for t1:p1 first (so that its timesheets and fees are applied), then the rest."""
    rec = _widen(draw(strategy_for(copy.deepcopy(RAW["PlacementUpserted"]))), draw)
    rec.update(tenant_id="t1", placement_id="p1", status="ACTIVE")
    try:
        first = [(ATS_PLACEMENTS, b"t1:p1", encode("PlacementUpserted", rec))]
    except Exception:   # noqa: BLE001 - a widened value the schema cannot carry
        first = []
    return first + draw(st.lists(messages(), min_size=1, max_size=max_size))


@FAST
@given(batches(12))
def test_fuzzed_records_end_in_named_refusals_only(batch):
    _check(batch)


@pytest.mark.reliability
@FULL
@given(batches(25))
def test_fuzzed_records_end_in_named_refusals_only_many(batch):
    _check(batch)
