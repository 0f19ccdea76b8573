"""The worker's state codec: which value type is stored under which versioned state schema.

Faust picks a table's serializer from its value type (bytes -> raw), so tables store bytes and
`StateTable` encodes at the boundary; internal topics use the "state" Faust codec below. Both
write Avro under the schemas of schemas/state/ (schemas/state_codec.py: header, versions,
resolution), mapped to and from our dataclasses by schemas/state_mapping.py. The domain
classes know nothing of it.

A new field on a stored dataclass needs a new schema version: `python -m workers.state NAME`
writes `schemas/state/NAME.v<N+1>.avsc` from the dataclasses as they are now (give the field a
default, so the older versions still resolve); tests/contract/test_state_schemas.py fails until
it is done, and refuses a committed version edited in place.
"""
from __future__ import annotations

import functools
import importlib
import io
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import fastavro
from faust.serializers import codecs

from backoffice.billto import BilltoHierarchy
from backoffice.model import BilltoNode
from schemas.state_codec import LOCK, STATE_DIR, StateDecodeError, StateSchemas, fingerprint
from schemas.state_mapping import Custom, Mapper

__all__ = ["StateDecodeError", "StateTable", "dumps", "loads", "encoded_size", "BINDINGS"]


def _hierarchy_schema(scope) -> dict:
    return {"type": "record", "name": "BilltoHierarchy", "namespace": scope.namespace,
            "fields": [{"name": "nodes", "type": scope.schema(dict[str, BilltoNode])}]}


def _hierarchy_custom() -> Custom:
    to_node = MAPPER.to_avro(BilltoNode)
    from_node = MAPPER.from_avro(BilltoNode)
    return Custom("BilltoHierarchy", _hierarchy_schema,
                  lambda h: {"nodes": {k: to_node(n) for k, n in h.nodes.items()}},
                  lambda d: BilltoHierarchy({k: from_node(n) for k, n in d["nodes"].items()}))


MAPPER = Mapper()
MAPPER.customs[BilltoHierarchy] = _hierarchy_custom()


@dataclass(frozen=True)
class Binding:
    """A state schema name and the Python value stored under it (a dataclass, by import path so
    that this module needs none of the agents' modules; or a plain value with its own mapping)."""

    name: str
    target: str                      # "module:Class"
    to_avro: Callable[[Any], Any] | None = None
    from_avro: Callable[[Any], Any] | None = None

    @functools.cached_property
    def cls(self) -> type:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def encoder(self) -> Callable[[Any], Any]:
        return self.to_avro or MAPPER.to_avro(self.cls)

    def decoder(self) -> Callable[[Any], Any]:
        return self.from_avro or MAPPER.from_avro(self.cls)


#: Every value the workers store or send among themselves, by state schema name.
BINDINGS: dict[str, Binding] = {b.name: b for b in (
    # tables
    Binding("billto_node", "backoffice.model:BilltoNode"),
    Binding("ledger_record", "workers.ledger_logic:LedgerRecord"),
    Binding("window_state", "workers.window_logic:WindowState"),
    Binding("tenant_state", "workers.window_logic:TenantState"),
    Binding("batch", "backoffice.model:Batch"),
    Binding("invoice_record", "workers.agents_documents:InvoiceRecord"),
    Binding("command_seen", "builtins:str", lambda s: {"command": s}, lambda d: d["command"]),
    Binding("sync_status", "builtins:dict", dict, dict),
    # internal topics (LinesChunk also in the window-chunks table, BilltoNode on billto-by-tenant)
    Binding("lines_chunk", "workers.messages:LinesChunk"),
    Binding("window_end", "workers.messages:WindowEnd"),
    Binding("collect", "workers.messages:Collect"),
    Binding("settle", "workers.messages:Settle"),
    Binding("release", "workers.messages:Release"),
    Binding("sweep_parked", "workers.messages:SweepParked"),
    Binding("line_command", "workers.messages:LineCommand"),
    Binding("document_command", "workers.messages:DocumentCommand"),
)}


class _Lazy(dict):
    """name -> converter, compiled on first use (only the bound classes in use get imported)."""

    def __init__(self, make: Callable[[str], Callable[[Any], Any]]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, name: str) -> Callable[[Any], Any]:
        if name not in BINDINGS:
            raise KeyError(name)
        fn = self[name] = self.make(name)
        return fn


class _Registry:
    """Schemas loaded and converters compiled on first use (the agents' modules are imported by then)."""

    @functools.cached_property
    def schemas(self) -> StateSchemas:
        return StateSchemas(STATE_DIR)

    def __init__(self) -> None:
        self.encoders = _Lazy(lambda name: BINDINGS[name].encoder())
        self.decoders = _Lazy(lambda name: BINDINGS[name].decoder())

    @functools.cached_property
    def by_target(self) -> dict[str, str]:
        """"module:Class" -> schema name: a value's type is looked up without importing every bound class."""
        return {b.target: name for name, b in BINDINGS.items() if b.to_avro is None}


REGISTRY = _Registry()


def dumps(value: Any, name: str | None = None) -> bytes:
    """`value` under its state schema (`name`, or the one bound to its dataclass)."""
    if name is None:
        cls = type(value)
        try:
            name = REGISTRY.by_target[f"{cls.__module__}:{cls.__qualname__}"]
        except KeyError:
            raise TypeError(f"{type(value).__qualname__} has no state schema (workers.state.BINDINGS)") from None
    return REGISTRY.schemas.encode(name, REGISTRY.encoders[name](value))


def loads(data: bytes) -> Any:
    name, datum = REGISTRY.schemas.decode(data)
    try:
        decode = REGISTRY.decoders[name]
    except KeyError:
        raise StateDecodeError(f"state schema {name} has no binding in workers.state") from None
    return decode(datum)


@functools.lru_cache(maxsize=None)
def _size_schema(cls: type):
    return fastavro.parse_schema(MAPPER.schema(cls), named_schemas={})


def encoded_size(obj: Any) -> int:
    """Bytes of `obj`'s Avro body as it travels inside an internal message (a dataclass, or a
    tuple of dataclasses and strings)."""
    if isinstance(obj, tuple):
        return sum(encoded_size(x) for x in obj)
    if isinstance(obj, (str, bytes)):
        return len(obj.encode() if isinstance(obj, str) else obj) + 5       # the length prefix: <= 5 bytes
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, _size_schema(type(obj)), MAPPER.to_avro(type(obj))(obj))
    return buf.tell()


class StateCodec(codecs.Codec):
    """Faust codec "state": internal-topic values in the state schemas."""

    def _dumps(self, obj: Any) -> bytes:
        return dumps(obj)

    def _loads(self, s: bytes) -> Any:
        return loads(s)


codecs.register("state", StateCodec())


class StateTable:
    """A Faust table of bytes seen as decoded state values, written under one state schema."""

    def __init__(self, table, name: str | None = None) -> None:
        self.table = table
        self.name = name

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
        self.table[key] = dumps(value, self.name)

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


class ObservedTable(StateTable):
    """A StateTable whose every write goes through `observe(key, before, after) -> (stored, then)`:
    `stored` is what the table keeps, `then()` runs right after the write (e.g. sends events).
    One place that sees every write, whichever agent made it (billing.paylines hangs here).

    `before` costs no second decode in the common read-then-write: the last value read is
    kept with its bytes, and reused when the store still holds those very bytes."""

    def __init__(self, table, observe: Callable[[bytes, Any, Any], tuple[Any, Callable[[], None]]],
                 resend: Callable[[bytes, Any], Callable[[], None]] | None = None, name: str | None = None) -> None:
        super().__init__(table, name)
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
        raw = dumps(stored, self.name)
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


def schema_for(name: str) -> dict:
    """The Avro schema the bound value needs today (a new version's file is written from it)."""
    binding = BINDINGS[name]
    if binding.to_avro is not None:
        return json.loads(STATE_DIR.joinpath(f"{name}.v1.avsc").read_text())
    return MAPPER.schema(binding.cls)


def main(argv: list[str]) -> int:
    """python -m workers.state NAME...: write NAME's next version if the dataclasses changed, and
    lock every new file (lock.json never changes a committed version's entry)."""
    from workers.main import load_agents

    load_agents()           # every agent module, so that every bound class imports

    schemas = StateSchemas(STATE_DIR)
    for name in argv or sorted(BINDINGS):
        wanted = schema_for(name)
        current = schemas.current.get(name)
        if current is not None and schemas.files[name][current].schema == wanted:
            print(f"{name}: v{current} is up to date")
            continue
        version = (current or 0) + 1
        path = STATE_DIR / f"{name}.v{version}.avsc"
        path.write_text(json.dumps(wanted, indent=2) + "\n")
        print(f"{name}: wrote {path.name}")
    lock = json.loads(LOCK.read_text()) if LOCK.exists() else {}
    for path in sorted(STATE_DIR.glob("*.avsc")):
        lock.setdefault(path.name, fingerprint(json.loads(path.read_text())))
    LOCK.write_text(json.dumps(dict(sorted(lock.items())), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
