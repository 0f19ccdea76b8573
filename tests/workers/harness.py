"""Run real worker processes against the test broker, and read their tables back
from the changelog topics (the same bytes a recovering worker would read)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from infra.kafka import consumer_config, producer_config
from infra.offsets import group_lag
from infra.readback import read_to_end
from schemas.codec import decode, encode
from workers.state import loads as state_loads

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(self, bootstrap: str, app_id: str, data_dir: Path, worker_id: str = "0", web_port: int = 0,
                 extra_env: dict | None = None, command: list[str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "cli.main", "worker", "--loglevel",
                                   os.environ.get("BACKOFFICE_TEST_WORKER_LOGLEVEL", "warn")]
        self.bootstrap, self.app_id, self.data_dir, self.worker_id = bootstrap, app_id, data_dir, worker_id
        self.log_path = data_dir / f"worker-{worker_id}.log"
        self.web_port = web_port
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "BACKOFFICE_APP_ID": self.app_id,
               "BACKOFFICE_DATA_DIR": str(self.data_dir), "BACKOFFICE_WORKER_ID": self.worker_id,
               "BACKOFFICE_WEB": "1" if self.web_port else "0", "BACKOFFICE_WEB_PORT": str(self.web_port or 6066),
               "PYTHONPATH": str(ROOT), **self.extra_env}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def kill9(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def produce(bootstrap: str, messages: list[tuple[str, bytes, bytes]]) -> None:
    producer = Producer(producer_config(bootstrap))
    for topic, key, value in messages:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def produce_records(bootstrap: str, items: list[tuple[str, str, str, dict]]) -> None:
    """(topic, key, schema, record) -> encoded and produced in order."""
    produce(bootstrap, [(t, k.encode(), encode(s, r)) for t, k, s, r in items])


def read_table(bootstrap: str, app_id: str, table: str) -> dict:
    """Latest value per key of a table, from its changelog (None values are deletions)."""
    state: dict = {}
    for msg in read_to_end(bootstrap, f"{app_id}-{table}-changelog"):
        value = msg.value()
        if value is None:
            state.pop(msg.key(), None)
        else:
            state[msg.key()] = state_loads(value)
    return state


def records_by(bootstrap: str, topic: str, field: str, wanted) -> dict[str, list[dict]]:
    """The decoded records of `topic` whose `field` is one of `wanted`, grouped by it, in topic order."""
    found: dict[str, list[dict]] = {}
    for m in read_to_end(bootstrap, topic):
        rec = decode(m.value()).record
        if rec[field] in wanted:
            found.setdefault(rec[field], []).append(rec)
    return found


def wait_until(predicate, timeout: float, interval: float = 0.5, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # topic not created yet, etc.
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last: {last!r}")


def wait_while_moving(predicate, progress, idle: float, cap: float, interval: float = 2.0,
                      message: str = "condition"):
    """Like wait_until, but a slow system is not a failure: wait as long as `progress()` (any value
    that changes when the system under test does work) keeps changing, and fail once it has stood
    still for `idle` seconds (stuck: a real problem) or after `cap` seconds in all."""
    start = time.monotonic()
    moved, seen, last = start, None, None
    while (now := time.monotonic()) - start < cap:
        try:
            last = predicate()
            if last:
                return last
            mark = progress()
            if mark != seen:
                moved, seen = now, mark
        except Exception as exc:  # topic not created yet, etc.
            last = exc
        if now - moved > idle:
            raise AssertionError(f"nothing moved for {idle}s (progress: {seen!r}) waiting for {message}; "
                                 f"last: {last!r}")
        time.sleep(interval)
    raise AssertionError(f"still moving but not done after {cap}s waiting for {message}; last: {last!r}")


def committed_total(bootstrap: str, group: str, topics: list[str], timeout: float = 10.0) -> int:
    """The sum of a consumer group's committed offsets over the topics: it grows as the group works."""
    consumer = Consumer(consumer_config(bootstrap, group))
    try:
        parts = [TopicPartition(t, p) for t in topics
                 for p in consumer.list_topics(t, timeout=timeout).topics[t].partitions]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=timeout))
    finally:
        consumer.close()


def wait_drained(bootstrap: str, group: str, topics: list[str], timeout: float = 120) -> None:
    wait_until(lambda: group_lag(bootstrap, group, topics) == 0, timeout, interval=1.0,
               message=f"group {group} to drain {topics}")
