"""Faust tables holding our domain dataclasses.

Faust picks a table's serializer from its value type (bytes -> raw, else json), and
JSON cannot carry frozen dataclasses with Decimals, so tables store bytes and this
wrapper pickles at the boundary. Only our own workers write these changelogs.
"""
from __future__ import annotations

import pickle
from typing import Any, Callable, Iterator

_PROTOCOL = pickle.HIGHEST_PROTOCOL


def dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=_PROTOCOL)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


class PickledTable:
    def __init__(self, table) -> None:
        self.table = table

    def get(self, key: bytes, default: Any = None) -> Any:
        # The store itself, not Table.get: that one asks the store twice (contains, then get).
        try:
            raw = self.table.data[key]
        except KeyError:
            return default
        return loads(raw)

    def __getitem__(self, key: bytes) -> Any:
        return loads(self.table[key])

    def __setitem__(self, key: bytes, value: Any) -> None:
        self.table[key] = dumps(value)

    def __delitem__(self, key: bytes) -> None:
        del self.table[key]

    def __contains__(self, key: bytes) -> bool:
        return key in self.table

    def __len__(self) -> int:
        return len(self.table)

    def items(self) -> Iterator[tuple[bytes, Any]]:
        for key, raw in self.table.items():
            yield key, loads(raw)

    def keys(self) -> Iterator[bytes]:
        return iter(self.table.keys())


class ObservedTable(PickledTable):
    """A PickledTable whose every write goes through `observe(key, before, after) -> (stored, then)`:
    `stored` is what the table keeps, `then()` runs right after the write (e.g. sends events).
    One place that sees every write, whichever agent made it (billing.paylines hangs here).

    `before` costs no second unpickle in the common read-then-write: the last value read is
    kept with its bytes, and reused when the store still holds those very bytes."""

    def __init__(self, table, observe: Callable[[bytes, Any, Any], tuple[Any, Callable[[], None]]],
                 resend: Callable[[bytes, Any], Callable[[], None]] | None = None) -> None:
        super().__init__(table)
        self._observe = observe
        self._resend = resend
        self._last: tuple[bytes, bytes, Any] | None = None

    def _remember(self, key: bytes, raw: bytes) -> Any:
        value = loads(raw)
        self._last = (key, raw, value)
        return value

    def get(self, key: bytes, default: Any = None) -> Any:
        try:
            raw = self.table.data[key]
        except KeyError:
            return default
        return self._remember(key, raw)

    def __getitem__(self, key: bytes) -> Any:
        return self._remember(key, self.table[key])

    def _before(self, key: bytes) -> Any:
        try:
            raw = self.table.data[key]
        except KeyError:
            return None
        last = self._last
        if last is not None and last[0] == key and last[1] == raw:
            return last[2]
        return loads(raw)

    def __setitem__(self, key: bytes, value: Any) -> None:
        stored, then = self._observe(key, self._before(key), value)
        raw = dumps(stored)
        self.table[key] = raw
        self._last = (key, raw, stored)
        then()

    def keep(self, key: bytes, value: Any, changed: bool) -> None:
        """Write `value` if `changed`; else the message was a replay (or a no-op) and the observer
        re-sends what the record holds: a crash may have come between its write and the send."""
        if changed:
            self[key] = value
        elif self._resend is not None:
            self._resend(key, self.get(key))()
