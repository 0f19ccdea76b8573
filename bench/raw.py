"""The ceiling the benchmarks measure against: one confluent-kafka consumer reading every
message of some topics from the start and decoding it with our Avro codec, nothing else."""
from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition

from infra.kafka import consumer_config
from infra.offsets import log_end_offsets
from schemas.codec import decode


def raw_consume_decode(bootstrap: str, topics, total: int) -> float:
    """events/s over every message of `topics` (`total` of them, checked)."""
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "bench-raw", "enable.partition.eof": False}))
    parts = [TopicPartition(t, p, 0) for t in topics for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
    ends = {k: hi for k, (lo, hi) in log_end_offsets(bootstrap, parts).items() if hi > lo}
    consumer.assign([TopicPartition(t, p, 0) for (t, p) in ends])
    seen, t0 = 0, time.perf_counter()
    while ends:
        for msg in consumer.consume(10_000, 0.5):
            if msg.error():
                continue
            decode(msg.value(), topic=msg.topic(), partition=msg.partition(), offset=msg.offset())
            seen += 1
            if msg.offset() + 1 >= ends.get((msg.topic(), msg.partition()), 0):
                ends.pop((msg.topic(), msg.partition()), None)
    elapsed = time.perf_counter() - t0
    consumer.close()
    assert seen == total, (seen, total)
    return total / elapsed
