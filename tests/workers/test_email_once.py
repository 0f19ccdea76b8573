"""Fully-automatic invoices against an SMTP server that keeps each message and drops the line
before its 250 (finding 7: one of 12 automatic invoices was emailed three times): a real worker
emails each invoice exactly once, tells the operator, and refuses a plain Send afterwards."""
from __future__ import annotations

import datetime as dt

import pytest

from infra.admin import create_topics
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS, BILLING_INVOICES
from simulator.records import account_record, placement_record, timesheet_record
from tests.documents.test_delivery_once import DroppingHandler
from tests.documents.smtp import SmtpServer
from tests.workers.harness import WorkerProcess, produce, records_by, wait_drained, wait_until
from tests.workers.test_pipeline import command, outcomes
from workers.names import ingest_topics

pytestmark = pytest.mark.integration
WEEK = dt.date(2026, 9, 6)
ACCOUNTS = ("acme", "globex", "initech")


def _events(bootstrap, invoice_ids, event_type):
    found = records_by(bootstrap, BILLING_INVOICES, "invoice_id", set(invoice_ids))
    return {i: [r for r in rs if r["event_type"] == event_type] for i, rs in found.items()}


def test_automatic_invoices_are_emailed_once_when_the_line_drops_before_the_250(kafka_bootstrap, tmp_path,
                                                                                unique_name):
    create_topics(kafka_bootstrap)
    t = unique_name
    produce(kafka_bootstrap, [
        rec for a in ACCOUNTS for rec in (
            (ATS_ACCOUNTS, f"{t}:{a}".encode(), encode("AccountUpserted",
                                                       account_record(t, a, a.title(), mode="AUTOMATIC"))),
            (ATS_PLACEMENTS, f"{t}:p-{a}".encode(), encode("PlacementUpserted", placement_record(t, f"p-{a}", a))),
            (ATS_TIMESHEETS, f"{t}:p-{a}".encode(), encode("TimesheetApproved", timesheet_record(t, f"p-{a}", WEEK))))])
    with SmtpServer(DroppingHandler(drop="before_reply")) as smtp:
        env = {"BACKOFFICE_SCHEDULER_INTERVAL": "3600", "BACKOFFICE_DOCUMENT_STORE": str(tmp_path / "docs"),
               "BACKOFFICE_SENT_LOG": str(tmp_path / "sent"), "BACKOFFICE_SMTP_PORT": str(smtp.port),
               "BACKOFFICE_SMTP_ATTEMPTS": "4", "BACKOFFICE_SMTP_BACKOFF_SECONDS": "0.05",
               "BACKOFFICE_SMTP_TIMEOUT_SECONDS": "10", "BACKOFFICE_CLOCK": "2026-09-10T12:00:00+00:00"}
        worker = WorkerProcess(kafka_bootstrap, t, tmp_path, extra_env=env).start()
        try:
            wait_drained(kafka_bootstrap, t, ingest_topics(t))
            produce(kafka_bootstrap, [command(t, f"{t}-gen", "GENERATE", as_of=dt.date(2026, 9, 10))])
            generated = wait_until(lambda: outcomes(kafka_bootstrap, {f"{t}-gen"}), 120, message="generate outcome")
            invoice_ids = generated[f"{t}-gen"]["invoice_ids"]
            assert len(invoice_ids) == len(ACCOUNTS), generated
            # Each automatic send has ended (SEND_FAILED: unconfirmed) before anything is counted.
            failed = wait_until(lambda: (e := _events(kafka_bootstrap, invoice_ids, "SEND_FAILED"))
                                and all(e.get(i) for i in invoice_ids) and e, 180,
                                message=f"the sends to end; log:\n{worker.log()[-2000:]}")
            per_invoice = {i: sum(i in r.message["Message-ID"] for r in smtp.handler.received) for i in invoice_ids}
            assert per_invoice == {i: 1 for i in invoice_ids}, per_invoice
            assert all("not sent again" in failed[i][-1]["error"] for i in invoice_ids), failed
            worker.stop()

            worker = WorkerProcess(kafka_bootstrap, t, tmp_path, extra_env=env).start()    # a restart replays
            first = invoice_ids[0]
            produce(kafka_bootstrap, [command(t, f"{t}-send", "SEND", invoice_id=first)])
            plain = wait_until(lambda: outcomes(kafka_bootstrap, {f"{t}-send"}), 180, message="send outcome")
            assert not plain[f"{t}-send"]["ok"] and "resend" in plain[f"{t}-send"]["message"], plain
            smtp.handler.drop = "none"
            produce(kafka_bootstrap, [command(t, f"{t}-resend", "SEND", invoice_id=first, resend=True)])
            resent = wait_until(lambda: outcomes(kafka_bootstrap, {f"{t}-resend"}), 120, message="resend outcome")
            assert resent[f"{t}-resend"]["ok"], resent
            per_invoice = {i: sum(i in r.message["Message-ID"] for r in smtp.handler.received) for i in invoice_ids}
            assert per_invoice == {i: 2 if i == first else 1 for i in invoice_ids}, per_invoice
        finally:
            worker.stop()
