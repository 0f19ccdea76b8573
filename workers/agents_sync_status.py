"""billing.sync -> the latest AR/GL sync result per invoice (shown by the ops API)."""
from __future__ import annotations

from schemas.codec import DecodeError, decode
from workers.app import app
from workers.guard import failure_stops_worker
from workers.deadletter import DeadLetters
from workers.topology import sync_status, sync_topic

dead_letters = DeadLetters(app)


@app.agent(sync_topic)
async def keep_sync_status(stream):
    async for event in stream.events():
        async with failure_stops_worker("keep_sync_status", event.message):
            await _keep(event.message)


async def _keep(message) -> None:
    try:
        rec = decode(message.value, topic=message.topic, partition=message.partition, offset=message.offset).record
    except DecodeError as exc:
        await dead_letters.send(message, exc)
        return
    key = rec["invoice_id"].encode()
    current = sync_status.get(key)
    if current is None or current["occurred_at"] <= rec["occurred_at"]:
        sync_status[key] = {"status": rec["status"], "system": rec["system"], "external_id": rec["external_id"],
                            "error": rec["error"], "attempts": rec["attempts"], "occurred_at": rec["occurred_at"]}
