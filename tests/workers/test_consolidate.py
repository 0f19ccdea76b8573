"""Manual Consolidate through the real worker: lines join a New invoice of their account;
a Recorded invoice refuses them and they stay pending for the next generation."""
import datetime as dt

import pytest

from infra.admin import create_topics
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from tests.workers.harness import WorkerProcess, produce, wait_drained, wait_until
from tests.workers.test_pipeline import command, invoice_events, outcomes
from workers.names import ingest_topics

pytestmark = pytest.mark.integration
WEEK1, WEEK2 = dt.date(2026, 9, 6), dt.date(2026, 9, 13)


def _ts(tenant, pid, week):
    return ATS_TIMESHEETS, f"{tenant}:{pid}".encode(), encode("TimesheetApproved", timesheet_record(tenant, pid, week))


def _latest(bootstrap, tenant, invoice_id):
    from infra.readback import read_to_end
    from schemas.codec import decode

    found = [decode(m.value()).record for m in read_to_end(bootstrap, "billing.invoices")]
    return [r for r in found if r["tenant_id"] == tenant and r["invoice_id"] == invoice_id]


def test_consolidate_into_new_invoice_then_refused_once_recorded(kafka_bootstrap, tmp_path, unique_name):
    create_topics(kafka_bootstrap)
    t = unique_name
    produce(kafka_bootstrap, [
        (ATS_ACCOUNTS, f"{t}:acme".encode(), encode("AccountUpserted", account_record(t, "acme", "Acme Inc"))),
        (ATS_ACCOUNTS, f"{t}:zeta".encode(), encode("AccountUpserted", account_record(t, "zeta", "Zeta LLC"))),
        *[(ATS_PLACEMENTS, f"{t}:{p}".encode(), encode("PlacementUpserted", placement_record(t, p, acct)))
          for p, acct in (("p1", "acme"), ("p2", "acme"), ("p3", "zeta"))],
        _ts(t, "p1", WEEK1)])
    env = {"BACKOFFICE_SCHEDULER_INTERVAL": "3600", "BACKOFFICE_DOCUMENT_STORE": str(tmp_path / "docs"),
           "BACKOFFICE_SENT_LOG": str(tmp_path / "sent"), "BACKOFFICE_SMTP_PORT": "1", "BACKOFFICE_SMTP_ATTEMPTS": "1"}
    worker = WorkerProcess(kafka_bootstrap, t, tmp_path, extra_env=env).start()

    def run(cid, kind, **fields):
        produce(kafka_bootstrap, [command(t, cid, kind, **fields)])
        return wait_until(lambda: outcomes(kafka_bootstrap, {cid}).get(cid), 120,
                          message=f"outcome of {cid}; log:\n{worker.log()[-2000:]}")

    try:
        wait_drained(kafka_bootstrap, t, ingest_topics(t))
        first = run(f"{t}-g1", "GENERATE", as_of=WEEK2)
        invoice_id, = first["invoice_ids"]
        produce(kafka_bootstrap, [_ts(t, "p2", WEEK1), _ts(t, "p3", WEEK1)])
        wait_drained(kafka_bootstrap, t, ingest_topics(t))
        merged = run(f"{t}-c1", "CONSOLIDATE", invoice_id=invoice_id, as_of=WEEK2)
        assert merged["ok"], merged
        events = wait_until(lambda: (e := _latest(kafka_bootstrap, t, invoice_id)) and
                            any(r["event_type"] == "CONSOLIDATED" for r in e) and e, 120, message="CONSOLIDATED event")
        grown = [r for r in events if r["event_type"] == "CONSOLIDATED"][-1]
        assert {line["placement_id"] for line in grown["lines"]} == {"p1", "p2"}        # zeta's p3 stays out
        assert len(grown["lines"]) == 4 and grown["subtotal"] == sum(x["amount"] for x in grown["lines"])
        assert grown["number"] == events[0]["number"] and grown["version"] > events[0]["version"]

        recorded = run(f"{t}-r1", "RECORD", invoice_id=invoice_id)
        assert recorded["ok"], recorded
        produce(kafka_bootstrap, [_ts(t, "p1", WEEK2)])
        wait_drained(kafka_bootstrap, t, ingest_topics(t))
        refused = run(f"{t}-c2", "CONSOLIDATE", invoice_id=invoice_id, as_of=WEEK2)
        assert not refused["ok"] and "RECORDED" in refused["message"]
        last = run(f"{t}-g2", "GENERATE", as_of=WEEK2)
        assert last["ok"] and len(last["invoice_ids"]) == 2, last                  # acme's week 2 + zeta's p3
        docs = wait_until(lambda: (d := invoice_events(kafka_bootstrap, {t})) and len(d) == 3 and d, 120,
                          message="three generated invoices")
        lines = [line["pay_line_id"] for d in docs.values() if d["invoice_id"] != invoice_id for line in d["lines"]]
        assert sorted({x.split("|")[0] for x in lines}) == [f"{t}:p1", f"{t}:p3"] and len(lines) == len(set(lines)) == 4
    finally:
        worker.stop()
