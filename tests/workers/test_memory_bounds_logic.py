"""What a worker keeps is bounded (issue 12): a replayed event writes nothing (no table write,
no changelog record, no RocksDB memtable growth), and every table's RocksDB bounds come from
the one settings object instead of Faust's defaults (64 MiB x 3 memtables and a 2 GiB block
cache per table partition)."""
from dataclasses import replace
from decimal import Decimal

from infra.settings import load_settings
from schemas.topics import ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import placement_record
from tests.reliability.corpus import fee_record
from tests.workers.test_hostile_logic import NOW, TODAY, WEEK, _feed, _placed, _week
from workers.ledger_logic import new_record


def test_a_replayed_placement_timesheet_or_fee_changes_nothing_and_asks_for_no_write():
    record = _placed()
    placement = placement_record("t1", "p1", "acme")
    assert not _feed(record, ATS_PLACEMENTS, placement).changed              # same version again
    week = _week([Decimal(8)] * 5)
    first = _feed(record, ATS_TIMESHEETS, week)
    assert first.changed and first.record.ledger.lines
    again = _feed(first.record, ATS_TIMESHEETS, week, offset=7)              # the same approval re-read
    assert not again.changed and again.record is first.record
    fee = fee_record("t1", "p1", "f1")
    with_fee = _feed(first.record, ATS_FEES, fee)
    assert with_fee.changed
    assert not _feed(with_fee.record, ATS_FEES, fee).changed
    newer = _feed(with_fee.record, ATS_TIMESHEETS, {**week, "version": 2, "event_id": "e2"})
    assert newer.changed                                                     # a new version is still applied


def test_an_event_parked_for_its_placement_is_a_change():
    out = _feed(new_record("t1:p9"), ATS_TIMESHEETS, {**_week([Decimal(8)]), "placement_id": "p9"})
    assert out.changed and len(out.record.parked) == 1
    assert WEEK


def test_every_table_gets_the_configured_rocksdb_bounds(monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ROCKSDB_WRITE_BUFFER_BYTES", str(3 * 1024 * 1024))
    monkeypatch.setenv("BACKOFFICE_ROCKSDB_BLOCK_CACHE_BYTES", str(5 * 1024 * 1024))
    options = load_settings().rocksdb_options()
    assert options["write_buffer_size"] == 3 * 1024 * 1024 and options["block_cache_size"] == 5 * 1024 * 1024
    from faust.stores.rocksdb import RocksDBOptions

    opened = RocksDBOptions(**options)                # the names are Faust's own: a typo would raise here
    assert opened.write_buffer_size == 3 * 1024 * 1024 and opened.max_write_buffer_number == 2
    from workers import topology

    tables = [t.table for t in vars(topology).values() if isinstance(t, topology.StateTable)]
    assert len(tables) == 9
    assert all(t.options is topology.STORE for t in tables), [t.name for t in tables if t.options is not topology.STORE]
    assert set(topology.STORE) == set(options)


def _weeks(n: int):
    """n consecutive weekly approvals of p1, each ~1.3 KiB (a 1,000-character approver)."""
    import datetime as dt

    from simulator.records import timesheet_record
    first = dt.date(2026, 3, 1)
    return [timesheet_record("t1", "p1", first + dt.timedelta(weeks=k)) | {"approver": "A" * 1000}
            for k in range(n)]


def test_kept_approvals_stay_within_their_budget_dropping_only_fully_invoiced_ones():
    import datetime as dt

    from backoffice import ledger as L
    from schemas.codec import encode
    from workers.ledger_logic import Bounds, Parked, ingest

    budget = 16 * 1024
    limits = Bounds(approval_bytes=budget)

    def feed(record, rec, offset=0):
        value = encode("TimesheetApproved", rec)
        return ingest(record, Parked(ATS_TIMESHEETS, 0, offset, b"t1:p1", value, NOW), TODAY, limits)

    record, weeks = _placed(), _weeks(41)
    for n, rec in enumerate(weeks[:40]):
        record = feed(record, rec, n).record
    assert len(record.approvals) == 40                     # nothing invoiced yet: every approval is kept
    first30 = {w["timesheet_id"] for w in weeks[:30]}
    invoiced = [(x, "inv-1") for x in record.ledger.lines.values() if x.timesheet_id in first30]
    record = replace(record, ledger=L.settle_invoiced(record.ledger, invoiced, TODAY).ledger)
    record = feed(record, weeks[40], 40).record
    kept = set(record.approvals)
    open_ids = {w["timesheet_id"] for w in weeks[30:]}
    assert open_ids <= kept                                 # an approval with a line to bill is never dropped
    assert sum(len(v) for v in record.approvals.values()) <= budget or kept == open_ids
    assert kept - open_ids and kept - open_ids < first30   # the oldest invoiced ones went first
    dropped = sorted(first30 - kept)
    assert dropped == sorted(w["timesheet_id"] for w in weeks[:len(dropped)])
    # the exactly-once checks are untouched: a dropped approval's replay is still a replay
    assert all(record.ledger.versions[w["timesheet_id"]] == 1 for w in weeks)
    replay = feed(record, weeks[0], 99)
    assert not replay.changed and not replay.dead
    assert dt.date(2026, 3, 1)


def test_an_event_parked_already_is_not_parked_again_when_replayed():
    """A crash after the record with the parked event was stored, before the ack: the replay of
    the same (topic, partition, offset) must not park a second copy (it would be applied twice
    over, or dead-lettered twice, when the placement comes)."""
    import datetime as dt

    from schemas.codec import encode
    from schemas.topics import ATS_TIMESHEETS
    from simulator.records import timesheet_record
    from workers.ledger_logic import Parked, ingest, new_record

    now = dt.datetime(2026, 9, 8, 12, tzinfo=dt.timezone.utc)
    raw = encode("TimesheetApproved", timesheet_record("t1", "p1", dt.date(2026, 9, 6)))
    item = Parked(ATS_TIMESHEETS, 2, 17, b"t1:p1", raw, now)
    first = ingest(new_record("t1:p1"), item, dt.date(2026, 9, 8))
    assert first.changed and len(first.record.parked) == 1
    again = ingest(first.record, item, dt.date(2026, 9, 8))
    assert not again.changed and again.record.parked == first.record.parked and not again.dead
    other = ingest(first.record, Parked(ATS_TIMESHEETS, 2, 18, b"t1:p1", raw, now), dt.date(2026, 9, 8))
    assert len(other.record.parked) == 2          # another offset is another event, parked beside it
