"""Log-end offsets that are right on Tansu too.

Tansu (0.6) answers ListOffsets(latest) with the base offset of the partition's last
record batch + 1, which is short by the batch's other records. Reading the last batch
itself gives the true end; on Apache Kafka the answer is the same as the plain query.
"""
from __future__ import annotations

import time
from typing import Iterable

from confluent_kafka import Consumer, TopicPartition

from infra.kafka import consumer_config


def log_end_offsets(bootstrap: str, partitions: Iterable[TopicPartition], timeout: float = 10.0
                    ) -> dict[tuple[str, int], tuple[int, int]]:
    """{(topic, partition): (low, true high)}: one metadata query and one fetch per partition."""
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "offset-probe", "fetch.wait.max.ms": 10}))
    try:
        out, probe = {}, {}
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=timeout)
            out[(tp.topic, tp.partition)] = (low, high)
            if high > low:
                probe[(tp.topic, tp.partition)] = high - 1
        if probe:
            consumer.assign([TopicPartition(t, p, off) for (t, p), off in probe.items()])
            last = dict(probe)
            waiting = set(probe)
            deadline = time.monotonic() + timeout
            while waiting and time.monotonic() < deadline:
                msg = consumer.poll(0.2)
                while msg is not None:       # the rest of a fetched batch is already local
                    if not msg.error():
                        key = (msg.topic(), msg.partition())
                        last[key] = max(last[key], msg.offset())
                        waiting.discard(key)
                    msg = consumer.poll(0)
            for key, offset in last.items():
                low, high = out[key]
                out[key] = (low, max(high, offset + 1))
        return out
    finally:
        consumer.close()


def group_lag(bootstrap: str, group: str, topics: Iterable[str], timeout: float = 10.0) -> int:
    """Total lag of a consumer group over the topics' partitions (true log ends)."""
    consumer = Consumer(consumer_config(bootstrap, group))
    try:
        parts = []
        for topic in topics:
            md = consumer.list_topics(topic, timeout=timeout).topics[topic]
            parts += [TopicPartition(topic, p) for p in md.partitions]
        committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(parts, timeout=timeout)}
    finally:
        consumer.close()
    lag = 0
    for key, (low, high) in log_end_offsets(bootstrap, parts, timeout).items():
        done = committed[key]
        lag += max(0, high - (done if done >= 0 else low))
    return lag
