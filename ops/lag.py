"""Consumer lag of the project's groups, the way `kafka-consumer-groups --describe` shows it,
plus a Burrow-style verdict per group from a sliding window of samples (ops/verdict.py).

Works against any Kafka (confluent-kafka's AdminClient); log ends come from
infra.offsets, which corrects the embedded broker's under-reported high watermark.
"""
from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from infra.offsets import log_end_offsets
from ops.verdict import GroupStatus, PartitionStatus, Sample, group_status, partition_status

PROJECT_TOPIC_PREFIXES = ("ats.", "billing.")
CONNECTOR_GROUP_PREFIX = "backoffice-connector-"
ACTIVE_STATES = {"STABLE", "PREPARING_REBALANCE", "COMPLETING_REBALANCE"}
COLUMNS = ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST",
           "CLIENT-ID")


@dataclass(frozen=True, slots=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int            # -1: never committed
    log_end: int
    lag: int
    consumer_id: str = "-"
    host: str = "-"
    client_id: str = "-"


@dataclass(slots=True)
class GroupLag:
    group: str
    state: str
    partitions: list[PartitionLag]
    status: GroupStatus = GroupStatus.OK
    partition_status: dict[str, str] = field(default_factory=dict)     # "topic[p]" -> status

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def consumers_present(self) -> bool:
        return self.state in ACTIVE_STATES


def _admin(bootstrap: str) -> AdminClient:
    # log_level 0: a broker that is gone is reported once by the lag poller, not every second by librdkafka
    return AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 5000, "log_level": 0})


def _committed(admin: AdminClient, group: str, timeout: float) -> dict[tuple[str, int], int]:
    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=timeout)
    result = futures[group].result(timeout)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or [] if tp.error is None}


def project_groups(bootstrap: str, timeout: float = 10.0) -> list[str]:
    """Worker app groups (they commit ats.* / billing.* offsets) and the connector groups."""
    admin = _admin(bootstrap)
    listed = admin.list_consumer_groups(request_timeout=timeout).result(timeout)
    out = []
    for g in sorted(x.group_id for x in listed.valid):
        if g.startswith(CONNECTOR_GROUP_PREFIX):
            out.append(g)
            continue
        committed = _committed(admin, g, timeout)
        if any(t.startswith(PROJECT_TOPIC_PREFIXES) for t, _ in committed):
            out.append(g)
    return out


def snapshot(bootstrap: str, groups: list[str] | None = None, timeout: float = 10.0) -> list[GroupLag]:
    admin = _admin(bootstrap)
    groups = groups if groups is not None else project_groups(bootstrap, timeout)
    if not groups:
        return []
    described = admin.describe_consumer_groups(groups, request_timeout=timeout)
    out: list[GroupLag] = []
    for group in groups:
        committed = _committed(admin, group, timeout)
        try:
            desc = described[group].result(timeout)
            state = desc.state.name if desc.state is not None else "UNKNOWN"
            owners = {(tp.topic, tp.partition): m for m in desc.members or [] if m.assignment
                      for tp in m.assignment.topic_partitions}
        except Exception:          # a group that vanished between list and describe
            state, owners = "DEAD", {}
        topics = sorted({t for t, _ in committed})
        parts = _all_partitions(admin, topics, timeout)
        ends = log_end_offsets(bootstrap, [TopicPartition(t, p) for t, p in parts], timeout) if parts else {}
        rows = []
        for key in sorted(parts):
            low, high = ends.get(key, (0, 0))
            done = committed.get(key, -1)
            lag = max(0, high - (done if done >= 0 else low))
            member = owners.get(key)
            rows.append(PartitionLag(group, key[0], key[1], done, high, lag,
                                     member.member_id if member else "-", member.host if member else "-",
                                     member.client_id if member else "-"))
        out.append(GroupLag(group, state, rows))
    return out


def _all_partitions(admin: AdminClient, topics: list[str], timeout: float) -> list[tuple[str, int]]:
    if not topics:
        return []
    md = admin.list_topics(timeout=timeout)
    return [(t, p) for t in topics if t in md.topics for p in md.topics[t].partitions]


class LagMonitor:
    """Keeps the last `window` samples per partition and judges each group."""

    def __init__(self, bootstrap: str, groups: list[str] | None = None, window: int = 5) -> None:
        self.bootstrap, self.groups, self.window = bootstrap, groups, window
        self.history: dict[tuple[str, str, int], deque[Sample]] = defaultdict(lambda: deque(maxlen=window))

    def sample(self) -> list[GroupLag]:
        groups = snapshot(self.bootstrap, self.groups)
        for g in groups:
            statuses: list[PartitionStatus] = []
            for p in g.partitions:
                hist = self.history[(g.group, p.topic, p.partition)]
                hist.append(Sample(p.committed, p.lag))
                status = partition_status(list(hist), g.consumers_present, self.window)
                statuses.append(status)
                if status is not PartitionStatus.OK:
                    g.partition_status[f"{p.topic}[{p.partition}]"] = status.value
            g.status = group_status(statuses)
        return groups


def format_table(groups: list[GroupLag]) -> str:
    lines = []
    for g in groups:
        lines.append(f"GROUP {g.group}  STATE {g.state}  LAG {g.total_lag}  VERDICT {g.status.value}"
                     + (f"  ({', '.join(f'{k} {v}' for k, v in sorted(g.partition_status.items()))})"
                        if g.partition_status else ""))
        rows = [COLUMNS] + [(p.group, p.topic, str(p.partition), str(p.committed) if p.committed >= 0 else "-",
                             str(p.log_end), str(p.lag), p.consumer_id, p.host, p.client_id) for p in g.partitions]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.append("")
    return "\n".join(lines) if lines else "no consumer groups of the project found"


def as_json(groups: list[GroupLag]) -> list[dict]:
    return [{"group": g.group, "state": g.state, "verdict": g.status.value, "total_lag": g.total_lag,
             "partition_status": g.partition_status, "partitions": [asdict(p) for p in g.partitions]} for g in groups]


def print_lag_table(bootstrap: str, groups: list[str] | None = None, echo=print) -> list[GroupLag]:
    result = LagMonitor(bootstrap, groups).sample()
    echo(format_table(result))
    return result


def watch(bootstrap: str, groups: list[str] | None, every: float, count: int | None, emit) -> None:
    monitor = LagMonitor(bootstrap, groups)
    n = 0
    while count is None or n < count:
        emit(monitor.sample())
        n += 1
        if count is None or n < count:
            time.sleep(every)
