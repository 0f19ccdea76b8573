"""Size limits at the decode edge: a message is measured before it is decoded, and every
string, bytes and array field of the decoded record before it touches any state.

Why here: a 1 MiB account name, fee description or command reason decodes fine, then is
forwarded (re-keyed Billto nodes, pay-line descriptions in LinesChunk/Settle, approvals'
original bytes) into internal messages that exceed the broker's limit: the worker died
with MessageSizeTooLargeError and met the same message again after each restart.

What the defaults guarantee (infra.settings: max_message_bytes 32 KiB, max_field_bytes
1 KiB, max_array_items 64, max_key_bytes 512), against the broker's and the producer's
1 MiB (1,048,576 bytes) per record:
- a re-keyed BilltoNode (billto-by-tenant) holds at most 14 strings of <= 1 KiB plus
  fixed-size numbers and the state codec's header and framing (< 2 KiB): < 17 KiB;
- a kept approval (LedgerRecord.approvals, LinesChunk.approvals) is the original message:
  <= 32 KiB; a Placement holds <= 14 strings and <= 64 bill rates: < 20 KiB;
- a PayLine carries <= 12 strings, each an id or a description built from <= 3 of them
  plus < 100 characters: < 12 * 3 KiB + 1 KiB = 37 KiB; a LineCommand (credit) likewise;
- LinesChunk and Settle are cut by *measured* size (workers.sizing, 256 KiB budget) and
  one more item adds at most 37 + 32 + 20 KiB = 89 KiB: < 345 KiB < 1 MiB;
- a dead letter carries at most max_dead_letter_value_bytes (64 KiB) of the original
  plus a key <= 512 bytes and a reason <= 4 KiB (schemas.mapping.dead_letter_record).
The settings' upper bounds keep this true when raised: with 4 KiB fields and 128 KiB
messages one item adds <= 12 * 3 * 4 KiB + 128 KiB + 128 KiB = 400 KiB, so a cut message
stays < 656 KiB; a dead letter <= 512 KiB + 4.5 KiB.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.codec import Decoded, decode
from schemas.mapping import InvalidEvent
from schemas.topics import TOPIC_SCHEMA


class OversizedMessage(InvalidEvent):
    code = "OVERSIZED_MESSAGE"


class OversizedKey(InvalidEvent):
    code = "OVERSIZED_KEY"


class OversizedField(InvalidEvent):
    code = "OVERSIZED_FIELD"


class WrongSchema(InvalidEvent):
    """A record of another schema than the topic carries (e.g. a timesheet on billing.commands)."""

    code = "WRONG_SCHEMA"


@dataclass(frozen=True, slots=True)
class SizeLimits:
    max_message_bytes: int = 32 * 1024
    max_key_bytes: int = 512
    max_field_bytes: int = 1024
    max_array_items: int = 64


DEFAULT_SIZES = SizeLimits()


def check_envelope(key: bytes | None, value: bytes | None, limits: SizeLimits = DEFAULT_SIZES) -> None:
    """Before decoding: the whole message and its key."""
    if key is not None and len(key) > limits.max_key_bytes:
        raise OversizedKey(f"key of {len(key)} bytes exceeds {limits.max_key_bytes}")
    if value is not None and len(value) > limits.max_message_bytes:
        raise OversizedMessage(f"message of {len(value)} bytes exceeds {limits.max_message_bytes}")


def check_fields(record: Any, limits: SizeLimits = DEFAULT_SIZES, path: str = "") -> None:
    """Every string/bytes field <= max_field_bytes (UTF-8), every array <= max_array_items."""
    if isinstance(record, dict):
        for name, value in record.items():
            check_fields(value, limits, f"{path}.{name}" if path else name)
    elif isinstance(record, list):
        if len(record) > limits.max_array_items:
            raise OversizedField(f"{path}: {len(record)} items exceed {limits.max_array_items}")
        for index, value in enumerate(record):
            check_fields(value, limits, f"{path}[{index}]")
    elif isinstance(record, str):
        # a str of n characters is at most 4n UTF-8 bytes: encode only when it might be too long
        if len(record) * 4 > limits.max_field_bytes and len(record.encode()) > limits.max_field_bytes:
            raise OversizedField(f"{path}: {len(record.encode())} bytes exceed {limits.max_field_bytes}")
    elif isinstance(record, bytes):
        if len(record) > limits.max_field_bytes:
            raise OversizedField(f"{path}: {len(record)} bytes exceed {limits.max_field_bytes}")


def decode_bounded(value: bytes | None, *, topic: str, key: bytes | None = None, partition: int | None = None,
                   offset: int | None = None, limits: SizeLimits = DEFAULT_SIZES) -> Decoded:
    """Measure, decode, check the record is the topic's schema, check every field's size.

    Raises DecodeError or one of the InvalidEvent subclasses above (each with a code)."""
    check_envelope(key, value, limits)
    decoded = decode(value, topic=topic, partition=partition, offset=offset)
    expected = TOPIC_SCHEMA.get(topic)
    if expected is not None and decoded.schema_name != expected:
        raise WrongSchema(f"{topic} carries {expected} records, got a {decoded.schema_name}")
    check_fields(decoded.record, limits)
    return decoded
