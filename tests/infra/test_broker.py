import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from infra.admin import create_topics, partition_counts, topic_configs
from infra.broker import EmbeddedBroker
from infra.kafka import consumer_config, producer_config
from schemas.topics import TOPICS, TopicSpec

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); check its state
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_embedded_broker_starts_serves_and_stops_without_orphans():
    broker = EmbeddedBroker().start()
    pid = broker.pid
    try:
        spec = TopicSpec("roundtrip", "k", 2, "delete", "SyncResult", "test")
        create_topics(broker.bootstrap, [spec])
        producer = Producer(producer_config(broker.bootstrap))
        for i in range(10):
            producer.produce("roundtrip", key=str(i).encode(), value=f"v{i}".encode())
        producer.flush(10)
        consumer = Consumer(consumer_config(broker.bootstrap, "g-roundtrip"))
        consumer.subscribe(["roundtrip"])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 10 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got.append(msg.value())
        consumer.close()
        assert sorted(got) == sorted(f"v{i}".encode() for i in range(10))
    finally:
        broker.stop()
    assert not _alive(pid)


def test_topic_creation_is_idempotent_with_partitions_and_cleanup_policy(kafka_bootstrap, unique_name):
    specs = [TopicSpec(f"{unique_name}.{s.name}", s.key, s.partitions, s.cleanup_policy, s.schema, s.doc)
             for s in TOPICS.values()]
    first = create_topics(kafka_bootstrap, specs)
    second = create_topics(kafka_bootstrap, specs)
    assert set(first.values()) == {"created"}
    assert set(second.values()) == {"exists"}
    counts = partition_counts(kafka_bootstrap, [s.name for s in specs])
    assert counts == {s.name: s.partitions for s in specs}
    policies = {name: cfg.get("cleanup.policy") for name, cfg in topic_configs(kafka_bootstrap, counts).items()}
    assert policies == {s.name: s.cleanup_policy for s in specs}
    assert {"compact", "delete"} <= set(policies.values())      # the table has both kinds; both are checked


PARENT = textwrap.dedent("""
    import sys, time
    from infra.broker import EmbeddedBroker
    broker = EmbeddedBroker().start()
    print(broker.pid, flush=True)
    time.sleep(600)
""")


def test_broker_dies_with_a_sigkilled_parent():
    """No atexit runs after SIGKILL; PR_SET_PDEATHSIG must take the broker down."""
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=root, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(root)})
    broker_pid = None
    try:
        broker_pid = int(parent.stdout.readline())
        assert _alive(broker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        deadline = time.monotonic() + 30          # a bound on the wait, not a speed claim
        while _alive(broker_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(broker_pid), f"broker {broker_pid} outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(30)
        parent.stdout.close()
        if broker_pid is not None and _alive(broker_pid):
            os.kill(broker_pid, signal.SIGKILL)


def test_creating_topics_some_of_which_exist_reports_each_without_error(kafka_bootstrap, unique_name):
    specs = [TopicSpec(f"{unique_name}.t{i}", "k", 1 + i % 2, "delete", "SyncResult", "test") for i in range(4)]
    assert create_topics(kafka_bootstrap, specs[:2]) == {specs[0].name: "created", specs[1].name: "created"}
    again = create_topics(kafka_bootstrap, specs)
    assert again == {specs[0].name: "exists", specs[1].name: "exists", specs[2].name: "created",
                     specs[3].name: "created"}
    assert partition_counts(kafka_bootstrap, [s.name for s in specs]) == {s.name: s.partitions for s in specs}
