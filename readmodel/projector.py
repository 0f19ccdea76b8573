"""`backoffice projector`: the thin consume loop around readmodel.rows (pure) and readmodel.store.

Positions come from the database on every assignment, never from Kafka commits: a batch's
rows and its offsets commit together, so a crash (kill -9 included) at any point leaves the
database at a batch boundary and the restart reads on from there. Any number of processes
may run in the group; each partition's rows are written by its current owner only.
"""
from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from sqlalchemy.engine import Engine

from infra.kafka import consumer_config
from readmodel import store
from readmodel.db import engine_for, migrate
from readmodel.rows import TOPICS_READ, Message, build

log = logging.getLogger(__name__)


class Projector:
    def __init__(self, bootstrap: str, engine: Engine, group: str, topics: tuple[str, ...] = TOPICS_READ,
                 batch_size: int = 5000, poll_seconds: float = 0.5) -> None:
        self.bootstrap, self.engine, self.group, self.topics = bootstrap, engine, group, topics
        self.batch_size, self.poll_seconds = batch_size, poll_seconds
        #: owned (topic, partition) -> the next offset the database holds for it (None: no row yet)
        self.owned: dict[tuple[str, int], int | None] = {}
        self.events = 0

    # -- assignment: positions from the database ---------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        held = store.positions(self.engine, self.group)
        for tp in partitions:
            known = held.get((tp.topic, tp.partition))
            self.owned[(tp.topic, tp.partition)] = known
            tp.offset = OFFSET_BEGINNING if known is None else known
        consumer.assign(partitions)
        log.info("projector %s: assigned %d partitions", self.group, len(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.owned.pop((tp.topic, tp.partition), None)
        consumer.unassign()

    def _reseek(self, consumer: Consumer) -> None:
        held = store.positions(self.engine, self.group)
        for key in list(self.owned):
            self.owned[key] = held.get(key)
            offset = held.get(key, OFFSET_BEGINNING)
            try:
                consumer.seek(TopicPartition(key[0], key[1], offset))
            except Exception as exc:   # noqa: BLE001 - not fetching it yet: the assignment's offset stands
                log.info("seek %s deferred: %s", key, exc)

    def _fresh(self, msg) -> bool:
        """Owned and not yet stored (after a re-seek, the consumer may hand back older messages)."""
        key = (msg.topic(), msg.partition())
        if key not in self.owned:
            return False
        start = self.owned[key]
        return start is None or msg.offset() >= start

    def step(self, consumer: Consumer) -> int:
        """One poll batch in one transaction; returns the events it stored."""
        messages = [Message(x.topic(), x.partition(), x.offset(), x.key(), x.value())
                    for x in consumer.consume(self.batch_size, self.poll_seconds) if not x.error() and self._fresh(x)]
        if not messages:
            return 0
        batch = build(messages, dt.datetime.now(dt.timezone.utc))
        start = {k: v for k, v in self.owned.items() if v is not None}
        try:
            store.store(self.engine, self.group, start, batch)
        except store.Fenced as exc:
            log.warning("%s; re-reading positions", exc)
            self._reseek(consumer)
            return 0
        for key, next_offset in batch.positions.items():
            if key in self.owned:
                self.owned[key] = next_offset
        self.events += len(messages)
        return len(messages)

    def run(self, stop: threading.Event) -> None:
        consumer = Consumer(consumer_config(self.bootstrap, self.group, **{
            "enable.auto.commit": False, "enable.partition.eof": False, "max.poll.interval.ms": 300000,
            "topic.metadata.refresh.interval.ms": 5000}))
        consumer.subscribe(list(self.topics), on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                self.step(consumer)
        finally:
            consumer.close()


def run_projector(bootstrap: str, url: str, group: str, batch_size: int = 5000) -> None:
    """Migrate, then project until SIGTERM/SIGINT."""
    from infra.admin import create_topics
    from schemas.topics import TOPICS

    engine = engine_for(url)
    migrate(engine)
    create_topics(bootstrap, [TOPICS[t] for t in TOPICS_READ])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    projector = Projector(bootstrap, engine, group, batch_size=batch_size)
    started = time.monotonic()
    log.warning("projector %s: projecting %d topics into %s", group, len(TOPICS_READ), engine.url.render_as_string())
    projector.run(stop)
    log.warning("projector %s: %d events in %.1fs", group, projector.events, time.monotonic() - started)
    engine.dispose()
