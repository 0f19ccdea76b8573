"""What a worker keeps is bounded (issue 12): a replayed event writes nothing (no table write,
no changelog record, no RocksDB memtable growth), and every table's RocksDB bounds come from
the one settings object instead of Faust's defaults (64 MiB x 3 memtables and a 2 GiB block
cache per table partition)."""
from decimal import Decimal

from infra.settings import load_settings
from schemas.topics import ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import placement_record
from tests.reliability.corpus import fee_record
from tests.workers.test_hostile_logic import WEEK, _feed, _placed, _week
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

    tables = [t.table for t in vars(topology).values() if isinstance(t, topology.PickledTable)]
    assert len(tables) == 9
    assert all(t.options is topology.STORE for t in tables), [t.name for t in tables if t.options is not topology.STORE]
    assert set(topology.STORE) == set(options)
