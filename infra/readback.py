"""Read a topic from the beginning to its current end without joining a group
(assign, not subscribe): for the demo, tests and benchmarks."""
from __future__ import annotations

import logging
import time
from typing import Iterator

from confluent_kafka import Consumer, Message, TopicPartition

from infra.kafka import consumer_config
from infra.offsets import log_end_offsets


def read_to_end(bootstrap: str, topic: str, timeout: float = 60.0) -> Iterator[Message]:
    # librdkafka's own log through Python logging (ops.broker_watch's gate counts its connection errors)
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "readback", "enable.partition.eof": False,
                                                            "logger": logging.getLogger("librdkafka")}))
    try:
        md = consumer.list_topics(topic, timeout=10).topics[topic]
        if md.error is not None:
            raise RuntimeError(f"topic {topic}: {md.error}")
        ends = {p: high for (_, p), (low, high) in
                log_end_offsets(bootstrap, [TopicPartition(topic, p) for p in md.partitions]).items() if high > low}
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(5000, 0.2):
                if msg.error():
                    continue
                yield msg
                if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                    ends.pop(msg.partition(), None)
        if ends:
            raise TimeoutError(f"{topic}: partitions {sorted(ends)} not read to the end within {timeout}s")
    finally:
        consumer.close()
