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
    """{(topic, partition): (low, true high)}."""
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "offset-probe"}))
    try:
        out = {}
        for tp in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=timeout)
            if high > low:
                high = max(high, _last_offset_from(consumer, tp.topic, tp.partition, high - 1, timeout) + 1)
            out[(tp.topic, tp.partition)] = (low, high)
        return out
    finally:
        consumer.close()


def _last_offset_from(consumer: Consumer, topic: str, partition: int, start: int, timeout: float) -> int:
    consumer.assign([TopicPartition(topic, partition, start)])
    last, deadline = start, time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = [m for m in consumer.consume(10000, 0.3) if not m.error()]
        if not batch:
            break
        last = max(last, max(m.offset() for m in batch))
    consumer.unassign()
    return last


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
