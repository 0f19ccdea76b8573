"""Demo stages that need the worker: run it, close windows with a demo clock, record
PDFs, send the automatic ones to a local SMTP sink, and print the batches."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import click

from infra.offsets import group_lag
from workers.names import ingest_topics
from infra.readback import read_to_end
from backoffice.figures import batch_amounts
from backoffice.model import LineCategory
from schemas.codec import decode
from schemas.mapping import invoice_from_record
from schemas.topics import BILLING_INVOICES, BILLING_OUTCOMES

ROOT = Path(__file__).resolve().parents[1]
DEMO_APP = "backoffice-demo"


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise click.ClickException(f"demo: timed out waiting for {what}")


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[str, list[str]]] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        from infra.broker import free_port

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpSink":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


DEMO_TOKEN = "demo-token"


def _spawn(run, args: list[str], env: dict, log_name: str) -> subprocess.Popen:
    log = open(run.out_dir / log_name, "wb")
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def start_worker(run) -> list[subprocess.Popen]:
    """The worker, the projector filling the read model (SQLite in the demo folder) and the ops API
    (`backoffice api`) answering from it: the demo's List Batches comes from the API."""
    from infra.broker import free_port

    run.facts["api"] = f"http://127.0.0.1:{free_port()}"
    for leftover in ("state", "documents", "sent-log", "exports", "read-side"):  # a previous demo's state and PDFs
        shutil.rmtree(run.out_dir / leftover, ignore_errors=True)
    (run.out_dir / "read-side").mkdir(parents=True)
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": run.bootstrap, "BACKOFFICE_APP_ID": DEMO_APP,
           "BACKOFFICE_DATA_DIR": str(run.out_dir / "state"), "BACKOFFICE_WEB": "1",
           "BACKOFFICE_WEB_PORT": str(free_port()), "BACKOFFICE_WEB_HOST": "127.0.0.1",
           "BACKOFFICE_DOCUMENT_STORE": str(run.out_dir / "documents"),
           "BACKOFFICE_SENT_LOG": str(run.out_dir / "sent-log"), "BACKOFFICE_ORPHAN_GRACE_SECONDS": "0",
           # grace 0 means "at the window's collection": no sweep may expire an event mid-backlog
           "BACKOFFICE_PARKED_SWEEP_SECONDS": "3600",
           "BACKOFFICE_SMTP_PORT": str(run.facts["smtp"].port), "BACKOFFICE_SMTP_ATTEMPTS": "2",
           "BACKOFFICE_SMTP_BACKOFF_SECONDS": "0.1", "BACKOFFICE_SCHEDULER_INTERVAL": "3600",
           "BACKOFFICE_CLOCK": run.facts["clock"].isoformat(), "PYTHONPATH": str(ROOT)}
    read_side = {**env, "BACKOFFICE_DATA_DIR": str(run.out_dir / "read-side"),
                 "BACKOFFICE_DATABASE_URL": f"sqlite:///{(run.out_dir / 'read-side' / 'readmodel.sqlite3').resolve()}",
                 "BACKOFFICE_PROJECTOR_GROUP": f"{DEMO_APP}-projector", "BACKOFFICE_API_HOST": "127.0.0.1",
                 "BACKOFFICE_API_PORT": run.facts["api"].rsplit(":", 1)[1],
                 "BACKOFFICE_OPS_TOKENS": json.dumps({DEMO_TOKEN: "*"})}
    return [_spawn(run, ["worker", "--loglevel", "warn"], env, "worker.log"),
            _spawn(run, ["projector"], read_side, "projector.log"), _spawn(run, ["api"], read_side, "api.log")]


def stop_worker(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def stage_worker_ingest(run) -> None:
    _wait(lambda: group_lag(run.bootstrap, DEMO_APP, ingest_topics(DEMO_APP)) == 0,
          180, "the worker to ingest the ATS events")
    click.echo("\nworker ingested every ATS event (consumer lag 0)")


def stage_close_windows(run) -> None:
    """The demo clock: close each weekly window of the simulated weeks, then generate the rest on demand."""
    from cli.operator import command_record, publish_many_and_wait

    tenants = sorted({e.record["tenant_id"] for e in run.facts["stream"].events if e.record})
    first_week_end = run.start + dt.timedelta(days=6)
    outcomes = defaultdict(list)
    rounds = []
    for week in range(run.weeks):
        window = f"WEEKLY:{first_week_end + dt.timedelta(weeks=week)}"
        rounds.append([command_record(t, "CLOSE_WINDOW", command_id=f"close:{t}:{window}", window_id=window)
                       for t in tenants])
    for records in rounds:
        answered = publish_many_and_wait(run.bootstrap, records, 120)
        for r in records:
            outcomes[r["tenant_id"]].append(answered.get(r["command_id"]))
    stage_pending(run, tenants)
    rounds = []
    # then semi-monthly, monthly and manual accounts: Generate Invoices on demand
    rounds.append([command_record(t, "GENERATE", command_id=f"demo-generate:{t}", as_of=run.facts["clock"].date())
                   for t in tenants])
    for records in rounds:
        answered = publish_many_and_wait(run.bootstrap, records, 120)
        for r in records:
            outcomes[r["tenant_id"]].append(answered.get(r["command_id"]))
    run.facts["outcomes"] = outcomes
    click.echo(f"closed {run.weeks} weekly windows per tenant and ran Generate Invoices once per tenant")


def _latest_invoices(bootstrap: str) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for msg in read_to_end(bootstrap, BILLING_INVOICES):
        rec = decode(msg.value()).record
        if rec["invoice_id"] not in latest or rec["version"] >= latest[rec["invoice_id"]]["version"]:
            latest[rec["invoice_id"]] = rec
    return latest


def list_batches_row(tenant: str, batch_id: str, docs: list[dict]) -> str:
    """One List Batches row from the batch's invoice events: the domain's sums, as the ops API shows."""
    amounts = batch_amounts(invoice_from_record(d) for d in docs)
    ts, ps = amounts[LineCategory.TIMESHEETS], amounts[LineCategory.PRODUCTS_SERVICES]
    numbers = sorted(int(d["number"]) for d in docs)
    return (f"  {tenant:10} {batch_id[:22]:22} {len(docs):>5} {f'{numbers[0]}-{numbers[-1]}':>11} "
            f"{ts:>19,.2f} {ps:>28,.2f}")


def pending_rows(answer: dict) -> list[str]:
    """List Batches' Pending list, one row per account (seed 000), from the ops API's answer."""
    rows = []
    for a in answer["pending"]["accounts"]:
        rows.append(f"  {answer['tenant_id']:10} {a['account_name'][:24]:24} {a['pay_lines']:>5} "
                    f"{float(a['timesheets']):>19,.2f} {float(a['products_services']):>28,.2f}")
    return rows


def stage_pending(run, tenants) -> None:
    """The Pending list per account once the weekly windows closed (what Generate Invoices would take)."""
    import httpx

    def caught_up():
        try:
            return httpx.get(f"{run.facts['api']}/readyz", timeout=30).json().get("projector_behind") == 0
        except (httpx.HTTPError, ValueError):
            return False

    def fetch(tenant):
        try:
            r = httpx.get(f"{run.facts['api']}/api/v1/tenants/{tenant}/batches",
                          headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=30)
        except httpx.HTTPError:
            return None
        return r.json() if r.status_code == 200 else None

    _wait(caught_up, 120, "the read model to catch up with the billing topics (backoffice projector)")

    click.echo("\npending per account (List Batches, Pending):")
    click.echo(f"  {'tenant':10} {'account':24} {'lines':>5} {'Amount: Timesheets':>19} "
               f"{'Amount: Products & Services':>28}")
    for tenant in tenants:
        answer = _wait(lambda: fetch(tenant), 60, f"List Batches of {tenant} from the ops API")
        for row in pending_rows(answer):
            click.echo(row)


def stage_batches(run) -> None:
    ids = {i for outs in run.facts["outcomes"].values() for o in outs if o for i in o["invoice_ids"]}
    invoices = _wait(lambda: (inv := _latest_invoices(run.bootstrap)) and ids <= set(inv) and inv, 60,
                     "the invoice events")
    run.facts["invoices"] = {k: v for k, v in invoices.items() if k in ids}
    click.echo("\nbatches (List Batches):")
    click.echo(f"  {'tenant':10} {'batch':22} {'docs':>5} {'numbers':>11} {'Amount: Timesheets':>19} "
               f"{'Amount: Products & Services':>28}")
    for tenant, outs in sorted(run.facts["outcomes"].items()):
        for o in outs:
            if not o or not o["invoice_ids"]:
                continue
            docs = [run.facts["invoices"][i] for i in o["invoice_ids"]]
            click.echo(list_batches_row(tenant, o["batch_id"], docs))
    blocked = [o for outs in run.facts["outcomes"].values() for o in outs if o and not o["ok"]]
    for o in blocked:
        click.echo(f"  {o['tenant_id']}: blocked by the health check: {o['message']}")


def stage_record(run) -> None:
    """Record & Present the semi-automatic documents (automatic ones were recorded and emailed by the worker)."""
    from cli.operator import command_record, publish_many_and_wait

    todo = [d for d in run.facts["invoices"].values() if d["status"] == "NEW" and d["invoicing_mode"] != "AUTOMATIC"]
    publish_many_and_wait(run.bootstrap, [command_record(d["tenant_id"], "RECORD", invoice_id=d["invoice_id"])
                                          for d in todo], 300)
    latest = _latest_invoices(run.bootstrap)
    mine = [latest[i] for i in run.facts["invoices"]]
    statuses = defaultdict(int)
    for d in mine:
        statuses[d["status"]] += 1
    pdfs = sorted((run.out_dir / "documents").rglob("*.pdf"))
    click.echo(f"\ndocuments: {dict(statuses)}; {len(pdfs)} PDFs in {(run.out_dir / 'documents').resolve()}")
    click.echo(f"emails accepted by the local SMTP server: {len(run.facts['smtp'].messages)}")


def stage_lag(run) -> None:
    """The worker's consumer lag once everything is done: every partition at zero."""
    from ops.lag import format_table, snapshot

    groups = _wait(lambda: (g := snapshot(run.bootstrap, [DEMO_APP])) and all(x.total_lag == 0 for x in g) and g,
                   120, "the worker's lag to reach zero")
    for g in groups:        # the external topics' rows; internal ones are at zero too (checked above)
        g.partitions = [p for p in g.partitions if p.topic.startswith(("ats.", "billing."))]
    click.echo("\nconsumer lag (backoffice lag): every partition of every topic at zero")
    click.echo(format_table(groups))


#: the demo agencies' books: US companies (month-first dates) with a sales-tax item named as QuickBooks' default
DEMO_COMPANY = {"date_format": "MM/DD/YYYY", "sales_tax_item": "Sales Tax"}


def stage_exports(run) -> None:
    """Offline AR/GL exports of every batch: QuickBooks Desktop IIF and Xero CSV, with the PDFs."""
    from connectors.export.bundle import build_zip
    from documents.store import LocalDocumentStore
    from schemas.mapping import invoice_from_record

    latest = _latest_invoices(run.bootstrap)
    mine = [latest[i] for i in run.facts["invoices"] if latest[i]["status"] != "VOID"]
    store = LocalDocumentStore(run.out_dir / "documents")
    out = run.out_dir / "exports"
    out.mkdir(parents=True, exist_ok=True)
    batches: dict[str, list[dict]] = defaultdict(list)
    for rec in mine:
        batches[rec["batch_id"]].append(rec)

    def pdfs(doc):
        return [(f"{doc.number}-{i + 1}.pdf", store.get(uri))
                for i, uri in enumerate(latest[doc.invoice_id]["document_uris"])]

    written = 0
    for batch_id, recs in sorted(batches.items()):
        docs = [invoice_from_record(r) for r in recs]
        for fmt in ("iif", "xero-csv"):
            (out / f"{batch_id}-{fmt}.zip").write_bytes(build_zip(fmt, batch_id, docs, pdfs, DEMO_COMPANY))
            written += 1
    click.echo(f"\nexports: {written} zip files (QuickBooks IIF and Xero CSV per batch, PDFs included) "
               f"in {out.resolve()}")
