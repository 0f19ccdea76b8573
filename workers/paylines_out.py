"""billing.paylines: the ledger table's write hook (workers.state.ObservedTable) diffing each
write with workers.paylines_logic and sending the events right after the write, from the
producer buffer (send_soon: the hook is synchronous, like Faust's own changelog writes).

A crash after the write and before the producer delivered loses those events, and the replay
finds the record already written: so a write that changes nothing a reader sees (a replayed
ATS event or settle), and a replayed command the ledger skips as seen (ObservedTable.keep with
changed=False), re-send the record's current lines with their current versions
(`paylines_logic.current`)."""
from __future__ import annotations

from typing import Any, Callable

from schemas.codec import encode
from workers import clock
from workers.paylines_logic import changes, current, stamped


def _nothing() -> None:
    return None


def _sender(topic, events: list[dict]) -> Callable[[], None]:
    if not events:
        return _nothing
    # Encoded before the write: a record the schema refuses fails the write, not half of it.
    encoded = [(e["pay_line_id"].encode(), encode("PayLineEvent", e)) for e in events]

    def send() -> None:
        for event_key, value in encoded:
            topic.send_soon(key=event_key, value=value)
    return send


def observer(topic) -> Callable[[bytes, Any, Any], tuple[Any, Callable[[], None]]]:
    def observe(key: bytes, before: Any, after: Any):
        events = changes(before, after, clock.now())
        if not events:          # a re-write (a replayed settle...): what the crash may have lost
            return after, _sender(topic, current(after, clock.now()) if before is not None else [])
        return stamped(after, events), _sender(topic, events)
    return observe


def resender(topic) -> Callable[[bytes, Any], Callable[[], None]]:
    """For a replay that writes nothing: the record's current lines, to send."""
    def resend(key: bytes, record: Any) -> Callable[[], None]:
        return _sender(topic, current(record, clock.now()) if record is not None else [])
    return resend
