"""Topic administration on any Kafka: create every topic of the contract, idempotently."""
from __future__ import annotations

from typing import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from schemas.topics import TOPICS, TopicSpec


def create_topics(bootstrap: str, specs: Iterable[TopicSpec] | None = None, replication: int = 1,
                  timeout: float = 15.0) -> dict[str, str]:
    """Create missing topics; returns {name: "created" | "exists"}. Any other failure raises."""
    specs = list(TOPICS.values() if specs is None else specs)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    result = {s.name: "exists" for s in specs if s.name in existing}
    todo = [NewTopic(s.name, num_partitions=s.partitions, replication_factor=replication, config=s.all_configs())
            for s in specs if s.name not in existing]
    if not todo:
        return result
    for name, future in admin.create_topics(todo, request_timeout=timeout).items():
        try:
            future.result(timeout)
            result[name] = "created"
        except KafkaException as exc:
            if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                result[name] = "exists"
            else:
                raise
    return result


def partition_counts(bootstrap: str, names: Iterable[str], timeout: float = 10.0) -> dict[str, int]:
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=timeout)
    return {n: len(md.topics[n].partitions) for n in names if n in md.topics}


def topic_configs(bootstrap: str, names: Iterable[str], timeout: float = 10.0) -> dict[str, dict[str, str]]:
    """{topic: {config name: value}} as the broker reports them (DescribeConfigs)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resources = [ConfigResource(ResourceType.TOPIC, n) for n in names]
    out = {}
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        out[resource.name] = {k: v.value for k, v in future.result(timeout).items()}
    return out
