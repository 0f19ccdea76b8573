"""The connector runner's bookkeeping: jobs, per-partition offsets, and delivery reports.

An offset may be committed only once the outcome of its message (billing.sync result, dead
letter) is confirmed by the broker: `Deliveries` counts each job's produced messages and
calls `finish(job)` only when every one of them was delivered without error.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict, deque
from dataclasses import dataclass

from confluent_kafka import TopicPartition

from backoffice.model import Invoice
from infra.readback import read_to_end
from schemas.codec import DecodeError, decode
from schemas.mapping import invoice_from_record
from schemas.topics import BILLING_INVOICES

log = logging.getLogger(__name__)
BOOK_EVENTS, VOID_EVENTS = {"RECORDED", "SENT"}, {"VOIDED"}


def action_of(event_type: str) -> str:
    return "book" if event_type in BOOK_EVENTS else "void" if event_type in VOID_EVENTS else "skip"


@dataclass(eq=False)
class Job:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    action: str                      # "book" | "void" | "resync" | "skip"
    invoice: Invoice | None = None
    uris: tuple[str, ...] = ()
    force: bool = False              # RESYNC: book again although billing.sync shows it synced
    parent: Job | None = None        # the RESYNC command this re-sent job belongs to
    children: int = 0
    defers: int = 0                  # a credit memo waiting for the invoice it credits
    handled: bool = False            # no longer the current window's business
    command: dict | None = None

    def again(self, parent: Job) -> Job:
        return Job(self.topic, self.partition, self.offset, self.key, self.value, self.action, self.invoice,
                   self.uris, force=True, parent=parent)


class OffsetTracker:
    """Per partition: commit below the lowest offset still in flight."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, int], set[int]] = defaultdict(set)
        self.high: dict[tuple[str, int], int] = {}
        self.committed: dict[tuple[str, int], int] = {}

    def add(self, job: Job) -> None:
        key = (job.topic, job.partition)
        self.pending[key].add(job.offset)
        self.high[key] = max(self.high.get(key, -1), job.offset)

    def done(self, job: Job) -> None:
        self.pending[(job.topic, job.partition)].discard(job.offset)

    def to_commit(self) -> list[TopicPartition]:
        out = []
        for key, high in self.high.items():
            position = min(self.pending[key]) if self.pending[key] else high + 1
            if position > self.committed.get(key, -1):
                out.append(TopicPartition(key[0], key[1], position))
        return out

    def mark_committed(self, parts: list[TopicPartition]) -> None:
        for tp in parts:
            self.committed[(tp.topic, tp.partition)] = tp.offset


class Deliveries:
    """Produce on behalf of a job; the job is finished once all its messages are confirmed.

    Delivery callbacks may run in whichever thread polls the producer, so they only append
    to a deque; `settle()` (event-loop thread) does the bookkeeping."""

    def __init__(self, producer, finish) -> None:
        self.producer, self._finish = producer, finish
        self._open: dict[int, list] = {}            # id(job) -> [job, outstanding, first error]
        self._reports: deque = deque()

    def produce(self, job: Job, topic: str, key: bytes | None, value: bytes) -> None:
        entry = self._open.setdefault(id(job), [job, 0, None])
        entry[1] += 1
        self.producer.produce(topic, key=key, value=value,
                              on_delivery=lambda err, _msg, j=job: self._reports.append((j, err)))

    def settle(self) -> None:
        while self._reports:
            job, err = self._reports.popleft()
            entry = self._open.get(id(job))
            if entry is None:
                continue
            entry[1] -= 1
            entry[2] = entry[2] or err
            if entry[1] == 0:
                del self._open[id(job)]
                if entry[2] is None:
                    self._finish(job)
                else:        # not recorded: keep the offset uncommitted, a restart re-does it (idempotently)
                    log.error("outcome of %s[%d]@%d not stored: %s", job.topic, job.partition, job.offset, entry[2])

    def poll(self) -> None:
        self.producer.poll(0)
        self.settle()

    async def flush(self, timeout: float = 30.0) -> int:
        remaining = await asyncio.get_running_loop().run_in_executor(None, self.producer.flush, timeout)
        self.settle()
        return remaining

    @property
    def open(self) -> int:
        return len(self._open)


def sync_record(system: str, job: Job, outcome) -> dict:
    """The billing.sync event of a job's outcome; a RESYNC's is a fresh event, not a duplicate."""
    inv, ext = job.invoice, outcome.external
    event_id = f"{system}:{inv.invoice_id}:{inv.version}:{outcome.status.value}:{job.action}"
    if job.parent is not None:
        event_id += f":resync:{job.parent.command['command_id']}"
    return {"event_id": event_id, "tenant_id": inv.tenant_id, "occurred_at": dt.datetime.now(dt.timezone.utc),
            "invoice_id": inv.invoice_id, "number": inv.number, "system": system,
            "external_id": ext.external_id if ext else None, "status": outcome.status.value,
            "error": outcome.error, "attempts": outcome.attempts}


def latest_events(bootstrap: str, tenant: str) -> list[Job]:
    """billing.invoices from the start: the latest book/void event of each of the tenant's documents
    (what a RESYNC needs after a restart, when this process has not seen them)."""
    found: dict[str, Job] = {}
    try:
        for msg in read_to_end(bootstrap, BILLING_INVOICES):
            try:
                rec = decode(msg.value()).record
            except DecodeError:
                continue
            if rec["tenant_id"] == tenant and action_of(rec["event_type"]) != "skip":
                inv = invoice_from_record(rec)
                found[inv.invoice_id] = Job(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value(),
                                            action_of(rec["event_type"]), inv, tuple(rec.get("document_uris") or ()))
    except (RuntimeError, TimeoutError) as exc:
        log.warning("RESYNC: billing.invoices not re-read: %s", exc)
    return list(found.values())
