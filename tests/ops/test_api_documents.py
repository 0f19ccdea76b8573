"""Record and Send through the ops API (`backoffice api`, with a real worker and projector):
tenant isolation, refused templates, the timesheet report, and Send / Resend against a real SMTP
server (aiosmtpd)."""
import datetime as dt
import json

import httpx
import pytest

from documents.store import LocalDocumentStore
from infra.admin import create_topics
from infra.broker import free_port
from tests.api.stack import start_stack
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from tests.documents.pdfs import pdf_text
from tests.documents.smtp import RecordingHandler, SmtpServer
from tests.workers.harness import produce, wait_drained, wait_until
from tests.workers.test_pipeline import outcomes
from workers.names import ingest_topics

pytestmark = pytest.mark.integration
WEEK = dt.date(2026, 9, 6)
ROOT = {"Authorization": "Bearer root-token"}


def _command(bootstrap, base, tenant, name, body, headers=ROOT) -> dict:
    r = httpx.post(f"{base}/api/v1/tenants/{tenant}/commands/{name}?wait=90", json=body, headers=headers,
                   timeout=120)
    assert r.status_code == 202, r.text
    (command_id, outcome), = r.json()["outcomes"].items()
    if outcome is None:          # a busy machine: the outcome comes later than ?wait
        outcome = wait_until(lambda: outcomes(bootstrap, {command_id}).get(command_id), 120, message="outcome")
    return outcome


def _detail(base, tenant, invoice_id) -> dict:
    r = httpx.get(f"{base}/api/v1/tenants/{tenant}/invoices/{invoice_id}", headers=ROOT, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def worker(kafka_bootstrap, tmp_path_factory):
    create_topics(kafka_bootstrap)
    a, b = f"doca{free_port()}", f"docb{free_port()}"
    produce(kafka_bootstrap, [
        rec for t in (a, b) for rec in (
            (ATS_ACCOUNTS, f"{t}:acme".encode(), encode("AccountUpserted", account_record(t, "acme", "Acme"))),
            (ATS_PLACEMENTS, f"{t}:p1".encode(), encode("PlacementUpserted", placement_record(t, "p1", "acme"))),
            (ATS_TIMESHEETS, f"{t}:p1".encode(), encode("TimesheetApproved", timesheet_record(t, "p1", WEEK))))])
    data = tmp_path_factory.mktemp("api-docs")
    tokens = {"root-token": "*", "a-token": a}
    with SmtpServer(RecordingHandler()) as smtp:
        stack = start_stack(kafka_bootstrap, a, data, tokens, {
            "BACKOFFICE_SCHEDULER_INTERVAL": "3600",
            "BACKOFFICE_DOCUMENT_STORE": str(data / "docs"), "BACKOFFICE_SENT_LOG": str(data / "sent"),
            "BACKOFFICE_SMTP_PORT": str(smtp.port), "BACKOFFICE_SMTP_ATTEMPTS": "1",
            "BACKOFFICE_CLOCK": "2026-09-10T12:00:00+00:00"})
        try:
            base = stack.base
            wait_drained(kafka_bootstrap, a, ingest_topics(a))
            ids = {}
            for t in (a, b):
                outcome = _command(kafka_bootstrap, base, t, "generate", {"as_of": "2026-09-10"})
                assert outcome["ok"] and len(outcome["invoice_ids"]) == 1, outcome
                ids[t] = outcome["invoice_ids"][0]
                wait_until(lambda t=t: httpx.get(f"{base}/api/v1/tenants/{t}/invoices/{ids[t]}", headers=ROOT,
                                                 timeout=10).status_code == 200, 120, message="the invoice")
            yield {"base": base, "a": a, "b": b, "ids": ids, "smtp": smtp, "store": LocalDocumentStore(data / "docs")}
        finally:
            stack.stop()


def test_another_tenants_invoice_is_refused_and_left_alone(worker, kafka_bootstrap):
    base, a, b = worker["base"], worker["a"], worker["b"]
    theirs = worker["ids"][b]
    a_token = {"Authorization": "Bearer a-token"}
    from cli.operator import command_record, publish_many_and_wait

    for name, body in (("record", {"invoice_ids": [theirs]}), ("send", {"invoice_ids": [theirs]})):
        r = httpx.post(f"{base}/api/v1/tenants/{a}/commands/{name}", json=body, headers=a_token, timeout=30)
        assert r.status_code == 404 and r.json()["field"] == "invoice_id", r.text     # at the door, like a read
        # The same command published past the API (as the CLI does) is refused by the worker.
        record = command_record(a, name.upper(), invoice_id=theirs)
        outcome = publish_many_and_wait(kafka_bootstrap, [record], 30).get(record["command_id"]) or wait_until(
            lambda: outcomes(kafka_bootstrap, {record["command_id"]}).get(record["command_id"]), 120, message="outcome")
        assert not outcome["ok"] and outcome["tenant_id"] == a, outcome
        assert outcome["message"] == f"invoice {theirs} of tenant {a} is unknown"
    detail = _detail(base, b, theirs)
    assert detail["status"] == "NEW" and detail["document_uris"] == [] and len(detail["history"]) == 1
    assert all(theirs not in r.message["Message-ID"] for r in worker["smtp"].handler.received)


def test_an_unknown_template_is_refused_and_the_invoice_keeps_its_status(worker, kafka_bootstrap):
    base, b = worker["base"], worker["b"]
    invoice_id = worker["ids"][b]
    outcome = _command(kafka_bootstrap, base, b, "record", {"invoice_ids": [invoice_id], "template": "no-such"})
    assert not outcome["ok"] and "no-such" in outcome["message"], outcome
    detail = _detail(base, b, invoice_id)
    assert detail["status"] == "NEW" and detail["document_uris"] == []
    # the reason is the outcome's (above): a refusal emits no invoice event, so the read model's detail
    # shows an error only once an event carries it
    outcome = _command(kafka_bootstrap, base, b, "record", {"invoice_ids": [invoice_id]})
    assert outcome["ok"], "the worker carries on after the refusal"


def test_record_stores_the_timesheet_report_then_send_and_resend(worker, kafka_bootstrap):
    base, a, smtp = worker["base"], worker["a"], worker["smtp"]
    invoice_id = worker["ids"][a]
    outcome = _command(kafka_bootstrap, base, a, "record", {"invoice_ids": [invoice_id]})
    assert outcome["ok"] and "left out" not in outcome["message"], outcome
    uris = wait_until(lambda: (d := _detail(base, a, invoice_id))["status"] == "RECORDED" and d["document_uris"],
                      120, message="recorded")
    [report] = [u for u in uris if "timesheet_report" in u]
    text = " ".join(pdf_text(worker["store"].get(report)).split())
    for day in ("08/31/2026 Mon REG", "09/01/2026 Tue REG", "09/02/2026 Wed REG", "09/03/2026 Thu REG",
                "09/04/2026 Fri REG", "09/04/2026 Fri OT"):
        assert day in text, (day, text)

    def emails():
        return [r for r in smtp.handler.received if invoice_id in r.message["Message-ID"]]

    assert _command(kafka_bootstrap, base, a, "send", {"invoice_ids": [invoice_id]})["ok"]
    assert len(emails()) == 1 and emails()[0].rcpt_tos == ["ap-acme@example.com"]
    again = _command(kafka_bootstrap, base, a, "send", {"invoice_ids": [invoice_id]})
    assert again["ok"] and len(emails()) == 1, "a second Send without resend emails nobody"
    resent = _command(kafka_bootstrap, base, a, "send", {"invoice_ids": [invoice_id], "resend": True})
    assert resent["ok"] and len(emails()) == 2
    assert _detail(base, a, invoice_id)["status"] == "SENT"

    from click.testing import CliRunner

    from cli.main import _load_commands, cli

    _load_commands()
    runner, env = CliRunner(), {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    plain = runner.invoke(cli, ["send", "--tenant", a, invoice_id, "--timeout", "120", "--no-read-wait"], env=env)
    assert plain.exit_code == 0 and plain.output.startswith("OK"), plain.output
    assert len(emails()) == 2, "backoffice send without --resend emails nobody again"
    cli_resend = runner.invoke(cli, ["send", "--tenant", a, invoice_id, "--resend", "--timeout", "120", "--no-read-wait"], env=env)
    assert cli_resend.exit_code == 0 and cli_resend.output.startswith("OK"), cli_resend.output
    assert len(emails()) == 3
    both = runner.invoke(cli, ["send", "--tenant", a, invoice_id, "--resend", "--print"], env=env)
    assert both.exit_code == 2 and "--resend" in both.output
