"""A worker's memory for a given number of placements, and a placement ledger's size over time.

1. One real worker on the embedded broker: RSS (from /proc) idle, then after ingesting the
   simulator's events for growing numbers of placements (12 weeks each), each time once its
   consumer lag is 0 and RSS has settled. Per-placement cost: least-squares slope of RSS
   over placements.
2. The ledger record (LedgerRecord, pickled as the ledgers table stores it) of weekly
   placements over 3 years (156 timesheets, 5% re-approved), every line invoiced: bytes per
   placement and per week, against the broker's 1 MiB per changelog record.

Headline: `ratio` = RSS at the largest count over idle RSS. The machine is shared and loaded:
RSS does not depend on load much, but the load average is recorded.
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

from bench.soak import rss_mib, slope_per_min  # noqa: E402
from infra.admin import create_topics  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.offsets import group_lag  # noqa: E402
from simulator.generate import generate  # noqa: E402
from simulator.publish import encode_event, publish  # noqa: E402
from tests.workers.harness import WorkerProcess, wait_until  # noqa: E402
from tests.workers.oracle import prefixed  # noqa: E402
from workers.names import ingest_topics  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MIB = 1024 * 1024


def settled_rss(pid: int, seconds: float = 20) -> float:
    """RSS once it stops moving: the mean of the last samples over `seconds`."""
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(rss_mib(pid))
        time.sleep(1)
    tail = samples[len(samples) // 2:]
    return sum(tail) / len(tail)


def worker_rss(counts: list[int], weeks: int) -> dict:
    broker = EmbeddedBroker().start()
    try:
        create_topics(broker.bootstrap)
        with tempfile.TemporaryDirectory() as tmp:
            app_id = f"mem{int(time.time())}"
            worker = WorkerProcess(broker.bootstrap, app_id, Path(tmp) / "w",
                                   extra_env={"BACKOFFICE_SCHEDULER_INTERVAL": "3600"}).start()
            try:
                wait_until(lambda: group_lag(broker.bootstrap, app_id, ingest_topics(app_id)) == 0, 300, 2,
                           "the worker to join")
                rows = [{"placements": 0, "events": 0, "rss_mib": round(settled_rss(worker.proc.pid), 1)}]
                done, events = 0, 0
                for target in counts:
                    step = target - done
                    stream, _ = prefixed(generate(tenants=max(1, step // 100), placements=min(100, step),
                                                  weeks=weeks, seed=target, start=dt.date(2026, 6, 1)), f"m{target}")
                    publish(stream, broker.bootstrap)
                    events += len(stream.events)
                    wait_until(lambda: group_lag(broker.bootstrap, app_id, ingest_topics(app_id)) == 0, 1800, 2,
                               f"{target} placements ingested")
                    done = target
                    rows.append({"placements": target, "events": events,
                                 "rss_mib": round(settled_rss(worker.proc.pid), 1)})
                    print(rows[-1], flush=True)
            finally:
                worker.stop(60)
    finally:
        broker.stop()
    return {"rows": rows, "idle_mib": rows[0]["rss_mib"], "per_placement_kib": per_placement_kib(rows)}


def per_placement_kib(rows: list[dict]) -> float | None:
    """Least-squares slope of RSS over placements, past the first step (which also pays the
    worker's first-use costs: table databases opened, code paths warmed), in KiB."""
    pts = [(r["placements"], r["rss_mib"]) for r in rows[1:]]
    per_min = slope_per_min([(x, y) for x, y in pts])       # MiB per 60 placements (the helper scales by 60)
    return round(per_min / 60 * 1024, 1) if per_min is not None else None


def ledger_growth(years: int = 3) -> dict:
    """Pickled LedgerRecord of weekly placements over `years`, every line invoiced."""
    from backoffice import ledger as L
    from schemas.topics import ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS
    from workers import ledger_logic as LL
    from workers.state import dumps

    weeks = 52 * years
    stream = generate(tenants=1, placements=40, weeks=weeks, seed=3, start=dt.date(2023, 12, 4))
    records, now = {}, dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)
    for i, e in enumerate(stream.events):
        if e.topic in (ATS_PLACEMENTS, ATS_TIMESHEETS, ATS_FEES):
            key = e.key.decode()
            rec = records.get(key) or LL.new_record(key)
            parked = LL.Parked(e.topic, 0, i, e.key, encode_event(e), now)
            records[key] = LL.ingest(rec, parked, now.date()).record
    sizes = []
    for rec in records.values():
        if len(rec.approvals) < weeks * 0.9:        # a perm placement (one fee) or a short one
            continue
        lines = list(rec.ledger.lines.values())
        led = L.settle_invoiced(rec.ledger, [(x, f"inv-{n // 4}") for n, x in enumerate(lines)], now.date()).ledger
        from dataclasses import replace
        sizes.append({"bytes": len(dumps(replace(rec, ledger=led))), "lines": len(lines),
                      "timesheets": len(rec.approvals),
                      "approval_bytes": sum(len(v) for v in rec.approvals.values())})
    worst = max(sizes, key=lambda s: s["bytes"])
    mean = sum(s["bytes"] for s in sizes) / len(sizes)
    return {"years": years, "placements_measured": len(sizes), "mean_bytes": round(mean),
            "max_bytes": worst["bytes"], "bytes_per_week": round(mean / weeks), "worst": worst,
            "share_of_1_mib": round(worst["bytes"] / MIB, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    ap.add_argument("--weeks", type=int, default=12)
    args = ap.parse_args()
    t0, load = time.monotonic(), os.getloadavg()
    growth = ledger_growth()
    print(f"3-year weekly placement ledger: {growth}", flush=True)
    rss = worker_rss(args.counts, args.weeks)
    result = {"ratio": round(rss["rows"][-1]["rss_mib"] / rss["idle_mib"], 2), "worker_rss": rss,
              "ledger_3_years": growth, "seconds": round(time.monotonic() - t0),
              "load_average_start": [round(x, 2) for x in load],
              "load_average_end": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
