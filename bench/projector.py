"""Read-model projection throughput: `backoffice projector`'s loop (readmodel.projector) against a
raw confluent-kafka consume + Avro decode of the same topics, in one run, on SQLite and on a
real PostgreSQL (infra.pgserver, from the Debian binaries).

Topics: pay-line events (each line created, reserved, invoiced: three versions), invoice events
with their lines, sync results, command outcomes and dead letters, in about the proportions a
billing run makes. Headline: `ratio` = projected events/s on SQLite over the raw rate;
`postgres_ratio` the same on PostgreSQL (target >= 0.3 each).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.admin import create_topics  # noqa: E402
from infra.broker import EmbeddedBroker  # noqa: E402
from infra.kafka import consumer_config, producer_config  # noqa: E402
from infra.offsets import log_end_offsets  # noqa: E402
from infra.pgserver import PostgresServer, binaries  # noqa: E402
from readmodel.db import engine_for, migrate  # noqa: E402
from readmodel.projector import Projector  # noqa: E402
from readmodel.rows import TOPICS_READ  # noqa: E402
from bench import raw  # noqa: E402
from schemas.codec import decode, encode  # noqa: E402
from schemas.mapping import dead_letter_record  # noqa: E402
from schemas.topics import (  # noqa: E402
    ATS_TIMESHEETS, BILLING_INVOICES, BILLING_OUTCOMES, BILLING_PAYLINES, BILLING_SYNC, TOPICS, dead_letter_topic,
)

RESULTS = ROOT / "bench" / "results"
LINES = int(os.environ.get("BENCH_PROJECTOR_LINES", "20000"))
AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.timezone.utc)
FIXTURE = ROOT / "tests" / "contract" / "fixtures" / "invoice_generated_v1_invoice.avro"


def _payline(i: int, version: int, change: str, status: str, invoice: str | None) -> dict:
    return {"event_id": f"pl-{i}-{version}", "tenant_id": f"t{i % 5}", "occurred_at": AT, "change": change,
            "version": version, "pay_line_id": f"t{i % 5}:p{i // 4}|TS|ts{i}|REG", "placement_id": f"p{i // 4}",
            "placement_type": "TEMP", "account_id": f"co{i % 40}", "client_id": "cl", "office_id": "of",
            "billing_cycle": "WEEKLY", "status": status, "source": "TIMESHEET",
            "category": "TIMESHEETS" if i % 3 else "PRODUCTS_SERVICES", "description": f"Ava Chen - Regular hours {i}",
            "quantity": Decimal("40.0000"), "rate": Decimal("41.2500"), "amount": Decimal("1650.00"),
            "taxable": True, "effective_date": dt.date(2026, 11, 22), "work_date": dt.date(2026, 11, 22),
            "work_start": dt.date(2026, 11, 16), "period_end": None, "pay_code": "REG", "timesheet_id": f"ts{i}",
            "fee_id": None, "fee_kind": None, "credited_line_id": None, "credited_invoice_id": None, "reason": None,
            "window_key": "WEEKLY:2026-11-22" if change == "RESERVED" else None, "invoice_id": invoice}


def messages() -> list[tuple[str, bytes, bytes]]:
    out = []
    invoice = decode(FIXTURE.read_bytes()).record
    for i in range(LINES):
        inv = f"inv-{i // 10}"
        for version, (change, status, on) in enumerate((("CREATED", "PENDING", None), ("RESERVED", "PENDING", None),
                                                        ("INVOICED", "INVOICED", inv)), start=1):
            rec = _payline(i, version, change, status, on)
            out.append((BILLING_PAYLINES, rec["pay_line_id"].encode(), encode("PayLineEvent", rec)))
    for n in range(LINES // 10):
        for event, status in (("GENERATED", "NEW"), ("RECORDED", "RECORDED")):
            rec = {**invoice, "event_id": f"inv-{n}-{event}", "invoice_id": f"inv-{n}", "event_type": event,
                   "status": status, "tenant_id": f"t{n % 5}", "number": str(1000 + n)}
            out.append((BILLING_INVOICES, rec["invoice_id"].encode(), encode("InvoiceEvent", rec)))
        sync = {"event_id": f"sync-{n}", "tenant_id": f"t{n % 5}", "occurred_at": AT, "invoice_id": f"inv-{n}",
                "number": str(1000 + n), "system": "xero", "external_id": f"x{n}", "status": "SYNCED", "error": None,
                "attempts": 1}
        out.append((BILLING_SYNC, sync["invoice_id"].encode(), encode("SyncResult", sync)))
    for n in range(LINES // 100):
        outcome = {"event_id": f"o{n}", "tenant_id": f"t{n % 5}", "occurred_at": AT, "command_id": f"c{n}",
                   "command": "GENERATE", "ok": True, "message": "ok", "findings": [], "batch_id": f"b{n}",
                   "invoice_ids": [f"inv-{n}"]}
        out.append((BILLING_OUTCOMES, outcome["command_id"].encode(), encode("CommandOutcome", outcome)))
        letter = dead_letter_record(topic=ATS_TIMESHEETS, partition=0, offset=n, key=b"t1:p1", value=b"x" * 200,
                                    error=ValueError("negative hours"), first_seen=AT, tenant_id="t1")
        out.append((dead_letter_topic(ATS_TIMESHEETS), b"t1:p1", encode("DeadLetter", letter)))
    return out


def _ends(bootstrap: str) -> dict[tuple[str, int], int]:
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "bench-ends"}))
    parts = [TopicPartition(t, p) for t in TOPICS_READ for p in consumer.list_topics(t, timeout=10).topics[t].partitions]
    consumer.close()
    return {k: hi for k, (lo, hi) in log_end_offsets(bootstrap, parts).items() if hi > lo}


def raw_consume_decode(bootstrap: str, total: int) -> float:
    """events/s of one confluent-kafka consumer reading and decoding every event of TOPICS_READ (bench/raw.py)."""
    return raw.raw_consume_decode(bootstrap, TOPICS_READ, total)


def project(bootstrap: str, url: str, total: int, group: str) -> float:
    """events/s from the first stored batch's poll to the last, one projector process (this one)."""
    engine = engine_for(url)
    migrate(engine)
    projector = Projector(bootstrap, engine, group)
    consumer = Consumer(consumer_config(bootstrap, group, **{
        "enable.auto.commit": False, "enable.partition.eof": False, "max.poll.interval.ms": 300000}))
    consumer.subscribe(list(TOPICS_READ), on_assign=projector._on_assign, on_revoke=projector._on_revoke)
    t0, deadline = None, time.monotonic() + 600
    while projector.events < total and time.monotonic() < deadline:
        started = time.perf_counter()
        if projector.step(consumer) and t0 is None:
            t0 = started
    elapsed = time.perf_counter() - t0
    consumer.close()
    engine.dispose()
    assert projector.events == total, (projector.events, total)
    return total / elapsed


def main() -> None:
    batch = messages()
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as tmp:
        create_topics(broker.bootstrap, [TOPICS[t] for t in TOPICS_READ])
        producer = Producer(producer_config(broker.bootstrap))
        for topic, key, value in batch:
            producer.produce(topic, key=key, value=value)
            producer.poll(0)
        assert producer.flush(60) == 0
        total = sum(hi for hi in _ends(broker.bootstrap).values())
        raw = raw_consume_decode(broker.bootstrap, total)
        sqlite = project(broker.bootstrap, f"sqlite:///{tmp}/bench.sqlite3", total, "bench-sqlite")
        pg = None
        if binaries() is not None:
            with PostgresServer() as server:
                pg = project(broker.bootstrap, server.url, total, "bench-pg")
        else:
            print("PostgreSQL binaries not found: the postgres figure is missing", file=sys.stderr)
    result = {"events": total, "raw_events_per_s": round(raw), "sqlite_events_per_s": round(sqlite),
              "ratio": round(sqlite / raw, 3), "postgres_events_per_s": round(pg) if pg else None,
              "postgres_ratio": round(pg / raw, 3) if pg else None, "cores": os.cpu_count()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "projector.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
