"""ats.accounts -> the Billto hierarchy, replicated to every worker (GlobalTable)."""
from __future__ import annotations

import logging

from schemas.codec import DecodeError, decode
from schemas.mapping import InvalidEvent, account_from_record
from workers.app import app
from workers.deadletter import DeadLetters
from workers.topology import accounts_topic, billto

log = logging.getLogger(__name__)

dead_letters = DeadLetters(app)


def billto_key(tenant_id: str, entity_id: str) -> bytes:
    return f"{tenant_id}:{entity_id}".encode()


@app.agent(accounts_topic)
async def ingest_accounts(stream):
    """Keep the newest version of each Billto entity; older or equal versions are replays."""
    async for event in stream.events():
        message = event.message
        try:
            node = account_from_record(decode(message.value, topic=message.topic, partition=message.partition,
                                              offset=message.offset).record)
        except (DecodeError, InvalidEvent) as exc:
            await dead_letters.send(message, exc)
            continue
        key = billto_key(node.tenant_id, node.entity_id)
        current = billto.get(key)
        if current is None or node.version > current.version:
            billto[key] = node
