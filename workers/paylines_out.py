"""billing.paylines: the ledger table's write hook (workers.state.ObservedTable) diffing each
write with workers.paylines_logic and sending the events right after the write, from the
producer buffer (send_soon: the hook is synchronous, like Faust's own changelog writes)."""
from __future__ import annotations

from typing import Any, Callable

from schemas.codec import encode
from workers import clock
from workers.paylines_logic import changes, stamped


def _nothing() -> None:
    return None


def observer(topic) -> Callable[[bytes, Any, Any], tuple[Any, Callable[[], None]]]:
    def observe(key: bytes, before: Any, after: Any):
        events = changes(before, after, clock.now())
        if not events:
            return after, _nothing
        # Encoded before the write: a record the schema refuses fails the write, not half of it.
        encoded = [(e["pay_line_id"].encode(), encode("PayLineEvent", e)) for e in events]

        def send() -> None:
            for event_key, value in encoded:
                topic.send_soon(key=event_key, value=value)
        return stamped(after, events), send
    return observe
