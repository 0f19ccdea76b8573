"""Lag and verdicts against the real broker, driven by a plain consumer group and by a worker."""
import datetime as dt
import json
import subprocess
import sys

import pytest
from confluent_kafka import Consumer

from infra.kafka import consumer_config
from ops.lag import LagMonitor, format_table
from ops.verdict import GroupStatus
from infra.admin import create_topics
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from tests.workers.harness import ROOT, WorkerProcess, produce, produce_records, wait_until
from workers.names import ingest_topics

pytestmark = pytest.mark.integration


def _consume(bootstrap, group, topic, count, close=True):
    """A plain consumer group member: reads `count` messages and commits them."""
    consumer = Consumer(consumer_config(bootstrap, group, **{"enable.auto.commit": False}))
    consumer.subscribe([topic])
    got = 0
    while got < count:
        msg = consumer.poll(1.0)
        if msg is not None and not msg.error():
            got += 1
    consumer.commit(asynchronous=False)
    if close:
        consumer.close()
    return consumer


def test_lag_zero_when_drained_grows_when_stopped_and_verdicts_recover(kafka_bootstrap, unique_name):
    topic, group = f"billing.{unique_name}", f"{unique_name}-group"
    produce(kafka_bootstrap, [(topic, b"k", b"v%d" % i) for i in range(20)])
    consumer = _consume(kafka_bootstrap, group, topic, 20, close=False)
    monitor = LagMonitor(kafka_bootstrap, [group], window=3)
    first = monitor.sample()[0]
    assert first.total_lag == 0 and first.status is GroupStatus.OK
    assert [p.committed for p in first.partitions if p.log_end] == [20]
    consumer.close()                                              # the consumer goes away...
    produce(kafka_bootstrap, [(topic, b"k", b"w%d" % i) for i in range(7)])   # ...while events keep coming
    states = [monitor.sample()[0] for _ in range(3)]
    assert all(s.total_lag == 7 for s in states)
    assert states[0].status is GroupStatus.WARN                       # not enough evidence yet: a warning
    assert states[-1].status is GroupStatus.ERR and "STOP" in states[-1].partition_status.values()
    assert "STOP" in format_table([states[-1]]) and "LOG-END-OFFSET" in format_table([states[-1]])
    _consume(kafka_bootstrap, group, topic, 7)
    back = monitor.sample()[0]
    assert back.total_lag == 0 and back.status is GroupStatus.OK


def test_lag_command_prints_json_for_a_group(kafka_bootstrap, unique_name):
    topic, group = f"billing.{unique_name}", f"{unique_name}-cli"
    produce(kafka_bootstrap, [(topic, b"k", b"v%d" % i) for i in range(5)])
    _consume(kafka_bootstrap, group, topic, 2)
    out = subprocess.run([sys.executable, "-m", "cli.main", "lag", "--group", group, "--json"], cwd=ROOT,
                         env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    groups = json.loads(out.stdout.strip().splitlines()[-1])
    assert groups[0]["group"] == group and groups[0]["total_lag"] == 3
    assert groups[0]["partitions"][0]["topic"] == topic


def _worker_lag(monitor, topics):
    """The worker group's lag on the ATS inputs, and the group's verdict, from one sample."""
    group = monitor.sample()[0]
    return sum(p.lag for p in group.partitions if p.topic in topics), group


@pytest.mark.slow
def test_a_workers_lag_drains_to_zero_grows_while_it_is_stopped_and_recovers(kafka_bootstrap, unique_name, tmp_path):
    """The Done-when of issue 7 on the real worker: drained, stopped with events arriving, restarted."""
    create_topics(kafka_bootstrap)
    tenant, app_id = unique_name, f"{unique_name}-worker"
    week = dt.date(2026, 9, 6)
    produce_records(kafka_bootstrap, [(ATS_ACCOUNTS, f"{tenant}:acme", "AccountUpserted",
                                       account_record(tenant, "acme", "Acme"))]
                    + [(ATS_PLACEMENTS, f"{tenant}:p{i}", "PlacementUpserted", placement_record(tenant, f"p{i}", "acme"))
                       for i in range(4)]
                    # a first week, so that the group has offsets on ats.timesheets when it stops
                    + [(ATS_TIMESHEETS, f"{tenant}:p{i}", "TimesheetApproved",
                        timesheet_record(tenant, f"p{i}", week - dt.timedelta(days=7))) for i in range(4)])
    topics = set(ingest_topics(app_id)[:4])
    # one scheduler cycle at start-up, none while the test runs: its Collects would be lag of their own
    worker = WorkerProcess(kafka_bootstrap, app_id, tmp_path / "w",
                           extra_env={"BACKOFFICE_SCHEDULER_INTERVAL": "3600"}).start()
    monitor = LagMonitor(kafka_bootstrap, [app_id], window=3)
    try:
        # drained everywhere, internal topics too (the start-up cycle's ledger and document commands),
        # so that after the stop only the approvals that arrive meanwhile are waiting
        lag, group = wait_until(lambda: (s := _worker_lag(monitor, topics))[0] == 0 and s[1].partitions
                                and s[1].total_lag == 0 and s, 120, message="the worker to drain")
        assert group.consumers_present
        worker.stop()
        produce_records(kafka_bootstrap, [(ATS_TIMESHEETS, f"{tenant}:p{i}", "TimesheetApproved",
                                           timesheet_record(tenant, f"p{i}", week)) for i in range(4)])
        stopped = [_worker_lag(monitor, topics) for _ in range(3)]
        assert [lag for lag, _ in stopped] == [4, 4, 4]                # the four approvals wait
        # ERR: offsets stopped with lag left. STALL while the broker still lists the stopped member
        # (until its session times out), STOP once it has gone; either way the waiting partitions.
        # The flagged partitions are exactly those with lag in the same sample: the approvals' partitions,
        # and any internal topic the worker left work on when it stopped (a timer's sweep, a close in flight).
        verdict = stopped[-1][1]
        assert verdict.status is GroupStatus.ERR and set(verdict.partition_status.values()) <= {"STALL", "STOP"}
        lagging = {f"{p.topic}[{p.partition}]" for p in verdict.partitions if p.lag > 0}
        assert set(verdict.partition_status) == lagging
        assert {p.topic for p in verdict.partitions if p.lag > 0 and p.topic in topics} == {ATS_TIMESHEETS}
        worker.start()
        lag, group = wait_until(lambda: (s := _worker_lag(monitor, topics))[0] == 0
                                and s[1].status is GroupStatus.OK and s, 120, message="the restarted worker to catch up")
        assert lag == 0 and group.status is GroupStatus.OK
    finally:
        worker.stop()
