"""Lag and verdicts against the real broker, driven by a plain consumer group."""
import json
import subprocess
import sys

import pytest
from confluent_kafka import Consumer

from infra.kafka import consumer_config
from ops.lag import LagMonitor, format_table
from ops.verdict import GroupStatus
from tests.workers.harness import ROOT, produce, wait_until

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
