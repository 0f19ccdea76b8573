"""Read your writes: wait until the projector has stored what the billing topics held at the call
(and a command's outcome with everything it names). Shared by the CLI reads and the ops API."""
from __future__ import annotations

import time

from readmodel import queries as q

#: The topics whose ends a read waits for (what the read model shows comes from them).
WAITED = ("billing.invoices", "billing.paylines", "billing.outcomes", "billing.sync")


class NotCaughtUp(RuntimeError):
    """The projector has not reached the wanted positions in time (or they could not be read)."""


def topic_ends(bootstrap: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    from infra.kafka import consumer_config
    from infra.offsets import log_end_offsets

    consumer = Consumer(consumer_config(bootstrap, None, **{"group.id": "cli-read-ends"}))
    try:
        parts = []
        for topic in WAITED:
            md = consumer.list_topics(topic, timeout=10).topics.get(topic)
            parts += [TopicPartition(topic, p) for p in (md.partitions if md and not md.error else ())]
    finally:
        consumer.close()
    return {k: high for k, (_, high) in log_end_offsets(bootstrap, parts).items()}


def wait_caught_up(engine, group: str, bootstrap: str, timeout: float, command_id: str | None = None,
                   released: str | None = None) -> None:
    """Wait until the projector (consumer group `group`) has stored everything the topics held at the
    call (and, for a command, its outcome and every invoice it names; for a void, its lines no longer
    invoiced on `released`: the ledger frees them after the outcome); NotCaughtUp after `timeout` s."""
    try:
        ends = topic_ends(bootstrap)
    except Exception as exc:   # noqa: BLE001 - librdkafka's errors: say what failed, not a traceback
        raise NotCaughtUp(f"cannot read the topics' ends from {bootstrap} to check the read model is current "
                          f"({exc}); --no-wait reads it as it is") from None
    deadline = time.monotonic() + timeout
    left: dict = {}
    while True:
        left = q.behind(engine, group, ends)
        if command_id is not None and not left:
            done = q.projected_outcome(engine, command_id)
            if done is None:
                left = {("billing.outcomes", command_id): 1}
            elif done["missing_invoices"]:
                left = {("billing.invoices", i): 1 for i in done["missing_invoices"]}
            elif released is not None and (held := q.invoiced_on(engine, released)):
                left = {("billing.paylines", f"lines of {released}"): held}
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if left:
        where = ", ".join(f"{t}[{p}] {n} behind" for (t, p), n in sorted(left.items(), key=str)[:4])
        raise NotCaughtUp(f"the read model has not caught up in {timeout:.0f} s ({where}): is `backoffice projector` "
                          f"running (group {group})?")
