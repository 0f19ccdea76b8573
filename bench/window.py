"""Closing one big batch window: 100,000 pending pay lines across 5,000 Billto accounts.

One tenant, 5,000 named accounts (semi-automatic: generation only, no PDFs), two weekly
placements per account, five weeks of timesheets with REG and OT hours each -> 100,000
pay lines. One worker ingests them; then a CLOSE_WINDOW command for the last week is
published and the clock runs from that moment to the broker timestamp of the last
`GENERATED` event on billing.invoices.

Headline: `seconds` (close command -> last InvoiceGenerated). Also reported next to it:
the pure domain's consolidation + numbering of the same lines in this process
(`domain_seconds`, bench/domain.py's lines), so the share spent in the stream plumbing is visible.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cli.operator import command_record  # noqa: E402
from infra.admin import create_topics  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.offsets import group_lag  # noqa: E402
from infra.readback import read_to_end  # noqa: E402
from schemas.codec import decode, encode  # noqa: E402
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS, BILLING_COMMANDS, BILLING_INVOICES, \
    BILLING_OUTCOMES  # noqa: E402
from simulator.records import account_record, placement_record, timesheet_record  # noqa: E402
from tests.workers.harness import WorkerProcess, produce, wait_until  # noqa: E402
from workers.names import ingest_topics  # noqa: E402

RESULTS = ROOT / "bench" / "results"
FIRST_WEEK_ENDING = dt.date(2026, 9, 6)      # a Sunday


def events(tenant: str, accounts: int, per_account: int, weeks: int) -> list[tuple[str, bytes, bytes]]:
    out = []
    for a in range(accounts):
        acct = f"acct-{a:05d}"
        out.append((ATS_ACCOUNTS, f"{tenant}:{acct}".encode(),
                    encode("AccountUpserted", account_record(tenant, acct, f"Account {a:05d} Inc"))))
    for a in range(accounts):
        for k in range(per_account):
            pid = f"pl-{a:05d}-{k}"
            key = f"{tenant}:{pid}".encode()
            out.append((ATS_PLACEMENTS, key, encode("PlacementUpserted", placement_record(tenant, pid, f"acct-{a:05d}"))))
            for w in range(weeks):
                week_ending = FIRST_WEEK_ENDING + dt.timedelta(weeks=w)
                out.append((ATS_TIMESHEETS, key, encode("TimesheetApproved",
                                                        timesheet_record(tenant, pid, week_ending))))
    return out


def generated(bootstrap: str, tenant: str) -> list[float]:
    out = []
    for m in read_to_end(bootstrap, BILLING_INVOICES, timeout=300):
        rec = decode(m.value()).record
        if rec["tenant_id"] == tenant and rec["event_type"] == "GENERATED":
            out.append(m.timestamp()[1] / 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=5000)
    ap.add_argument("--per-account", type=int, default=2)
    ap.add_argument("--weeks", type=int, default=5)
    args = ap.parse_args()
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None if external else EmbeddedBroker().start()
    bootstrap = external or broker.bootstrap
    tenant, app_id = f"win{int(time.time())}", f"bench-window-{int(time.time())}"
    lines = args.accounts * args.per_account * args.weeks * 2
    try:
        create_topics(bootstrap)
        batch = events(tenant, args.accounts, args.per_account, args.weeks)
        produce(bootstrap, batch)
        print(f"published {len(batch):,} ATS events -> {lines:,} pay lines for {args.accounts:,} accounts")
        with tempfile.TemporaryDirectory() as tmp:
            worker = WorkerProcess(bootstrap, app_id, Path(tmp), extra_env={"BACKOFFICE_SCHEDULER_INTERVAL": "3600"})
            worker.start()
            try:
                t_ingest = time.perf_counter()
                wait_until(lambda: group_lag(bootstrap, app_id, ingest_topics(app_id)) == 0, 1800, interval=2.0,
                           message="ingest")
                print(f"ingested in {time.perf_counter() - t_ingest:.1f}s (incl. start-up)")
                last_week = FIRST_WEEK_ENDING + dt.timedelta(weeks=args.weeks - 1)
                record = command_record(tenant, "CLOSE_WINDOW", command_id=f"{tenant}-close",
                                        window_id=f"WEEKLY:{last_week}")
                t0 = time.time()
                produce(bootstrap, [(BILLING_COMMANDS, tenant.encode(), encode("OperatorCommand", record))])
                outcome = wait_until(lambda: next((decode(m.value()).record for m in read_to_end(bootstrap, BILLING_OUTCOMES)
                                                   if decode(m.value()).record["command_id"] == record["command_id"]), None),
                                     1800, interval=2.0, message="the close outcome")
                expected = len(outcome["invoice_ids"])
                stamps = wait_until(lambda: (g := generated(bootstrap, tenant)) and len(g) >= expected and g, 1800,
                                    interval=2.0, message=f"{expected} GENERATED events")
            finally:
                worker.stop(60)
        seconds = max(stamps) - t0
        print(f"close -> last InvoiceGenerated: {seconds:.1f}s for {expected:,} invoices ({outcome['message']})")
        sys.path.insert(0, str(ROOT / "bench"))
        from domain import run as domain_run   # the same number of lines through the pure domain only
        domain_s = domain_run(lines)["seconds"]
        result = {"seconds": round(seconds, 2), "pay_lines": lines, "accounts": args.accounts, "invoices": expected,
                  "domain_seconds": round(domain_s, 2), "ok": outcome["ok"]}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "window.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result))
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
