"""ats.accounts -> the Billto hierarchy, in a table partitioned by tenant.

The accounts topic is keyed by entity; the window assembler and the scheduler work per
tenant. So the accounts agent re-keys each entity onto an internal topic partitioned by
tenant (co-partitioned with window-lines), and the table is written there: the worker
that assembles a tenant's windows holds that tenant's whole hierarchy, current as of
everything the group has consumed.

Why not a GlobalTable replicated to every worker: another worker's writes reach it
through a standby changelog read that may lag behind the consumed input (windows saw
NO_BILLTO), and on the embedded broker a worker whose global standby held records
stalled after its first assignment. A partitioned table has neither problem.
"""
from __future__ import annotations

import logging

from backoffice.errors import DomainError
from infra.settings import load_settings
from ops import metrics
from schemas.codec import DecodeError
from schemas.mapping import InvalidEvent
from workers.accounts_logic import account_node
from workers.app import app
from workers.guard import failure_stops_worker, injected_fault
from workers.deadletter import DeadLetters
from workers.partitioning import partition_for
from workers.topology import TENANT_PARTITIONS, accounts_topic, billto, billto_by_tenant

log = logging.getLogger(__name__)

dead_letters = DeadLetters(app)
SETTINGS = load_settings()
SIZES, LIMITS = SETTINGS.sizes(), SETTINGS.limits()


def billto_key(tenant_id: str, entity_id: str) -> bytes:
    return f"{tenant_id}:{entity_id}".encode()


@app.agent(accounts_topic)
async def ingest_accounts(stream):
    """Decode, dead-letter garbage, forward to the tenant's partition."""
    async for event in stream.events():
        async with failure_stops_worker("ingest_accounts", event.message):
            await _forward_account(event.message)


async def _forward_account(message) -> None:
    metrics.EVENTS_CONSUMED.labels(message.topic).inc()
    try:
        node = account_node(message.value, key=message.key, partition=message.partition, offset=message.offset,
                            sizes=SIZES, limits=LIMITS)
    except (DecodeError, InvalidEvent, DomainError) as exc:
        await dead_letters.send(message, exc)
        return
    injected_fault("ingest_accounts", message.topic)
    await billto_by_tenant.send(key=billto_key(node.tenant_id, node.entity_id), value=node,
                                partition=partition_for(node.tenant_id.encode(), TENANT_PARTITIONS))


@app.agent(billto_by_tenant)
async def keep_billto(stream):
    """Keep the newest version of each Billto entity; older or equal versions are replays."""
    async for event in stream.events():
        node = event.value
        async with failure_stops_worker("keep_billto", event.message):
            injected_fault("keep_billto", type(node).__name__)
            key = billto_key(node.tenant_id, node.entity_id)
            current = billto.get(key)
            if current is None or node.version > current.version:
                billto[key] = node
