"""confluent-kafka client settings shared by every producer and consumer of the project.

Tuned for Tansu as much as for Kafka: it serves about one record batch per fetch, so
producers batch generously; it holds a group join for the whole rebalance timeout,
so consumers keep session/poll timeouts short.
"""
from __future__ import annotations

from typing import Any


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    conf = {
        "bootstrap.servers": bootstrap,
        "linger.ms": 25,
        "batch.num.messages": 10000,
        "batch.size": 4_000_000,
        "enable.idempotence": False,
        "acks": "all",
        "message.max.bytes": 4_000_000,
        # Java client default: keys land where Faust (aiokafka, murmur2) expects them.
        "partitioner": "murmur2_random",
    }
    conf.update(overrides)
    return conf


def consumer_config(bootstrap: str, group: str | None, **overrides: Any) -> dict[str, Any]:
    conf = {
        "bootstrap.servers": bootstrap,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "max.poll.interval.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "fetch.wait.max.ms": 50,
    }
    if group is not None:
        conf["group.id"] = group
    conf.update(overrides)
    return conf
