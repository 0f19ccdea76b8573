"""Pure projection: consumed messages -> the rows one transaction writes (no I/O).

`build(messages)` folds a poll batch into a `Batch`: per table, the rows to upsert or insert,
already reduced (the newest version per pay line, the last event per invoice), plus the next
offset per partition. A message that does not decode, or carries another schema than its
topic's, becomes a dead-letter row with the reason: the projection goes on.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Iterable, NamedTuple

from schemas.codec import DecodeError, decode
from schemas.topics import (
    BILLING_INVOICES, BILLING_OUTCOMES, BILLING_PAYLINES, BILLING_SYNC, DLQ_SUFFIX, TOPIC_SCHEMA, TOPICS,
)

SOURCES = (BILLING_PAYLINES, BILLING_INVOICES, BILLING_SYNC, BILLING_OUTCOMES)
#: Every topic the projector reads: the four billing topics and every dead-letter topic.
TOPICS_READ = SOURCES + tuple(sorted(t for t in TOPICS if t.endswith(DLQ_SUFFIX)))


class Message(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class Batch:
    pay_lines: dict[str, dict] = field(default_factory=dict)
    invoices: dict[str, dict] = field(default_factory=dict)
    invoice_lines: dict[str, list[dict]] = field(default_factory=dict)
    invoice_events: dict[str, dict] = field(default_factory=dict)
    sync_status: dict[tuple[str, str], dict] = field(default_factory=dict)
    sync_events: dict[str, dict] = field(default_factory=dict)
    outcomes: dict[str, dict] = field(default_factory=dict)
    dead_letters: dict[tuple[str, int, int], dict] = field(default_factory=dict)
    #: (topic, partition) -> next offset to read once this batch is stored
    positions: dict[tuple[str, int], int] = field(default_factory=dict)
    events: int = 0


def pay_line_row(r: dict) -> dict:
    return {
        "pay_line_id": r["pay_line_id"], "tenant_id": r["tenant_id"], "version": r["version"],
        "last_change": r["change"], "changed_at": r["occurred_at"], "status": r["status"],
        **{k: r[k] for k in (
            "placement_id", "placement_type", "account_id", "client_id", "office_id", "billing_cycle", "source",
            "category", "description", "quantity", "rate", "amount", "taxable", "effective_date", "work_date",
            "work_start", "period_end", "pay_code", "timesheet_id", "fee_id", "fee_kind", "credited_line_id",
            "credited_invoice_id", "reason", "window_key", "invoice_id")},
    }


def invoice_row(r: dict) -> dict:
    return {
        "invoice_id": r["invoice_id"], "tenant_id": r["tenant_id"], "number": r["number"], "kind": r["kind"],
        "status": r["status"], "last_event": r["event_type"], "updated_at": r["occurred_at"],
        "batch_id": r["batch_id"], "account_id": r["account_id"], "account_name": r["account_name"],
        "grouping_key": r["grouping_key"], "currency": r["currency"], "subtotal": r["subtotal"], "tax": r["tax"],
        "total": r["total"], "issue_date": r.get("issue_date"), "due_date": r.get("due_date"),
        "period_start": r.get("period_start"), "period_end": r.get("period_end"),
        "purchase_order": r.get("purchase_order"), "line_count": len(r["lines"]),
        "document_uris": json.dumps(list(r.get("document_uris") or [])), "error": r.get("error"),
        "allocations": json.dumps([{"invoice_id": a["invoice_id"], "amount": str(a["amount"])}
                                   for a in r.get("allocations") or []]),
    }


def invoice_line_rows(r: dict) -> list[dict]:
    return [{"invoice_id": r["invoice_id"], "position": i, **{k: line.get(k) for k in (
        "line_id", "pay_line_id", "placement_id", "description", "quantity", "rate", "amount", "taxable", "category",
        "status", "pay_code", "work_date", "work_start", "credited_line_id", "credited_invoice_id", "tax_share",
        "line_total")}} for i, line in enumerate(r["lines"])]


def invoice_event_row(r: dict, partition: int, offset: int) -> dict:
    return {"event_id": r["event_id"], "invoice_id": r["invoice_id"], "tenant_id": r["tenant_id"],
            "event_type": r["event_type"], "status": r["status"], "occurred_at": r["occurred_at"],
            "partition": partition, "offset": offset}


def sync_row(r: dict) -> dict:
    return {k: r[k] for k in ("invoice_id", "system", "tenant_id", "number", "status", "external_id", "error",
                              "attempts", "occurred_at")}


def sync_event_row(r: dict) -> dict:
    return {"event_id": r["event_id"], **{k: r[k] for k in (
        "invoice_id", "system", "tenant_id", "status", "external_id", "error", "attempts", "occurred_at")}}


def outcome_row(r: dict) -> dict:
    return {"command_id": r["command_id"], "event_id": r["event_id"], "tenant_id": r["tenant_id"],
            "command": r["command"], "ok": r["ok"], "message": r["message"], "batch_id": r.get("batch_id"),
            "invoice_ids": json.dumps(list(r.get("invoice_ids") or [])),
            "findings": json.dumps(list(r.get("findings") or []), sort_keys=True),
            "occurred_at": r["occurred_at"]}


def dead_letter_row(m: Message, r: dict) -> dict:
    return {"topic": m.topic, "partition": m.partition, "offset": m.offset, **{k: r[k] for k in (
        "event_id", "tenant_id", "original_topic", "original_partition", "original_offset", "original_key",
        "original_value", "error_type", "error", "first_seen")}}


def rejected_row(m: Message, error: Exception, at: dt.datetime) -> dict:
    """A message the projector cannot read, kept where the clerk looks for bad input."""
    key = m.key or b""
    return {"topic": m.topic, "partition": m.partition, "offset": m.offset,
            "event_id": f"{m.topic}/{m.partition}/{m.offset}", "tenant_id": key.decode(errors="replace")[:255]
            .partition(":")[0], "original_topic": m.topic, "original_partition": m.partition,
            "original_offset": m.offset, "original_key": m.key, "original_value": (m.value or b"")[:65536],
            "error_type": type(error).__name__, "error": f"projector: {error}", "first_seen": at}


def _expected_schema(topic: str) -> str:
    return TOPIC_SCHEMA.get(topic, "DeadLetter" if topic.endswith(DLQ_SUFFIX) else "")


def add(batch: Batch, m: Message, at: dt.datetime) -> None:
    """Fold one message into the batch (messages of a partition arrive in offset order)."""
    batch.positions[(m.topic, m.partition)] = m.offset + 1
    if m.value is None:             # a tombstone: nothing of ours writes them
        return
    try:
        decoded = decode(m.value, topic=m.topic, partition=m.partition, offset=m.offset)
        if decoded.schema_name != _expected_schema(m.topic):
            raise DecodeError(f"{decoded.schema_name} on {m.topic}, which carries {_expected_schema(m.topic)}",
                              topic=m.topic, partition=m.partition, offset=m.offset)
        r = decoded.record
        batch.events += 1
        if m.topic == BILLING_PAYLINES:
            held = batch.pay_lines.get(r["pay_line_id"])
            if held is None or r["version"] > held["version"]:
                batch.pay_lines[r["pay_line_id"]] = pay_line_row(r)
        elif m.topic == BILLING_INVOICES:
            batch.invoices[r["invoice_id"]] = invoice_row(r)
            batch.invoice_lines[r["invoice_id"]] = invoice_line_rows(r)
            batch.invoice_events[r["event_id"]] = invoice_event_row(r, m.partition, m.offset)
        elif m.topic == BILLING_SYNC:
            batch.sync_status[(r["invoice_id"], r["system"])] = sync_row(r)
            batch.sync_events[r["event_id"]] = sync_event_row(r)
        elif m.topic == BILLING_OUTCOMES:
            batch.outcomes[r["command_id"]] = outcome_row(r)
        else:
            batch.dead_letters[(m.topic, m.partition, m.offset)] = dead_letter_row(m, r)
    except (DecodeError, KeyError, TypeError, ValueError) as exc:
        batch.dead_letters[(m.topic, m.partition, m.offset)] = rejected_row(m, exc, at)


def build(messages: Iterable[Message], at: dt.datetime) -> Batch:
    batch = Batch()
    for m in messages:
        add(batch, m, at)
    return batch
