"""The CLI reads against a live system: a worker and `backoffice projector` (subprocesses) on the
embedded broker, the commands run through click's CliRunner with the operator's settings. The
answers are checked against an independent read of the topics (billing.invoices,
billing.paylines, the dead-letter topics), not against readmodel's code."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys

import pytest
from click.testing import CliRunner

from infra.readback import read_to_end
from schemas.codec import decode
from schemas.topics import BILLING_INVOICES, BILLING_PAYLINES, DLQ_SUFFIX, TOPICS
from tests.readmodel.test_projector import publish_tenants, worker_env
from tests.workers.harness import WorkerProcess, wait_drained
from tests.workers.test_pipeline import AS_OF
from tests.conftest import broker_scope_or_module
from workers.names import ingest_topics

# ~60 s (a worker, a projector, PDF rendering): run by `make test-reliability`
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.reliability]


@pytest.fixture(scope=broker_scope_or_module)
def live(kafka_bootstrap, tmp_path_factory):
    name = f"rd{dt.datetime.now().strftime('%H%M%S%f')}"
    tmp = tmp_path_factory.mktemp("reads")
    rename = publish_tenants(kafka_bootstrap, name, tenants=1, placements=5, weeks=3, seed=5, bad_rate=0.2)
    env = {**worker_env(tmp), "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "BACKOFFICE_DATA_DIR": str(tmp / "cli"),
           "BACKOFFICE_DATABASE_URL": f"sqlite:///{tmp / 'readmodel.sqlite3'}",
           "BACKOFFICE_PROJECTOR_GROUP": f"{name}-projector"}
    worker = WorkerProcess(kafka_bootstrap, name, tmp, extra_env=worker_env(tmp)).start()
    projector = WorkerProcess(kafka_bootstrap, name, tmp, worker_id="projector", extra_env=env,
                              command=[sys.executable, "-m", "cli.main", "projector"]).start()
    try:
        wait_drained(kafka_bootstrap, name, ingest_topics(name))
        yield {"tenant": next(iter(rename.values())), "env": env, "worker": worker, "projector": projector}
    finally:
        projector.stop()
        worker.stop()


def run(live, *args, ok=True):
    from cli.main import _load_commands, cli

    _load_commands()
    result = CliRunner().invoke(cli, list(args), env=live["env"], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, f"{args}: {result.output}\nworker:\n{live['worker'].log()[-2000:]}\n" \
                                      f"projector:\n{live['projector'].log()[-2000:]}"
    return result


def topic_invoices(bootstrap, tenant) -> dict[str, dict]:
    last = {}
    for msg in read_to_end(bootstrap, BILLING_INVOICES):
        rec = decode(msg.value()).record
        if rec["tenant_id"] == tenant:
            last[rec["invoice_id"]] = rec
    return last


def newest_lines(bootstrap, tenant) -> dict[str, dict]:
    newest: dict[str, dict] = {}
    for msg in read_to_end(bootstrap, BILLING_PAYLINES):
        r = decode(msg.value()).record
        if r["tenant_id"] == tenant and r["version"] > newest.get(r["pay_line_id"], {}).get("version", 0):
            newest[r["pay_line_id"]] = r
    return newest


def test_cli_reads_answer_what_the_topics_say_and_see_their_own_writes(live, kafka_bootstrap, tmp_path):
    tenant = live["tenant"]
    out = run(live, "generate", "--tenant", tenant, "--as-of", AS_OF.isoformat(), "--timeout", "120").output
    assert out.startswith("OK"), out
    batch = out.split("  batch ", 1)[1].split(":", 1)[0]
    # read your writes: straight after generate, without letting the read wait for the projector
    listed = json.loads(run(live, "invoices", "--tenant", tenant, "--batch", batch, "--json", "--no-wait").output)
    oracle = {i: r for i, r in topic_invoices(kafka_bootstrap, tenant).items() if r["batch_id"] == batch}
    assert len(oracle) >= 2 and {x["invoice_id"]: (x["number"], x["status"], x["total"]) for x in listed} == {
        i: (r["number"], r["status"], str(r["total"])) for i, r in oracle.items()}

    invoice_id, rec = sorted(oracle.items())[0]
    number = rec["number"]
    detail = json.loads(run(live, "invoice", number, "--tenant", tenant, "--json").output)
    assert detail["invoice_id"] == invoice_id
    assert [(x["pay_line_id"], x["amount"]) for x in detail["lines"]] == [
        (x["pay_line_id"], str(x["amount"])) for x in rec["lines"]]
    assert [h["event_type"] for h in detail["history"]] == ["GENERATED"]

    # act by number, then read: the record is there at once, and the PDF is the recorded one
    assert run(live, "record", "--tenant", tenant, number, "--timeout", "120").output.startswith("OK")
    detail = json.loads(run(live, "invoice", number, "--tenant", tenant, "--json", "--no-wait").output)
    recorded = topic_invoices(kafka_bootstrap, tenant)[invoice_id]
    assert detail["status"] == recorded["status"] == "RECORDED"
    pdf = tmp_path / "out.pdf"
    run(live, "pdf", number, "--tenant", tenant, "-o", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF") and hashlib.sha256(pdf.read_bytes()).hexdigest() in \
        recorded["document_sha256"]
    refused = run(live, "void", "--tenant", tenant, "9999999", ok=False)
    assert refused.exit_code != 0 and f"tenant {tenant} has no invoice numbered 9999999" in refused.output

    newest = newest_lines(kafka_bootstrap, tenant)
    invoiced = json.loads(run(live, "lines", "--tenant", tenant, "--status", "INVOICED", "--json").output)
    assert {x["pay_line_id"] for x in invoiced} == {k for k, r in newest.items() if r["status"] == "INVOICED"}
    assert {x["invoice_number"] for x in invoiced} >= {number}
    batches = json.loads(run(live, "batches", "--tenant", tenant, "--json").output)
    assert {i["number"] for b in batches["batches"] if b["batch_id"] == batch for i in b["invoices"]} == {
        r["number"] for r in oracle.values()}
    letters = sum(1 for t in TOPICS if t.endswith(DLQ_SUFFIX) for msg in read_to_end(kafka_bootstrap, t)
                  if decode(msg.value()).record["tenant_id"] == tenant)
    assert letters and len(json.loads(run(live, "dead-letters", "--tenant", tenant, "--json").output)) == letters
    table = run(live, "invoices", "--tenant", tenant, "--batch", batch).output
    assert all(r["number"] in table for r in oracle.values())

    # void another invoice by number: its lines come back Pending; snooze one by its short id
    other_id, other = sorted(oracle.items())[1]
    assert run(live, "void", "--tenant", tenant, other["number"], "--timeout", "120").output.startswith("OK")
    # the ledger frees the lines after the void's outcome: the command waited for the read model to show it
    pending = {x["short_id"]: x for x in json.loads(run(live, "lines", "--tenant", tenant, "--status", "PENDING",
                                                        "--json", "--no-wait").output)}
    assert all(newest_lines(kafka_bootstrap, tenant)[x["pay_line_id"]]["status"] == "PENDING" for x in other["lines"])
    assert {x["pay_line_id"] for x in other["lines"]} <= {x["pay_line_id"] for x in pending.values()}
    short = next(s for s, x in sorted(pending.items()) if x["pay_line_id"] == other["lines"][0]["pay_line_id"])
    assert run(live, "snooze", short, "--timeout", "120").output.startswith("OK")
    assert [x["short_id"] for x in json.loads(run(live, "lines", "--tenant", tenant, "--status", "SNOOZED",
                                                  "--json").output)] == [short]
    assert newest_lines(kafka_bootstrap, tenant)[pending[short]["pay_line_id"]]["status"] == "SNOOZED"
    assert topic_invoices(kafka_bootstrap, tenant)[other_id]["status"] == "VOID"

    # no projector: the command's outcome is printed, with a clear word that reads lag behind
    live["projector"].stop()
    sent = run(live, "send", "--print", "--tenant", tenant, number, "--timeout", "10")
    assert "OK: " in sent.output and "the read model has not caught up in" in sent.output \
        and "is `backoffice projector` running" in sent.output
    stale = run(live, "invoice", number, "--tenant", tenant, "--timeout", "2", ok=False)
    assert stale.exit_code == 3 and "has not caught up in 2 s" in stale.output
