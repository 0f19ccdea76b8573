"""Faust tables holding our domain dataclasses.

Faust picks a table's serializer from its value type (bytes -> raw, else json), and
JSON cannot carry frozen dataclasses with Decimals, so tables store bytes and this
wrapper pickles at the boundary. Only our own workers write these changelogs.
"""
from __future__ import annotations

import pickle
from typing import Any, Iterator

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
