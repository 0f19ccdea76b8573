"""The projector against the real broker: a worker bills a simulated stream, then `backoffice
projector` (a real subprocess) projects the topics; its totals per tenant, per invoice and per
status equal an independent read of the topics, also after kill -9 mid-batch and a restart,
in SQLite and in a real PostgreSQL."""
from __future__ import annotations

import datetime as dt
import sys
from collections import Counter, defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest
import sqlalchemy as sa

from infra.admin import create_topics
from infra.readback import read_to_end
from readmodel import models as m
from readmodel.db import engine_for
from schemas.codec import decode
from schemas.topics import BILLING_INVOICES, BILLING_OUTCOMES, BILLING_PAYLINES, DLQ_SUFFIX, TOPICS
from simulator.generate import generate
from simulator.publish import publish
from tests.workers.harness import WorkerProcess, produce, wait_drained, wait_until
from tests.workers.test_pipeline import AS_OF, START, command, outcomes
from tests.conftest import broker_scope_or_module
from workers.names import ingest_topics

# ~90 s for the two lanes (a worker billing the stream, four projector processes per lane): run by
# `make test-reliability`; `make test` keeps the pure and store tests (both lanes, a few seconds).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]


def publish_tenants(kafka_bootstrap: str, name: str, **kw) -> dict[str, str]:
    """A simulated stream (simulator.generate(**kw)) published under tenant ids unique to `name`
    (the session's broker is shared); {simulated tenant: published tenant}."""
    create_topics(kafka_bootstrap)
    stream = generate(start=START, **kw)
    tenants = sorted({e.record["tenant_id"] for e in stream.events if e.record})
    rename = {t: f"{name}-{t}" for t in tenants}

    def retag(ev):
        if ev.record is None:
            return replace(ev, key=ev.key.replace(b"tenant-", f"{name}-tenant-".encode()))
        key = ev.key.decode()
        t, _, rest = key.partition(":")
        return replace(ev, key=f"{rename.get(t, t)}:{rest}".encode(),
                       record={**ev.record, "tenant_id": rename[ev.record["tenant_id"]]})

    stream.events = [retag(e) for e in stream.events]
    publish(stream, kafka_bootstrap)
    return rename


def worker_env(tmp) -> dict[str, str]:
    """A billing worker's settings (also what a CLI next to it needs: the document store)."""
    return {"BACKOFFICE_ORPHAN_GRACE_SECONDS": "0", "BACKOFFICE_PARKED_SWEEP_SECONDS": "3600",
            "BACKOFFICE_DOCUMENT_STORE": str(tmp / "docs"), "BACKOFFICE_SENT_LOG": str(tmp / "sent"),
            "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1", "BACKOFFICE_SCHEDULER_INTERVAL": "3600"}


@pytest.fixture(scope=broker_scope_or_module)
def billed(kafka_bootstrap, tmp_path_factory):
    """Two tenants' weeks of ATS events (some bad), billed by one worker: the topics to project."""
    name = f"rm{dt.datetime.now().strftime('%H%M%S%f')}"
    tmp = tmp_path_factory.mktemp("billed")
    rename = publish_tenants(kafka_bootstrap, name, tenants=2, placements=12, weeks=5, seed=11, bad_rate=0.3)
    worker = WorkerProcess(kafka_bootstrap, name, tmp, extra_env=worker_env(tmp)).start()
    try:
        wait_drained(kafka_bootstrap, name, ingest_topics(name))
        ids = {t: f"{t}-gen-1" for t in rename.values()}
        produce(kafka_bootstrap, [command(t, cid, "GENERATE", as_of=AS_OF) for t, cid in ids.items()])
        done = wait_until(lambda: (o := outcomes(kafka_bootstrap, set(ids.values()))) and len(o) == len(ids) and o,
                          120, message=f"generate outcomes; log:\n{worker.log()[-3000:]}")
        assert all(o["ok"] for o in done.values()), done
        wanted = sum(len(o["invoice_ids"]) for o in done.values())
        wait_until(lambda: len(topic_totals(kafka_bootstrap, set(rename.values()))["invoices"]) == wanted, 120,
                   message="the invoice events")
        wait_until(lambda: (t := topic_totals(kafka_bootstrap, set(rename.values())))["lines"].get("INVOICED"),
                   60, message="invoiced pay-line events")
    finally:
        worker.stop()
    return set(rename.values())


def topic_totals(bootstrap: str, tenants: set[str]) -> dict:
    """The independent side: read the topics and sum, without readmodel's code."""
    lines: dict[str, dict] = {}
    for msg in read_to_end(bootstrap, BILLING_PAYLINES):
        rec = decode(msg.value()).record
        if rec["tenant_id"] in tenants and rec["version"] >= lines.get(rec["pay_line_id"], {}).get("version", 0):
            lines[rec["pay_line_id"]] = rec
    invoices: dict[str, dict] = {}
    for msg in read_to_end(bootstrap, BILLING_INVOICES):
        rec = decode(msg.value()).record
        if rec["tenant_id"] in tenants:
            invoices[rec["invoice_id"]] = rec          # one partition per invoice: the last read is the newest
    oks = Counter()
    for msg in read_to_end(bootstrap, BILLING_OUTCOMES):
        rec = decode(msg.value()).record
        if rec["tenant_id"] in tenants:
            oks[(rec["tenant_id"], rec["ok"])] += 1
    letters = Counter()
    for topic in sorted(t for t in TOPICS if t.endswith(DLQ_SUFFIX)):
        for msg in read_to_end(bootstrap, topic):
            rec = decode(msg.value()).record
            if rec["tenant_id"] in tenants:
                letters[(rec["tenant_id"], topic, rec["error_type"])] += 1
    return _sums(lines.values(), invoices.values(), oks, letters, {
        i: sum((x["amount"] for x in r["lines"]), Decimal(0)) for i, r in invoices.items()})


def _sums(lines, invoices, oks, letters, invoice_lines) -> dict:
    per_status, per_tenant_invoiced = defaultdict(lambda: [0, Decimal(0)]), defaultdict(Decimal)
    for x in lines:
        per_status[x["status"]][0] += 1
        per_status[x["status"]][1] += x["amount"]
    per_invoice, inv_status, inv_tenant = {}, defaultdict(lambda: [0, Decimal(0)]), defaultdict(Decimal)
    for r in invoices:
        per_invoice[r["invoice_id"]] = (r["status"], r["number"], r["total"])
        inv_status[r["status"]][0] += 1
        inv_status[r["status"]][1] += r["total"]
        inv_tenant[r["tenant_id"]] += r["total"]
    for x in lines:
        if x["status"] == "INVOICED":
            per_tenant_invoiced[x["tenant_id"]] += x["amount"]
    return {"lines": {k: tuple(v) for k, v in per_status.items()}, "invoiced_by_tenant": dict(per_tenant_invoiced),
            "invoices": per_invoice, "invoice_status": {k: tuple(v) for k, v in inv_status.items()},
            "invoice_tenant": dict(inv_tenant), "invoice_lines": invoice_lines, "outcomes": dict(oks),
            "dead_letters": dict(letters)}


def db_totals(engine, tenants: set[str]) -> dict:
    with engine.connect() as c:
        lines = [r._asdict() for r in c.execute(sa.select(m.pay_lines).where(m.pay_lines.c.tenant_id.in_(tenants)))]
        invoices = [r._asdict() for r in c.execute(sa.select(m.invoices).where(m.invoices.c.tenant_id.in_(tenants)))]
        sums = dict(c.execute(sa.select(m.invoice_lines.c.invoice_id, sa.func.sum(m.invoice_lines.c.amount))
                              .where(m.invoice_lines.c.invoice_id.in_([r["invoice_id"] for r in invoices]))
                              .group_by(m.invoice_lines.c.invoice_id)).all())
        oks = Counter({(t, bool(ok)): n for t, ok, n in c.execute(
            sa.select(m.command_outcomes.c.tenant_id, m.command_outcomes.c.ok, sa.func.count())
            .where(m.command_outcomes.c.tenant_id.in_(tenants))
            .group_by(m.command_outcomes.c.tenant_id, m.command_outcomes.c.ok))})
        letters = Counter({(t, topic, e): n for t, topic, e, n in c.execute(
            sa.select(m.dead_letters.c.tenant_id, m.dead_letters.c.topic, m.dead_letters.c.error_type, sa.func.count())
            .where(m.dead_letters.c.tenant_id.in_(tenants))
            .group_by(m.dead_letters.c.tenant_id, m.dead_letters.c.topic, m.dead_letters.c.error_type))})
    for x in lines:
        x["amount"] = Decimal(x["amount"]).quantize(Decimal("0.01"))
    for r in invoices:
        r["total"] = Decimal(r["total"]).quantize(Decimal("0.01"))
    return _sums(lines, invoices, oks, letters, {i: Decimal(s).quantize(Decimal("0.01")) for i, s in sums.items()})


def projected_events(engine, group: str) -> int:
    with engine.connect() as c:
        return c.execute(sa.select(sa.func.coalesce(sa.func.sum(m.consumer_positions.c.next_offset), 0))
                         .where(m.consumer_positions.c.group_id == group)).scalar()


def test_projected_totals_equal_the_topics_after_kill_9_mid_batch(billed, kafka_bootstrap, db_url, tmp_path):
    expected = topic_totals(kafka_bootstrap, billed)
    assert expected["lines"] and expected["invoices"] and expected["dead_letters"] and expected["outcomes"]
    group = f"proj-{tmp_path.name}"
    env = {"BACKOFFICE_DATABASE_URL": db_url, "BACKOFFICE_PROJECTOR_GROUP": group, "BACKOFFICE_LOG_LEVEL": "INFO"}

    def projector(n):
        return WorkerProcess(kafka_bootstrap, group, tmp_path, worker_id=f"projector-{n}", extra_env=env,
                             command=[sys.executable, "-m", "cli.main", "projector", "--batch-size", "40"]).start()

    engine = engine_for(db_url)
    try:
        kills = 0
        for attempt in range(2):      # kill -9 while it is projecting: some batches stored, more to come
            proc = projector(attempt)
            try:
                wait_until(lambda: sa.inspect(engine).has_table("consumer_positions")
                           and projected_events(engine, group) > 0, 60,
                           message=f"first batches; log:\n{proc.log()[-3000:]}")
            except AssertionError:
                proc.kill9()
                raise
            before = projected_events(engine, group)
            proc.kill9()
            kills += db_totals(engine, billed) != expected     # killed before the end: a partial projection
            assert projected_events(engine, group) >= before
        procs = [projector(9), projector(10)]      # two processes of the group finish the job
        try:
            wait_until(lambda: db_totals(engine, billed) == expected, 180,
                       message=f"the projection to catch up; logs:\n{procs[0].log()[-3000:]}\n{procs[1].log()[-3000:]}")
        finally:
            for proc in procs:
                proc.stop()
        assert db_totals(engine, billed) == expected
        assert kills >= 1, "the projector finished before any kill -9: nothing was tested mid-batch"
    finally:
        engine.dispose()


def test_the_pay_line_events_agree_with_the_invoices(billed, kafka_bootstrap):
    """billing.paylines against billing.invoices, two outputs of separate code paths: each invoice's
    lines are exactly the pay lines whose newest event says INVOICED on it, amount for amount."""
    newest: dict[str, dict] = {}
    for msg in read_to_end(kafka_bootstrap, BILLING_PAYLINES):
        rec = decode(msg.value()).record
        if rec["tenant_id"] in billed and rec["version"] > newest.get(rec["pay_line_id"], {}).get("version", 0):
            newest[rec["pay_line_id"]] = rec
    on_invoice = defaultdict(dict)
    for rec in newest.values():
        if rec["status"] == "INVOICED":
            on_invoice[rec["invoice_id"]][rec["pay_line_id"]] = rec["amount"]
    invoices = {}
    for msg in read_to_end(kafka_bootstrap, BILLING_INVOICES):
        rec = decode(msg.value()).record
        if rec["tenant_id"] in billed:
            invoices[rec["invoice_id"]] = {x["pay_line_id"]: x["amount"] for x in rec["lines"]}
    assert invoices and dict(on_invoice) == invoices
    assert {r["status"] for r in newest.values()} >= {"INVOICED"}
