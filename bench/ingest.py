"""Ingest throughput: ATS events -> pay lines committed to the ledger table.

Same run, same topics: (1) a raw confluent-kafka consume + Avro decode of every event
(the ceiling for one process), (2) the Faust ceiling (bench/faust_ceiling.py: a Faust app
that only decodes each event and writes it to a changelogged table, the per-event work
any Faust worker must do), (3) one worker, (4) two workers (two processes), then (5) one
profiled worker for where the time goes (--profile), then (6) a ledger-size sweep: for 12, 48 and
156 weeks (the simulator's span: placements start and end within it) per placement, the same
number of placements, on a fresh broker each, one worker. A worker's rate is events divided by the span between the first
and the last write to its ledger changelog (broker timestamps), so start-up and group joins are
not counted. In the sweep, the per-event cost is taken over the last third of the changelog
writes (the ledgers are then near their full size): the span of those writes over the events
they stand for (the run's events times the tail's share of the writes).

Headline: `ratio` = one worker's events/s over the raw consume+decode rate;
`fraction_of_ceiling` = one worker over the Faust ceiling; `speedup` = two workers over one;
`cost_growth` = per-event cost at 156 weeks over the cost at 12 weeks. The machine's load average
is recorded with them: the figures are ratios of runs on the same loaded machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.admin import create_topics  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.kafka import consumer_config  # noqa: E402
from infra.offsets import group_lag, log_end_offsets  # noqa: E402
from bench import raw  # noqa: E402
from schemas.codec import decode  # noqa: E402
from simulator.generate import generate  # noqa: E402
from simulator.publish import publish  # noqa: E402
from tests.workers.harness import WorkerProcess, wait_until  # noqa: E402
from workers.names import LEDGER_TABLE, ingest_topics  # noqa: E402

RESULTS = ROOT / "bench" / "results"
ATS = ingest_topics()[:4]


def topic_total(bootstrap: str, topics: list[str] = ATS) -> int:
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "bench-count"}))
    parts = [TopicPartition(t, p) for t in topics for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
    consumer.close()
    return sum(hi - lo for lo, hi in log_end_offsets(bootstrap, parts).values())


def raw_consume_decode(bootstrap: str, total: int) -> float:
    """events/s of one confluent-kafka consumer reading and decoding every event of ATS (bench/raw.py)."""
    return raw.raw_consume_decode(bootstrap, ATS, total)


def changelog_span(bootstrap: str, app_id: str) -> float:
    """Seconds between the first and the last ledger changelog write (broker timestamps)."""
    stamps = changelog_stamps(bootstrap, app_id)
    return stamps[-1] - stamps[0]


def changelog_stamps(bootstrap: str, app_id: str) -> list[float]:
    """Broker timestamps of every ledger changelog write, sorted."""
    topic = f"{app_id}-{LEDGER_TABLE}-changelog"
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "bench-span", "enable.partition.eof": False}))
    parts = [TopicPartition(topic, p, 0) for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions]
    ends = {k: hi for k, (lo, hi) in log_end_offsets(bootstrap, parts).items() if hi > lo}
    consumer.assign([TopicPartition(t, p, 0) for (t, p) in ends])
    stamps = []
    while ends:
        for msg in consumer.consume(10_000, 0.5):
            if msg.error():
                continue
            stamps.append(msg.timestamp()[1] / 1000)
            if msg.offset() + 1 >= ends.get((msg.topic(), msg.partition()), 0):
                ends.pop((msg.topic(), msg.partition()), None)
    consumer.close()
    return sorted(stamps)


def run_workers(bootstrap: str, app_id: str, count: int, work: Path, total: int, env: dict | None = None) -> float:
    procs = [WorkerProcess(bootstrap, app_id, work / app_id, worker_id=str(i),
                           extra_env={"BACKOFFICE_SCHEDULER_INTERVAL": "3600", **(env or {})}) for i in range(count)]
    return _drain(bootstrap, app_id, procs, ingest_topics(app_id), total)


def run_faust_ceiling(bootstrap: str, app_id: str, work: Path) -> float:
    """events/s of bench/faust_ceiling.py over the ledger topics (it does not read ats.accounts)."""
    proc = WorkerProcess(bootstrap, app_id, work / app_id,
                         command=[sys.executable, str(ROOT / "bench" / "faust_ceiling.py")])
    return _drain(bootstrap, app_id, [proc], ATS[1:], topic_total(bootstrap, ATS[1:]))


def _drain(bootstrap: str, app_id: str, procs: list[WorkerProcess], topics: list[str], events: int) -> float:
    """Run the processes until the group has consumed `topics`; events over the changelog's span."""
    for p in procs:
        p.start()
    try:
        wait_until(lambda: group_lag(bootstrap, app_id, topics) == 0, 1800, interval=2.0,
                   message=f"{app_id} to drain")
    finally:
        for p in procs:
            p.stop(60)
    return events / changelog_span(bootstrap, app_id)


def sweep_point(weeks: int, placements: int, work: Path) -> dict:
    """One worker on a fresh broker over `placements` placements with `weeks` weeks each."""
    broker = EmbeddedBroker().start()
    try:
        stream = generate(tenants=1, placements=placements, weeks=weeks, seed=11, start=dt.date(2026, 6, 1),
                          bad_rate=0.0)
        create_topics(broker.bootstrap)
        publish(stream, broker.bootstrap)
        total = topic_total(broker.bootstrap)
        app_id = f"sweep{weeks}-{int(time.time())}"
        procs = [WorkerProcess(broker.bootstrap, app_id, work / app_id,
                               extra_env={"BACKOFFICE_SCHEDULER_INTERVAL": "3600"})]
        rate = _drain(broker.bootstrap, app_id, procs, ingest_topics(app_id), total)
        stamps = changelog_stamps(broker.bootstrap, app_id)
        tail = stamps[len(stamps) * 2 // 3:]
        # events in the tail, taken as the tail's share of the writes (a batch writes a ledger once)
        tail_events = total * (len(tail) - 1) / len(stamps)
        tail_us = (tail[-1] - tail[0]) / max(1.0, tail_events) * 1e6
        return {"weeks": weeks, "placements": placements, "events": total,
                "events_per_placement": round(total / placements, 1), "events_per_s": round(rate),
                "changelog_writes": len(stamps), "tail_cost_us_per_event": round(tail_us, 1),
                "mean_cost_us_per_event": round(1e6 / rate, 1)}
    finally:
        broker.stop()


def profile_summary(path: Path, top: int = 18) -> list[dict]:
    stats = pstats.Stats(str(path))
    total = stats.total_tt
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return [{"function": f"{Path(f).name}:{line}:{name}", "tottime_s": round(s[2], 2),
             "share": round(s[2] / total, 3), "calls": s[1]} for (f, line, name), s in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tenants", type=int, default=4)
    ap.add_argument("--placements", type=int, default=7500, help="per tenant")
    ap.add_argument("--weeks", type=int, default=12)
    ap.add_argument("--profile", action="store_true", help="also one profiled worker (a fourth run)")
    ap.add_argument("--sweep-placements", type=int, default=1200,
                    help="placements in each sweep run")
    ap.add_argument("--sweep-weeks", default="12,48,156")
    args = ap.parse_args()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None if external else EmbeddedBroker().start()
    bootstrap = external or broker.bootstrap
    try:
        tag = f"bench{int(time.time())}"
        stream = generate(tenants=args.tenants, placements=args.placements, weeks=args.weeks, seed=7,
                          start=dt.date(2026, 6, 1), bad_rate=0.0)
        create_topics(bootstrap)
        t0 = time.perf_counter()
        publish(stream, bootstrap)
        publish_rate = len(stream.events) / (time.perf_counter() - t0)
        total = topic_total(bootstrap)      # on a shared Kafka the topics may hold earlier events too
        print(f"published {len(stream.events):,} events ({stream.counts()}) at {publish_rate:,.0f}/s; "
              f"{total:,} in the topics")
        raw = raw_consume_decode(bootstrap, total)
        print(f"raw confluent-kafka consume + decode: {raw:,.0f} events/s")
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            ceiling = run_faust_ceiling(bootstrap, f"{tag}-ceiling", work)
            print(f"Faust ceiling (decode + one table write per event): {ceiling:,.0f} events/s "
                  f"({ceiling / raw:.2f} of raw)")
            one = run_workers(bootstrap, f"{tag}-one", 1, work, total)
            print(f"one worker: {one:,.0f} events/s ({one / raw:.3f} of raw, {one / ceiling:.2f} of the Faust ceiling)")
            two = run_workers(bootstrap, f"{tag}-two", 2, work, total)
            print(f"two workers: {two:,.0f} events/s ({two / one:.2f}x one worker)")
            profile = []
            if args.profile:
                prof = work / "worker.prof"
                run_workers(bootstrap, f"{tag}-prof", 1, work, total, env={"BACKOFFICE_PROFILE": str(prof)})
                profile = profile_summary(prof) if prof.exists() else []
                print("where one worker's event-loop time goes (tottime, top functions):")
                for row in profile:
                    print(f"  {row['share']:6.1%}  {row['tottime_s']:8.2f}s  {row['function']}")
        sweep = []
        with tempfile.TemporaryDirectory() as tmp:
            for weeks in [int(w) for w in args.sweep_weeks.split(",")]:
                sweep.append(sweep_point(weeks, args.sweep_placements, Path(tmp)))
                print(f"sweep: {sweep[-1]}")
        growth = sweep[-1]["tail_cost_us_per_event"] / sweep[0]["tail_cost_us_per_event"]
        print(f"per-event cost at {sweep[-1]['weeks']} weeks / at {sweep[0]['weeks']} weeks: {growth:.2f}")
        result = {"events": total, "raw_events_per_s": round(raw), "faust_ceiling_events_per_s": round(ceiling),
                  "one_worker_events_per_s": round(one), "two_workers_events_per_s": round(two),
                  "ratio": round(one / raw, 3), "fraction_of_ceiling": round(one / ceiling, 3),
                  "ceiling_over_raw": round(ceiling / raw, 3),
                  "speedup": round(two / one, 3), "publish_events_per_s": round(publish_rate),
                  "cost_growth": round(growth, 3), "sweep": sweep,
                  "cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                  "load_average_at_start": load_at_start, "profile": profile}
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "ingest.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k not in ("profile", "sweep")}))
    finally:
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    main()
