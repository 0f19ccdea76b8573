"""Encoding and sending the app's external events (Avro, our codec)."""
from __future__ import annotations

import uuid

from backoffice.health import Finding
from schemas.codec import encode
from workers import clock
from workers.topology import outcomes_out


def outcome_record(*, command_id: str, tenant_id: str, command: str, ok: bool, message: str,
                   findings: tuple[Finding, ...] = (), batch_id: str | None = None,
                   invoice_ids: tuple[str, ...] = ()) -> dict:
    return {"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"outcome:{command_id}")), "tenant_id": tenant_id,
            "occurred_at": clock.now(), "command_id": command_id, "command": command, "ok": ok, "message": message,
            "findings": [{"severity": f.severity.value, "code": f.code, "message": f.message, "ref": f.ref}
                         for f in findings],
            "batch_id": batch_id, "invoice_ids": list(invoice_ids)}


async def send_outcome(**kwargs) -> None:
    record = outcome_record(**kwargs)
    await outcomes_out.send(key=record["command_id"].encode(), value=encode("CommandOutcome", record))
