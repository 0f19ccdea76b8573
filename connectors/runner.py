"""`backoffice connector NAME`: billing.invoices -> one AR/GL system, each document once.

What is booked: a document is put into the books when it is Recorded (seed 003: Record
posts the invoice; fully automatic accounts are recorded, then sent, by the worker), so
RECORDED and SENT events book it if it is not booked yet; VOIDED voids a booked one.
GENERATED (still New, the AR clerk may not keep it) books nothing.

Exactly once: the runner skips documents billing.sync already shows SYNCED (read at start,
then kept from its own results), and the connectors make every write idempotent on the
vendor's side (deterministic request ids, lookup by number before re-creating), so a
replay after a crash -- even a kill -9 between the vendor's commit and our offset
commit -- books nothing twice. "Already synced?" is decided when the tenant's queue
processes the event (events of one document in order), never when it is routed, so a
VOIDED that arrives with its RECORDED voids what the RECORDED booked. Within a window
invoices are booked before credit memos; a memo whose invoice is not synced yet waits
(later events of that memo wait behind it) and fails if the invoice failed or never comes:
a linked memo is never booked unallocated. Offsets are committed per partition only below
the lowest message whose outcome the broker has not confirmed yet (runner_jobs.Deliveries).

Isolation: one queue and task per tenant. A rate limit, a slow vendor, a daily-limit pause
or a revoked grant (NEEDS_REAUTH: the tenant stops, its offsets stay uncommitted, and it
resumes once its token store holds a grant again -- checked periodically and on RESYNC)
only holds that tenant's documents. After the retry budget (exponential backoff with
jitter) a document is reported FAILED and dead-lettered to connector.NAME.dlq with its bytes.
RESYNC commands on billing.commands re-send the latest event of an invoice (or of every
invoice of a batch; billing.invoices is re-read when this process has not seen it), still
exactly once in the ledger, with a fresh SYNCED event.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time

from confluent_kafka import Consumer, KafkaException, Producer
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from backoffice.errors import CreditExceedsOpenAmount
from backoffice.figures import check_allocations
from backoffice.model import DocumentKind, DocumentStatus
from connectors.base import (
    ConnectorError, ExternalDocument, NeedsReauthorization, OutgoingDocument, PermanentError, SyncOutcome,
    SyncStatus,
)
from connectors.registry import Registry
from connectors.runner_jobs import Deliveries, Job, OffsetTracker, action_of, latest_events, sync_record
from infra.kafka import consumer_config, producer_config
from infra.readback import read_to_end
from ops import metrics
from ops.broker_watch import BrokerWatch
from ops.readiness import BrokerProbe
from schemas.codec import DecodeError, decode, encode
from schemas.mapping import dead_letter_record, invoice_from_record
from schemas.bounds import WrongSchema
from schemas.topics import (
    BILLING_COMMANDS, BILLING_INVOICES, BILLING_SYNC, TOPIC_SCHEMA, connector_dead_letter_topic,
)

__all__ = ["ConnectorRunner", "Job", "OffsetTracker"]
log = logging.getLogger(__name__)
CLIENT_LOG = logging.getLogger("librdkafka")     # its connection errors go through ops.broker_watch's gate


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, ConnectorError) and not isinstance(exc, (NeedsReauthorization, PermanentError)) \
        and getattr(exc, "resume_at", None) is None


def _credited(job: Job) -> list[str]:
    return list(dict.fromkeys(ln.credited_invoice_id for ln in job.invoice.lines if ln.credited_invoice_id))


class ConnectorRunner:
    def __init__(self, system: str, bootstrap: str, registry: Registry, *, document_store=None,
                 attempts: int = 5, backoff_initial: float = 1.0, backoff_max: float = 60.0, batch: int = 50,
                 group: str | None = None, reauth_check: float = 30.0, defer_limit: int = 8) -> None:
        self.system, self.bootstrap, self.registry = system, bootstrap, registry
        self.documents = document_store
        self.attempts, self.backoff = attempts, (backoff_initial, backoff_max)
        self.batch, self.group = batch, group or f"backoffice-connector-{system}"
        self.reauth_check, self.defer_limit = reauth_check, defer_limit
        self.synced: dict[str, ExternalDocument] = {}     # kind/number come from the event when used
        self.failed: set[str] = set()
        self.latest: dict[str, Job] = {}
        self.paused: dict[str, str] = {}
        self.front: dict[str, list[Job]] = {}             # per tenant: run before the queue (parked, released)
        self.held: dict[str, tuple[Job, list[Job]]] = {}  # document id -> (deferred memo, jobs behind it)
        self.wake: dict[str, asyncio.Event] = {}
        self.offsets = OffsetTracker()
        self.queues: dict[str, asyncio.Queue] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.producer = Producer(producer_config(bootstrap, logger=CLIENT_LOG))
        self.deliveries = Deliveries(self.producer, self._finish)

    # -- state from billing.sync -------------------------------------------------------
    def load_synced(self) -> None:
        try:
            for msg in read_to_end(self.bootstrap, BILLING_SYNC):
                rec = decode(msg.value()).record
                if rec["system"] != self.system:
                    continue
                if rec["status"] == "SYNCED" and rec["external_id"]:
                    self.synced[rec["invoice_id"]] = ExternalDocument(self.system, rec["external_id"],
                                                                      rec["number"] or "", "")
                    self.failed.discard(rec["invoice_id"])
                elif rec["status"] == "FAILED" and rec["invoice_id"] not in self.synced:
                    self.failed.add(rec["invoice_id"])
        except (RuntimeError, KeyError, DecodeError) as exc:        # an empty or new topic
            log.info("no sync history read: %s", exc)

    async def _load_synced_when_reachable(self, stop: asyncio.Event) -> bool:
        """billing.sync is read before anything is booked; a broker that does not answer is waited
        for (with backoff, said in the log), and a SIGTERM meanwhile stops at once (False)."""
        delay = 1.0
        while not stop.is_set():
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.load_synced)
                return True
            except KafkaException as exc:
                log.warning("broker %s unreachable (%s): billing.sync is read before anything is booked; "
                            "retrying in %.0f s", self.bootstrap, exc, delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except asyncio.TimeoutError:
                delay = min(delay * 2, 30.0)
        return False

    def _known(self, job: Job) -> ExternalDocument:
        """The synced document as void needs it: kind and number from our event (billing.sync
        does not carry the kind); a missing QBO SyncToken is looked up by the connector."""
        ext = self.synced[job.invoice.invoice_id]
        return dataclasses.replace(ext, kind=job.invoice.kind.value, number=ext.number or job.invoice.number or "")

    # -- routing -------------------------------------------------------------------------
    def route(self, msg) -> Job:
        job = Job(msg.topic(), msg.partition(), msg.offset(), msg.key(), msg.value() or b"", "skip")
        self.offsets.add(job)
        try:
            decoded = decode(job.value, topic=job.topic, partition=job.partition, offset=job.offset)
            if decoded.schema_name != TOPIC_SCHEMA.get(job.topic, decoded.schema_name):
                # e.g. a timesheet on billing.commands: its fields are not a command's (KeyError)
                raise WrongSchema(f"{job.topic} carries {TOPIC_SCHEMA[job.topic]} records, "
                                  f"got a {decoded.schema_name}")
            rec = decoded.record
        except (DecodeError, WrongSchema) as exc:
            self._dead_letter(job, exc, "")       # finished once the dead letter is confirmed
            return job
        tenant = rec["tenant_id"]
        if not self.registry.serves(tenant):
            self._finish(job)
        elif job.topic == BILLING_COMMANDS:
            if rec["command"] != "RESYNC":
                self._finish(job)
                return job
            job.action, job.command = "resync", rec
            self.wake.setdefault(tenant, asyncio.Event()).set()        # a paused tenant re-checks its grant
            self._queue(tenant).put_nowait(job)
        else:
            job.invoice, job.uris = invoice_from_record(rec), tuple(rec.get("document_uris") or ())
            job.action = action_of(rec["event_type"])
            if job.action == "skip":
                self._finish(job)
                return job
            self.latest[job.invoice.invoice_id] = job
            self._queue(tenant).put_nowait(job)
        return job

    def _finish(self, job: Job) -> None:
        job.handled = True
        if job.parent is None:
            self.offsets.done(job)
            return
        job.parent.children -= 1
        if job.parent.children == 0:
            self._finish(job.parent)

    def _queue(self, tenant: str) -> asyncio.Queue:
        if tenant not in self.queues:
            self.queues[tenant] = asyncio.Queue()
            self.tasks[tenant] = asyncio.create_task(self._tenant_loop(tenant), name=f"tenant-{tenant}")
        return self.queues[tenant]

    # -- RESYNC --------------------------------------------------------------------------
    def _wanted(self, tenant: str, rec: dict) -> list[Job]:
        return [j for i, j in self.latest.items() if j.invoice.tenant_id == tenant and
                (i == rec.get("invoice_id") or (rec.get("batch_id") and j.invoice.batch_id == rec["batch_id"]))]

    async def _resync(self, tenant: str, command: Job) -> None:
        rec = command.command
        wanted = self._wanted(tenant, rec)
        if rec.get("batch_id") or not wanted:
            for job in await asyncio.get_running_loop().run_in_executor(None, latest_events, self.bootstrap, tenant):
                mine = self.latest.get(job.invoice.invoice_id)
                if mine is None or (mine.partition, mine.offset) < (job.partition, job.offset):
                    self.latest[job.invoice.invoice_id] = job
            wanted = self._wanted(tenant, rec)
        command.children = len(wanted)
        for job in wanted:
            self._queue(tenant).put_nowait(job.again(command))
        if not wanted:
            log.info("RESYNC %s: no document found", rec.get("invoice_id") or rec.get("batch_id"))
            self._finish(command)
        command.handled = True

    # -- one tenant ------------------------------------------------------------------------
    async def _tenant_loop(self, tenant: str) -> None:
        queue = self.queues[tenant]
        while True:
            if tenant in self.paused:
                await self._await_reauthorization(tenant)
                continue
            jobs = await self._take(tenant, queue)
            try:
                await self._process(tenant, jobs)
            except NeedsReauthorization as exc:
                self.paused[tenant] = str(exc)
                parked = [j for j in jobs if not j.handled]
                self.front[tenant] = parked + self.front.get(tenant, [])
                for job in parked:          # reported, not finished: the offsets stay uncommitted
                    if job.invoice is not None:
                        self._result(job, SyncOutcome(job.invoice.invoice_id, SyncStatus.NEEDS_REAUTH,
                                                      error=str(exc)), tracked=False)
                await self.deliveries.flush()
                log.warning("tenant %s paused: %s", tenant, exc)
            except Exception as exc:         # never let one tenant's surprise stop the process
                log.exception("tenant %s: %s", tenant, exc)
                for job in jobs:
                    if not job.handled:
                        self._fail(job, exc)
                await self.deliveries.flush()

    async def _await_reauthorization(self, tenant: str) -> None:
        event = self.wake.setdefault(tenant, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), self.reauth_check)
        except asyncio.TimeoutError:
            pass
        event.clear()
        if await asyncio.get_running_loop().run_in_executor(None, self.registry.reauthorized, tenant):
            await self.registry.reset(tenant)
            del self.paused[tenant]
            log.info("tenant %s holds a grant again: resuming", tenant)

    async def _take(self, tenant: str, queue: asyncio.Queue) -> list[Job]:
        front = self.front.pop(tenant, [])
        jobs = front[:self.batch] if front else [await queue.get()]
        if front[self.batch:]:
            self.front[tenant] = front[self.batch:]
        while len(jobs) < self.batch and not queue.empty():
            jobs.append(queue.get_nowait())
        for job in jobs:
            job.handled = False
        return jobs

    async def _process(self, tenant: str, window: list[Job]) -> None:
        for command in [j for j in window if j.action == "resync"]:
            await self._resync(tenant, command)
        jobs = self._hold([j for j in window if j.action != "resync"])
        cut = next((i for i, j in enumerate(jobs) if j.action == "book" and any(
            e.action == "void" and e.invoice.invoice_id == j.invoice.invoice_id for e in jobs[:i])), len(jobs))
        jobs, rest = jobs[:cut], jobs[cut:]     # a booking after a void of the same document: next round
        books = [j for j in jobs if j.action == "book"]
        await self._book(tenant, [j for j in books if j.invoice.kind is not DocumentKind.CREDIT_MEMO])
        await self._book(tenant, [j for j in books if j.invoice.kind is DocumentKind.CREDIT_MEMO])
        await self._void(tenant, self._hold([j for j in jobs if j.action == "void"]))
        if rest:
            await self._process(tenant, rest)

    def _hold(self, jobs: list[Job]) -> list[Job]:
        """Events of a document whose credit memo waits for its invoice queue up behind it."""
        out = []
        for job in jobs:
            owner = self.held.get(job.invoice.invoice_id)
            if owner is not None and owner[0] is not job:
                owner[1].append(job)
                job.handled = True
            else:
                out.append(job)
        return out

    async def _book(self, tenant: str, jobs: list[Job]) -> None:
        todo, seen = [], set()
        for job in jobs:
            iid = job.invoice.invoice_id
            if (iid in self.synced and not job.force) or iid in seen:     # a RECORDED and a SENT: once
                self._finish(job)
                self._release(tenant, job)
                continue
            missing = [c for c in _credited(job) if c not in self.synced]
            refusal = None if missing else self._over_allocation(job)
            if refusal is not None:
                self._fail(job, PermanentError(refusal))
                self._release(tenant, job)
            elif not missing:
                seen.add(iid)
                todo.append(job)
            elif job.defers < self.defer_limit and not any(c in self.failed for c in missing):
                self._defer(tenant, job)
            else:
                self._fail(job, PermanentError(f"credit memo {job.invoice.number}: credited invoice(s) "
                                               f"{', '.join(missing)} not synced to {self.system}; "
                                               f"not booking it unallocated"))
                self._release(tenant, job)
        if todo:
            await self._call_and_report(tenant, todo, "book")
            for job in todo:
                self._release(tenant, job)
        await self.deliveries.flush()

    def _over_allocation(self, job: Job) -> str | None:
        """Why a credit memo may not be booked: it allocates more to an invoice than the invoice
        still has open after the memos already booked against it (backoffice.figures)."""
        memo = job.invoice
        if memo.kind is not DocumentKind.CREDIT_MEMO:
            return None
        originals = {c: self.latest[c].invoice for c in _credited(job) if c in self.latest}
        booked = [j.invoice for i, j in self.latest.items() if i in self.synced and j.invoice.kind is
                  DocumentKind.CREDIT_MEMO and j.invoice.status is not DocumentStatus.VOID]
        try:
            check_allocations(memo, originals, booked)
        except CreditExceedsOpenAmount as exc:
            return f"{exc.code}: {exc.reason}"
        return None

    def _defer(self, tenant: str, job: Job) -> None:
        job.defers += 1
        job.handled = True
        self.held.setdefault(job.invoice.invoice_id, (job, []))
        delay = min(self.backoff[1], self.backoff[0] * 2 ** (job.defers - 1))
        asyncio.get_running_loop().call_later(delay, self._queue(tenant).put_nowait, job)

    def _release(self, tenant: str, job: Job) -> None:
        owner = self.held.get(job.invoice.invoice_id)
        if owner is not None and owner[0] is job:
            del self.held[job.invoice.invoice_id]
            self.front[tenant] = self.front.get(tenant, []) + owner[1]

    async def _void(self, tenant: str, jobs: list[Job]) -> None:
        todo, seen = [], set()
        for job in jobs:
            if job.invoice.invoice_id not in self.synced or job.invoice.invoice_id in seen:   # nothing booked
                self._finish(job)
            else:
                seen.add(job.invoice.invoice_id)
                todo.append(job)
        if todo:
            await self._call_and_report(tenant, todo, "void")
            await self.deliveries.flush()

    async def _call_and_report(self, tenant: str, jobs: list[Job], action: str) -> None:
        connector = self.registry.connector(tenant)
        started = time.monotonic()
        while True:
            try:
                outcomes = await self._with_retries(lambda: self._call(connector, jobs, action))
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
                self.failed.discard(job.invoice.invoice_id)
                self._result(job, outcome)
            else:
                self._fail(job, ConnectorError(outcome.error or "failed"), outcome)

    async def _with_retries(self, call):
        async for attempt in AsyncRetrying(stop=stop_after_attempt(self.attempts), reraise=True,
                                           wait=wait_exponential_jitter(*self.backoff),
                                           retry=retry_if_exception(_transient)):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    metrics.record_retry(self.system)
                return await call()

    async def _call(self, connector, jobs: list[Job], action: str) -> list[SyncOutcome]:
        if action == "void":
            out = []
            for job in jobs:
                external = await connector.void(self._known(job))
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
        credited = tuple(dict.fromkeys(self.synced[c].external_id for c in _credited(job)))  # all synced: checked
        numbers = tuple(dict.fromkeys(self.synced[c].number for c in _credited(job) if self.synced[c].number))
        return OutgoingDocument(job.invoice, pdf, name, credited, numbers)

    # -- results -----------------------------------------------------------------------------
    def _result(self, job: Job, outcome: SyncOutcome, tracked: bool = True) -> None:
        key, value = job.invoice.invoice_id.encode(), encode("SyncResult", sync_record(self.system, job, outcome))
        if tracked:
            self.deliveries.produce(job, BILLING_SYNC, key, value)
        else:
            self.producer.produce(BILLING_SYNC, key=key, value=value)
        job.handled = True

    def _fail(self, job: Job, exc: BaseException, outcome: SyncOutcome | None = None) -> None:
        tenant = job.command["tenant_id"] if job.command else ""
        if job.invoice is not None:
            tenant = job.invoice.tenant_id
            if job.action == "book":
                self.failed.add(job.invoice.invoice_id)
            self._result(job, outcome or SyncOutcome(job.invoice.invoice_id, SyncStatus.FAILED, error=str(exc)))
        self._dead_letter(job, exc, tenant)

    def _dead_letter(self, job: Job, exc: BaseException, tenant: str) -> None:
        record = dead_letter_record(topic=job.topic, partition=job.partition, offset=job.offset, key=job.key,
                                    value=job.value, error=exc, first_seen=dt.datetime.now(dt.timezone.utc),
                                    tenant_id=tenant)
        self.deliveries.produce(job, connector_dead_letter_topic(self.system), record["original_key"],
                                encode("DeadLetter", record))
        metrics.DEAD_LETTERED.labels(job.topic, type(exc).__name__).inc()      # labelled by source, as the workers
        job.handled = True

    # -- the loop ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        if not await self._load_synced_when_reachable(stop):
            return
        consumer = Consumer(consumer_config(self.bootstrap, self.group, **{
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "logger": CLIENT_LOG}))
        consumer.subscribe([BILLING_INVOICES, BILLING_COMMANDS])
        watch = asyncio.create_task(BrokerWatch(BrokerProbe(self.bootstrap), f"connector {self.system}").run())
        try:
            while not stop.is_set():
                for msg in await loop.run_in_executor(None, consumer.consume, 500, 0.5):
                    if not msg.error():
                        self.route(msg)
                await asyncio.sleep(0)
                self.deliveries.poll()
                parts = self.offsets.to_commit()
                if parts:
                    try:
                        await loop.run_in_executor(None, lambda: consumer.commit(offsets=parts, asynchronous=False))
                        self.offsets.mark_committed(parts)
                    except Exception as exc:        # e.g. partitions moved in a rebalance: retried next round
                        log.info("commit deferred: %s", exc)
        finally:
            watch.cancel()
            for task in self.tasks.values():
                task.cancel()
            await self.registry.aclose()
            consumer.close()
            self.producer.flush(10)
