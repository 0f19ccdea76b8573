"""Table recovery that is correct on Tansu.

Faust recovers a table by reading its changelog up to the partition's highwater,
then checks the persisted offset against it. Tansu 0.6 reports the highwater as
the last record batch's base offset + 1, so recovery would stop early (losing the
batch's other records) and the consistency check would refuse to start. This
replaces the highwater query with infra.offsets.log_end_offsets, which reads the
last batch; on Apache Kafka it returns the same numbers as the plain query.
"""
from __future__ import annotations

from confluent_kafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

from infra.offsets import log_end_offsets

_installed = False


def install(bootstrap: str) -> None:
    global _installed
    if _installed:
        return
    original = faust_aiokafka.AIOKafkaConsumerThread._highwaters

    async def _highwaters(self, partitions):
        reported = await original(self, partitions)
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
        true_ends = log_end_offsets(bootstrap, wanted)
        return {tp: max(reported.get(tp) or 0, true_ends[(tp.topic, tp.partition)][1]) for tp in partitions}

    faust_aiokafka.AIOKafkaConsumerThread._highwaters = _highwaters
    _installed = True
