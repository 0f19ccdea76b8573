"""The agents themselves, without a broker: Faust's agent.test_context() feeds values into
the agent's stream and the tables live in the memory:// store.

What this layer can see is an agent's table effects. Whatever an agent sends (outcomes,
Collects, dead letters) goes through the Kafka producer, which we never mock: those
paths are covered on the real broker (test_window_commands, test_pipeline)."""
import datetime as dt
import os
from unittest import mock

import pytest

# Read by workers.app at import; undone afterwards so that worker processes started later by
# other test modules (and the broker fixture, which honours KAFKA_BOOTSTRAP_SERVERS) never see it.
with mock.patch.dict(os.environ, {"BACKOFFICE_TABLE_STORE": "memory://",
                                  "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
                                  or "unit-test.invalid:9092"}):    # only a string: nothing connects
    import workers.app  # noqa: F401

from schemas.codec import encode  # noqa: E402
from schemas.topics import PLACEMENT_PARTITIONS as P  # noqa: E402
from simulator.records import placement_record, timesheet_record  # noqa: E402
from tests.workers.test_pipeline import command  # noqa: E402
from workers.app import app  # noqa: E402
from workers.agents_commands import operator_commands  # noqa: E402
from schemas.topics import ATS_PLACEMENTS, ATS_TIMESHEETS  # noqa: E402
from workers.agents_ledger import ingest_ledger_events, ledger_side  # noqa: E402
from workers.ledger_logic import collect  # noqa: E402
from workers.messages import Release, WindowRequest  # noqa: E402
from workers.partitioning import partition_for  # noqa: E402
from workers.state import dumps  # noqa: E402
from workers.topology import commands_seen, ledgers  # noqa: E402

WEEK = dt.date(2026, 9, 6)
W = WindowRequest("u1", "WEEKLY:2026-09-06", "c1", None, WEEK - dt.timedelta(days=6), WEEK, WEEK + dt.timedelta(2))


@pytest.fixture(autouse=True, scope="module")
def memory_store():
    app.conf.store = "memory://"          # also when another module imported workers.app first
    assert app.conf.store.scheme == "memory"


def _recovered(table, key, value):
    """State as a worker finds it after recovering the changelog (Faust writes only inside a stream)."""
    table.table.data[key] = dumps(value, table.name)


async def _feed(agent, items, topic=None):
    """Put each (key, value); the wrapper wakes on a value's arrival, so a trailing put of the
    same last item (idempotent by construction of these tests) proves the one before was handled.

    The wrapper names a message's topic after the agent's channel; the ingest agent's channel
    is three topics with no single name, so `topic` says which one the messages come from."""
    async with agent.test_context() as ctx:
        if topic is not None:
            ctx._get_strtopic = lambda channel: topic
        for key, value in items + items[-1:]:
            await ctx.put(value, key=key)


async def test_the_command_agent_records_a_command_id_once_and_skips_a_repeat():
    cmds = [command("u1", cid, "RESYNC") for cid in ("u1-r1", "u1-r2")]
    _recovered(commands_seen, b"u1-old", "GENERATE")          # carried out before a restart
    repeat = command("u1", "u1-old", "RESYNC")
    await _feed(operator_commands, [(k, v) for _, k, v in [cmds[0], repeat, cmds[1]]])
    assert commands_seen.get(b"u1-r1") == commands_seen.get(b"u1-r2") == "RESYNC"
    assert commands_seen.get(b"u1-old") == "GENERATE"        # the repeat did not run again


def _key(pid):
    return f"u1:{pid}".encode()


async def test_ingest_agents_build_the_ledger_of_a_placement():
    await _feed(ingest_ledger_events, [(_key("p1"), encode("PlacementUpserted", placement_record("u1", "p1", "acme")))],
                ATS_PLACEMENTS)
    await _feed(ingest_ledger_events, [(_key("p1"), encode("TimesheetApproved", timesheet_record("u1", "p1", WEEK)))],
                ATS_TIMESHEETS)
    record = ledgers.get(_key("p1"))
    assert record.ledger.placement.placement_id == "p1"
    assert sorted(x.rsplit("|", 1)[1] for x in record.ledger.lines) == ["OT", "REG"]


async def test_the_ledger_agent_releases_a_windows_reservations_on_its_partition_only():
    pids = [f"r{i}" for i in range(40)]
    await _feed(ingest_ledger_events, [(_key(p), encode("PlacementUpserted", placement_record("u1", p, "acme")))
                                       for p in pids], ATS_PLACEMENTS)
    await _feed(ingest_ledger_events, [(_key(p), encode("TimesheetApproved", timesheet_record("u1", p, WEEK)))
                                       for p in pids], ATS_TIMESHEETS)
    for p in pids:
        record, due = collect(ledgers[_key(p)], W)
        assert due
        _recovered(ledgers, _key(p), record)
    target = partition_for(_key(pids[0]), P)
    await _feed(ledger_side, [(b"release", Release(W.window_key, "u1", target))])
    held = {p: bool(ledgers[_key(p)].reserved) for p in pids}
    here = {p for p in pids if partition_for(_key(p), P) == target}
    assert here and len(here) < len(pids)
    assert {p for p, h in held.items() if not h} == here              # released here, kept elsewhere
