"""Where a key lives: Kafka's default (murmur2) partitioner, the one Java producers,
Faust and our own producers (infra.kafka) use, so internal messages reach the
worker that owns a placement's ledger."""
from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def placement_key_of(pay_line_id: str) -> str:
    """Pay line ids start with "tenant:placement|"."""
    return pay_line_id.split("|", 1)[0]
