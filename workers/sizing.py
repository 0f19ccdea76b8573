"""Internal messages cut by measured size, so that none can exceed the broker's limit.

The broker and the producer refuse a record over 1 MiB (MessageSizeTooLargeError stopped
the worker). The inputs are bounded at the decode edge (schemas/bounds.py, where the
arithmetic is), so one pay line, placement or kept approval is at most ~37 KiB encoded;
a message cut at BUDGET plus one item stays under 256 + 89 KiB, far from 1 MiB.
"""
from __future__ import annotations

from typing import Any

BUDGET = 256 * 1024


def encoded_size(obj: Any) -> int:
    """Bytes of `obj` as the internal topics encode it (its share of a message, framing aside)."""
    from workers.state import encoded_size as size      # workers.state imports the agents' types lazily

    return size(obj)


def size_of_raw(raw: bytes | None) -> int:
    return len(raw or b"") + 16
