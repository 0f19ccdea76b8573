"""Replaying the same events through a real worker (nothing new to bill) keeps its memory flat
(issue 12: RSS grew ~20 MiB a round of 5,112 events until ~550 MiB).

The worker ingests a simulated stream once (warm-up), then the very same messages are
published again, round after round, as a careless upstream would resend them. Independent
checks: the worker's RSS from /proc after each drained round, and the ledgers table's
changelog, whose end offsets must not move (a replayed version writes nothing)."""
from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from infra.admin import create_topics
from infra.kafka import consumer_config
from infra.offsets import log_end_offsets
from simulator.generate import generate
from simulator.publish import publish
from tests.workers.harness import WorkerProcess, wait_drained
from tests.workers.oracle import prefixed
from workers.names import LEDGER_TABLE, ingest_topics

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ROUNDS, WARM_UP = 7, 2
#: Stated bound: after the warm-up rounds, RSS may grow at most this much per replayed round
#: of ~5,000 events (least-squares slope), and at most 3x that over all measured rounds.
MAX_MIB_PER_ROUND = 3.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def settled_rss(pid: int, seconds: float = 6) -> float:
    samples = []
    for _ in range(int(seconds)):
        samples.append(rss_mib(pid))
        time.sleep(1)
    return sorted(samples)[len(samples) // 2]


def slope(values: list[float]) -> float:
    n = len(values)
    mx, my = (n - 1) / 2, sum(values) / n
    return sum((i - mx) * (v - my) for i, v in enumerate(values)) / sum((i - mx) ** 2 for i in range(n))


def changelog_end(bootstrap: str, app_id: str) -> int:
    topic = f"{app_id}-{LEDGER_TABLE}-changelog"
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "rss-probe"}))
    parts = [TopicPartition(topic, p) for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]
    consumer.close()
    return sum(hi for _, hi in log_end_offsets(bootstrap, parts).values())


def test_replaying_the_same_events_keeps_rss_flat_and_writes_no_ledger(kafka_bootstrap, tmp_path, unique_name):
    create_topics(kafka_bootstrap)
    stream, _ = prefixed(generate(tenants=4, placements=190, weeks=12, seed=21, start=dt.date(2026, 6, 1)),
                         unique_name)
    assert 4000 < len(stream.events) < 7000, len(stream.events)
    app_id = unique_name
    worker = WorkerProcess(kafka_bootstrap, app_id, tmp_path / "w",
                           # the clock at the stream's start: no scheduled window is due, nothing is billed
                           extra_env={"BACKOFFICE_SCHEDULER_INTERVAL": "3600",
                                      "BACKOFFICE_CLOCK": "2026-06-01T00:00:00Z"}).start()
    try:
        rss, ends = [], []
        for n in range(ROUNDS):
            publish(stream, kafka_bootstrap)
            wait_drained(kafka_bootstrap, app_id, ingest_topics(app_id), 600)
            time.sleep(3)                                    # the last changelog writes and commits
            assert worker.alive(), worker.log()[-3000:]
            rss.append(settled_rss(worker.proc.pid))
            ends.append(changelog_end(kafka_bootstrap, app_id))
        measured = rss[WARM_UP:]
        report = f"RSS per round (MiB): {[round(x, 1) for x in rss]}; ledger changelog ends: {ends}"
        print(report)
        assert ends[1:] == [ends[0]] * (ROUNDS - 1), f"replayed events were written again; {report}"
        assert slope(measured) <= MAX_MIB_PER_ROUND, report
        assert max(measured) - measured[0] <= 3 * MAX_MIB_PER_ROUND, report
    finally:
        worker.stop(60)
