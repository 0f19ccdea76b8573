"""End to end on the embedded broker: simulator -> worker -> invoices, with the simulator's
expected pay lines as the oracle."""
import datetime as dt
from collections import Counter

import pytest

from infra.admin import create_topics
from infra.readback import read_to_end
from schemas.codec import decode, encode
from schemas.topics import ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS, BILLING_COMMANDS, BILLING_INVOICES, BILLING_OUTCOMES, dead_letter_topic
from simulator.generate import generate
from simulator.publish import publish
from workers.names import ingest_topics
from tests.workers.harness import WorkerProcess, produce, records_by, wait_drained, wait_until
from tests.workers.oracle import assert_gapless, assert_invoiced_exactly_once, due_by

pytestmark = [pytest.mark.integration, pytest.mark.slow]
UTC = dt.timezone.utc
START = dt.date(2026, 9, 7)
AS_OF = dt.date(2026, 10, 12)


def command(tenant, cid, kind, **fields):
    rec = {"event_id": cid, "tenant_id": tenant, "occurred_at": dt.datetime(2026, 10, 12, tzinfo=UTC),
           "command_id": cid, "command": kind, "requested_by": "test", "pay_line_id": None, "placement_id": None,
           "account_id": None, "first_number": None, "as_of": None, "window_id": None, "invoice_id": None,
           "batch_id": None, "invoice_line_id": None, "amount": None, "reason": None, "template": None,
           "recipients": [], "pay_line_ids": [], "resend": False}
    rec.update(fields)
    return BILLING_COMMANDS, tenant.encode(), encode("OperatorCommand", rec)


def outcomes(bootstrap, ids):
    """The latest outcome of each command."""
    return {cid: recs[-1] for cid, recs in records_by(bootstrap, BILLING_OUTCOMES, "command_id", ids).items()}


def invoice_events(bootstrap, tenants):
    latest = {}
    for m in read_to_end(bootstrap, BILLING_INVOICES):
        rec = decode(m.value()).record
        if rec["tenant_id"] in tenants and rec["event_type"] == "GENERATED":
            latest[rec["invoice_id"]] = rec
    return latest


def test_every_expected_line_is_invoiced_exactly_once(kafka_bootstrap, tmp_path, unique_name):
    create_topics(kafka_bootstrap)
    stream = generate(tenants=2, placements=12, weeks=5, seed=5, start=START, bad_rate=0.3)
    # tenant ids unique to this test so the shared broker's other tests don't interfere
    tenants = {e.record["tenant_id"] for e in stream.events if e.record}
    from dataclasses import replace
    rename = {t: f"{unique_name}-{t}" for t in tenants}

    def retag(ev):
        if ev.record is None:
            return replace(ev, key=ev.key.replace(b"tenant-", f"{unique_name}-tenant-".encode()))
        rec = dict(ev.record)
        rec["tenant_id"] = rename[rec["tenant_id"]]
        key = ev.key.decode()
        t, _, rest = key.partition(":")
        return replace(ev, key=f"{rename.get(t, t)}:{rest}".encode(), record=rec)

    stream.events = [retag(e) for e in stream.events]
    expected = [dict(x, tenant_id=rename[x["tenant_id"]]) for x in stream.expected_pay_lines]
    publish(stream, kafka_bootstrap)
    worker = WorkerProcess(kafka_bootstrap, unique_name, tmp_path,
                           extra_env={"BACKOFFICE_ORPHAN_GRACE_SECONDS": "0", "BACKOFFICE_PARKED_SWEEP_SECONDS": "3600",
                                      "BACKOFFICE_DOCUMENT_STORE": str(tmp_path / "docs"),
                                      "BACKOFFICE_SENT_LOG": str(tmp_path / "sent"),
                                      "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1",
                                      "BACKOFFICE_SCHEDULER_INTERVAL": "3600"}).start()
    try:
        ids = {}
        for t in sorted(rename.values()):
            ids[t] = f"{t}-gen-1"
        wait_drained(kafka_bootstrap, unique_name, ingest_topics(unique_name))
        produce(kafka_bootstrap, [command(t, cid, "GENERATE", as_of=AS_OF) for t, cid in ids.items()])
        done = wait_until(lambda: (o := outcomes(kafka_bootstrap, set(ids.values()))) and len(o) == len(ids) and o,
                          120, message=f"generate outcomes; log:\n{worker.log()[-3000:]}")
        assert all(o["ok"] for o in done.values()), done
        invoices = wait_until(lambda: (inv := invoice_events(kafka_bootstrap, set(rename.values())))
                              and sum(len(o["invoice_ids"]) for o in done.values()) == len(inv) and inv, 120,
                              message="the invoice events of both batches")
    finally:
        worker.stop()
    for inv in invoices.values():
        assert inv["total"] == inv["subtotal"] + inv["tax"]
        assert inv["subtotal"] == sum(line["amount"] for line in inv["lines"])
    assert_invoiced_exactly_once([(line["pay_line_id"], line["amount"]) for inv in invoices.values()
                                  for line in inv["lines"]], due_by(expected, AS_OF))
    assert_gapless({t: [int(i["number"]) for i in invoices.values() if i["tenant_id"] == t] for t in rename.values()},
                   rename.values())
    # every bad event the simulator made is dead-lettered once, and nothing else is
    letters = Counter()
    for topic in (ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS, ATS_FEES):
        for m in read_to_end(kafka_bootstrap, dead_letter_topic(topic)):
            rec = decode(m.value()).record
            if rec["tenant_id"] in rename.values():
                letters[(topic, rec["error_type"])] += 1
    assert sum(letters.values()) == stream.bad_events > 0, (letters, stream.bad_events)
    ghosts = sum(1 for e in stream.events if e.bad_reason == "unknown placement")
    assert letters[(ATS_FEES, "UnknownPlacement")] == ghosts > 0, letters
