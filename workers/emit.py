"""Sending the app's events: external ones encoded with our codec (Avro), and the Settle
messages every lines-owning agent sends to the ledger partitions."""
from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Mapping

from backoffice.health import Finding
from schemas.codec import encode
from workers import clock
from workers.messages import Settle
from workers.topology import ledger_commands, outcomes_out
from workers.window_logic import split_assignments


def outcome_record(*, command_id: str, tenant_id: str, command: str, ok: bool, message: str,
                   findings: tuple[Finding, ...] = (), batch_id: str | None = None,
                   invoice_ids: tuple[str, ...] = ()) -> dict:
    return {"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"outcome:{command_id}")), "tenant_id": tenant_id,
            "occurred_at": clock.now(), "command_id": command_id, "command": command, "ok": ok, "message": message,
            "findings": [{"severity": f.severity.value, "code": f.code, "message": f.message, "ref": f.ref}
                         for f in findings],
            "batch_id": batch_id, "invoice_ids": list(invoice_ids)}


async def send_outcome(**kwargs):
    """Returns the send's future: await it for the broker's ack before writing anything that says
    the command was answered (a table write is local at once; the send waits in the producer)."""
    record = outcome_record(**kwargs)
    return await outcomes_out.send(key=record["command_id"].encode(), value=encode("CommandOutcome", record))


async def send_settles(by_partition: Mapping[int, Settle]) -> list:
    """Each ledger partition's Settle, split so that every message stays well under the
    broker's limit; returns the sends' futures (await them for the broker's acks)."""
    pending = []
    for partition, settle in by_partition.items():
        for part, final in split_assignments(settle.assignments):
            pending.append(await ledger_commands.send(key=b"settle", partition=partition,
                                                      value=replace(settle, assignments=part, final=final)))
    return pending
