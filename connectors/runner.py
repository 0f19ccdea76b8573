"""`backoffice connector NAME`: billing.invoices -> one AR/GL system, each document once.

What is booked: a document is put into the books when it is Recorded (seed 003: Record
posts the invoice; fully automatic accounts are recorded, then sent, by the worker), so
RECORDED and SENT events book it if it is not booked yet; VOIDED voids a booked one.
GENERATED (still New, the AR clerk may not keep it) books nothing.

Exactly once: the runner skips documents billing.sync already shows SYNCED (read at start,
then kept from its own results), and the connectors make every write idempotent on the
vendor's side (deterministic request ids, lookup by number before re-creating), so a
replay after a crash -- even a kill -9 between the vendor's commit and our offset
commit -- books nothing twice. Offsets are committed per partition only below the lowest
document not finished yet.

Isolation: one queue and task per tenant. A rate limit, a slow vendor, a daily-limit pause
or a revoked grant (NEEDS_REAUTH: the tenant stops, its offsets stay uncommitted) only
holds that tenant's documents. After the retry budget (exponential backoff with jitter) a
document is reported FAILED and dead-lettered to connector.NAME.dlq with its bytes.
RESYNC commands on billing.commands re-send the latest known event of an invoice (or of
every invoice of a batch), still exactly once in the ledger.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer, TopicPartition
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from backoffice.model import Invoice
from connectors.base import (
    ConnectorError, ExternalDocument, NeedsReauthorization, OutgoingDocument, PermanentError, SyncOutcome,
    SyncStatus,
)
from connectors.registry import Registry
from infra.kafka import consumer_config, producer_config
from infra.readback import read_to_end
from ops import metrics
from schemas.codec import DecodeError, decode, encode
from schemas.mapping import dead_letter_record, invoice_from_record
from schemas.topics import BILLING_COMMANDS, BILLING_INVOICES, BILLING_SYNC, connector_dead_letter_topic

log = logging.getLogger(__name__)
BOOK_EVENTS, VOID_EVENTS = {"RECORDED", "SENT"}, {"VOIDED"}


@dataclass
class Job:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    action: str                      # "book" | "void" | "skip"
    invoice: Invoice | None = None
    uris: tuple[str, ...] = ()


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


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, ConnectorError) and not isinstance(exc, (NeedsReauthorization, PermanentError)) \
        and getattr(exc, "resume_at", None) is None


class ConnectorRunner:
    def __init__(self, system: str, bootstrap: str, registry: Registry, *, document_store=None,
                 attempts: int = 5, backoff_initial: float = 1.0, backoff_max: float = 60.0, batch: int = 50,
                 group: str | None = None) -> None:
        self.system, self.bootstrap, self.registry = system, bootstrap, registry
        self.documents = document_store
        self.attempts, self.backoff = attempts, (backoff_initial, backoff_max)
        self.batch, self.group = batch, group or f"backoffice-connector-{system}"
        self.synced: dict[str, ExternalDocument] = {}
        self.latest: dict[str, Job] = {}
        self.paused: dict[str, str] = {}
        self.offsets = OffsetTracker()
        self.queues: dict[str, asyncio.Queue] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.producer = Producer(producer_config(bootstrap))

    # -- state from billing.sync -------------------------------------------------------
    def load_synced(self) -> None:
        try:
            for msg in read_to_end(self.bootstrap, BILLING_SYNC):
                rec = decode(msg.value()).record
                if rec["system"] == self.system and rec["status"] == "SYNCED" and rec["external_id"]:
                    self.synced[rec["invoice_id"]] = ExternalDocument(self.system, rec["external_id"],
                                                                      rec["number"] or "", "INVOICE")
        except (RuntimeError, KeyError, DecodeError) as exc:        # an empty or new topic
            log.info("no sync history read: %s", exc)

    # -- routing -------------------------------------------------------------------------
    def route(self, msg) -> Job:
        job = Job(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value() or b"", "skip")
        self.offsets.add(job)
        try:
            rec = decode(job.value, topic=job.topic, partition=job.partition, offset=job.offset).record
        except DecodeError as exc:
            self._dead_letter(job, exc, "")
            self.offsets.done(job)
            return job
        if job.topic == BILLING_COMMANDS:
            self._resync(rec)
            self.offsets.done(job)
            return job
        tenant = rec["tenant_id"]
        if not self.registry.serves(tenant):
            self.offsets.done(job)
            return job
        invoice = invoice_from_record(rec)
        job.invoice, job.uris = invoice, tuple(rec.get("document_uris") or ())
        if rec["event_type"] in BOOK_EVENTS and invoice.invoice_id not in self.synced:
            job.action = "book"
        elif rec["event_type"] in VOID_EVENTS and invoice.invoice_id in self.synced:
            job.action = "void"
        if job.action == "skip":
            self.offsets.done(job)
            return job
        self.latest[invoice.invoice_id] = job
        self._queue(tenant).put_nowait(job)
        return job

    def _resync(self, rec: dict) -> None:
        if rec["command"] != "RESYNC" or not self.registry.serves(rec["tenant_id"]):
            return
        wanted = [j for i, j in self.latest.items() if i == rec.get("invoice_id")
                  or (rec.get("batch_id") and j.invoice and j.invoice.batch_id == rec["batch_id"])]
        for job in wanted:
            again = Job(job.topic, job.partition, job.offset, job.key, job.value, "book", job.invoice, job.uris)
            self.synced.pop(job.invoice.invoice_id, None)      # the vendor lookup keeps it exactly once
            self._queue(rec["tenant_id"]).put_nowait(again)

    def _queue(self, tenant: str) -> asyncio.Queue:
        if tenant not in self.queues:
            self.queues[tenant] = asyncio.Queue()
            self.tasks[tenant] = asyncio.create_task(self._tenant_loop(tenant), name=f"tenant-{tenant}")
        return self.queues[tenant]

    # -- one tenant ------------------------------------------------------------------------
    async def _tenant_loop(self, tenant: str) -> None:
        queue = self.queues[tenant]
        while tenant not in self.paused:
            jobs = [await queue.get()]
            while len(jobs) < self.batch and not queue.empty() and queue._queue[0].action == jobs[0].action:
                jobs.append(queue.get_nowait())
            try:
                await self._process(tenant, jobs)
            except NeedsReauthorization as exc:
                self.paused[tenant] = str(exc)
                for job in jobs:
                    self._result(job, SyncOutcome(job.invoice.invoice_id, SyncStatus.NEEDS_REAUTH, error=str(exc)))
                self.producer.flush(30)
                log.warning("tenant %s paused: %s", tenant, exc)       # its offsets stay uncommitted
            except Exception as exc:         # never let one tenant's surprise stop the process
                log.exception("tenant %s: %s", tenant, exc)
                for job in jobs:
                    self._fail(job, exc)

    async def _process(self, tenant: str, jobs: list[Job]) -> None:
        if jobs[0].action == "book":          # a RECORDED and a SENT of one document: book it once
            for job in [j for j in jobs if j.invoice.invoice_id in self.synced]:
                self.offsets.done(job)
            jobs = [j for j in jobs if j.invoice.invoice_id not in self.synced]
            unique = list({j.invoice.invoice_id: j for j in jobs}.values())
            kept = {id(j) for j in unique}
            dupes, jobs = [j for j in jobs if id(j) not in kept], unique
            if not jobs:
                return
            await self._call_and_report(tenant, jobs)
            for job in dupes:                  # done together with the one that was booked
                self.offsets.done(job)
            return
        await self._call_and_report(tenant, jobs)

    async def _call_and_report(self, tenant: str, jobs: list[Job]) -> None:
        connector = self.registry.connector(tenant)
        started = time.monotonic()
        while True:
            try:
                outcomes = await self._with_retries(lambda: self._call(connector, jobs))
                break
            except ConnectorError as exc:
                resume_at = getattr(exc, "resume_at", None)
                if resume_at is None:
                    if isinstance(exc, NeedsReauthorization):
                        raise
                    for job in jobs:
                        self._fail(job, exc)
                    return
                wait = max(0.0, (resume_at - dt.datetime.now(dt.timezone.utc)).total_seconds())
                log.warning("tenant %s paused by the vendor's daily limit for %.0fs", tenant, wait)
                await asyncio.sleep(wait)
        seconds = (time.monotonic() - started) / max(1, len(jobs))
        by_id = {o.invoice_id: o for o in outcomes}
        for job in jobs:
            outcome = by_id[job.invoice.invoice_id]
            metrics.record_sync(self.system, outcome.status.value, seconds)
            if outcome.status is SyncStatus.SYNCED:
                self.synced[job.invoice.invoice_id] = outcome.external
                self._result(job, outcome)
                self.offsets.done(job)
            else:
                self._fail(job, ConnectorError(outcome.error or "failed"), outcome)
        self.producer.flush(30)

    async def _with_retries(self, call):
        async for attempt in AsyncRetrying(stop=stop_after_attempt(self.attempts), reraise=True,
                                           wait=wait_exponential_jitter(*self.backoff),
                                           retry=retry_if_exception(_transient)):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    metrics.record_retry(self.system)
                return await call()

    async def _call(self, connector, jobs: list[Job]) -> list[SyncOutcome]:
        if jobs[0].action == "void":
            out = []
            for job in jobs:
                external = await connector.void(self.synced[job.invoice.invoice_id])
                out.append(SyncOutcome(job.invoice.invoice_id, SyncStatus.SYNCED, external=external))
            return out
        return await connector.sync_many([self._outgoing(job) for job in jobs])

    def _outgoing(self, job: Job) -> OutgoingDocument:
        pdf = name = None
        if self.documents is not None and job.uris:
            try:
                pdf, name = self.documents.get(job.uris[0]), f"{job.invoice.number or job.invoice.invoice_id}.pdf"
            except (OSError, KeyError) as exc:
                log.warning("no PDF for %s: %s", job.invoice.invoice_id, exc)
        credited = []
        for line in job.invoice.lines:
            ext = self.synced.get(line.credited_invoice_id or "")
            if ext is not None and ext.external_id not in credited:
                credited.append(ext.external_id)
        return OutgoingDocument(job.invoice, pdf, name, tuple(credited))

    # -- results -----------------------------------------------------------------------------
    def _result(self, job: Job, outcome: SyncOutcome) -> None:
        inv = job.invoice
        ext = outcome.external
        record = {"event_id": f"{self.system}:{inv.invoice_id}:{inv.version}:{outcome.status.value}:{job.action}",
                  "tenant_id": inv.tenant_id, "occurred_at": dt.datetime.now(dt.timezone.utc),
                  "invoice_id": inv.invoice_id, "number": inv.number, "system": self.system,
                  "external_id": ext.external_id if ext else None, "status": outcome.status.value,
                  "error": outcome.error, "attempts": outcome.attempts}
        self.producer.produce(BILLING_SYNC, key=inv.invoice_id.encode(), value=encode("SyncResult", record))

    def _fail(self, job: Job, exc: BaseException, outcome: SyncOutcome | None = None) -> None:
        self._result(job, outcome or SyncOutcome(job.invoice.invoice_id, SyncStatus.FAILED, error=str(exc)))
        self._dead_letter(job, exc, job.invoice.tenant_id)
        self.producer.flush(30)
        self.offsets.done(job)

    def _dead_letter(self, job: Job, exc: BaseException, tenant: str) -> None:
        record = dead_letter_record(topic=job.topic, partition=job.partition, offset=job.offset, key=job.key,
                                    value=job.value, error=exc, first_seen=dt.datetime.now(dt.timezone.utc),
                                    tenant_id=tenant)
        self.producer.produce(connector_dead_letter_topic(self.system), key=job.key,
                              value=encode("DeadLetter", record))

    # -- the loop ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.load_synced)
        consumer = Consumer(consumer_config(self.bootstrap, self.group, **{
            "enable.auto.commit": False, "auto.offset.reset": "earliest"}))
        consumer.subscribe([BILLING_INVOICES, BILLING_COMMANDS])
        try:
            while not stop.is_set():
                for msg in await loop.run_in_executor(None, consumer.consume, 500, 0.5):
                    if not msg.error():
                        self.route(msg)
                await asyncio.sleep(0)
                parts = self.offsets.to_commit()
                if parts:
                    try:
                        await loop.run_in_executor(None, lambda: consumer.commit(offsets=parts, asynchronous=False))
                        self.offsets.mark_committed(parts)
                    except Exception as exc:        # e.g. partitions moved in a rebalance: retried next round
                        log.info("commit deferred: %s", exc)
        finally:
            for task in self.tasks.values():
                task.cancel()
            await self.registry.aclose()
            consumer.close()
            self.producer.flush(10)
