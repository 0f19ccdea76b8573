"""Operator commands on billing.commands, shared by the CLI and the ops API (`backoffice api`):
build an OperatorCommand record, publish it keyed by tenant, and read billing.outcomes from its
end at publishing time until each command's outcome arrives (bounded)."""
from __future__ import annotations

import datetime as dt
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from infra.kafka import consumer_config, producer_config
from infra.offsets import log_end_offsets
from schemas.codec import decode, encode
from schemas.topics import BILLING_COMMANDS, BILLING_OUTCOMES

FIELDS = ("pay_line_id", "placement_id", "account_id", "first_number", "as_of", "window_id", "invoice_id",
          "batch_id", "invoice_line_id", "amount", "reason", "template", "taxable", "time_zone", "week_ending_day",
          "invoice_delay_days", "preferred_start_time")


def command_record(tenant: str, kind: str, command_id: str | None = None, requested_by: str = "cli",
                   **fields) -> dict:
    cid = command_id or f"{requested_by}-{uuid.uuid4()}"
    rec = {"event_id": cid, "tenant_id": tenant, "occurred_at": dt.datetime.now(dt.timezone.utc),
           "command_id": cid, "command": kind, "requested_by": requested_by, "recipients": [], "pay_line_ids": [],
           "resend": False, "cycles": [], **{f: None for f in FIELDS}}
    rec.update({k: v for k, v in fields.items() if v is not None})
    return rec


def publish_and_wait(bootstrap: str, record: dict, timeout: float) -> dict | None:
    """Publish, then read billing.outcomes from its current end until our command's outcome shows up."""
    return publish_many_and_wait(bootstrap, [record], timeout).get(record["command_id"])


def publish_many_and_wait(bootstrap: str, records: list[dict], timeout: float) -> dict[str, dict]:
    """Publish several commands at once; {command_id: outcome} for those answered within the timeout
    (timeout 0: publish only)."""
    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "cli-outcomes"}))
    try:
        if timeout > 0:
            md = consumer.list_topics(BILLING_OUTCOMES, timeout=10).topics[BILLING_OUTCOMES]
            ends = log_end_offsets(bootstrap, [TopicPartition(BILLING_OUTCOMES, p) for p in md.partitions])
            consumer.assign([TopicPartition(t, p, high) for (t, p), (_, high) in ends.items()])
        producer = Producer(producer_config(bootstrap))
        for record in records:
            producer.produce(BILLING_COMMANDS, key=record["tenant_id"].encode(),
                             value=encode("OperatorCommand", record))
        if producer.flush(10):
            raise RuntimeError(f"the commands could not be delivered to {bootstrap} within 10 s")
        wanted = {r["command_id"] for r in records}
        found: dict[str, dict] = {}
        deadline = time.monotonic() + timeout
        while timeout > 0 and wanted - set(found) and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error():
                    continue
                outcome = decode(msg.value()).record
                if outcome["command_id"] in wanted:
                    found[outcome["command_id"]] = outcome
        return found
    finally:
        consumer.close()
