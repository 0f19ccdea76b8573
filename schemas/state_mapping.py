"""Dataclass <-> Avro datum mapping for worker state, driven by the dataclasses' type hints.

The .avsc files under schemas/state/ are the contract; this module derives, once per class,
(1) the Avro schema the dataclass needs (used to write a new schema version and by the contract
test to check the committed schema still covers every field) and (2) two generated functions,
dataclass -> Avro datum and Avro datum -> dataclass, compiled with exec so that the hot path
(a placement's ledger on every event) is a few dict/attribute accesses per field.

Type mapping: str/int/bool/bytes as Avro primitives (int as long); Decimal as a string (exact:
`str` and `Decimal()` round-trip the digits and the exponent, which the decimal logical type,
with one fixed scale, cannot); date as int/date, datetime as long/timestamp-micros (a naive
datetime is taken as UTC, and comes back aware in UTC); time as long/time-micros; StrEnum as an Avro enum; `X | None` as
a union; tuple[X, ...], list[X] and frozenset[X] as arrays; tuple[A, B] as a record of f0, f1;
dict[str, V] as a map, dict[K, V] with other keys as an array of key/value records; a nested
dataclass as a named record. Other types need a `Custom` mapping (e.g. BilltoHierarchy).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

NAMESPACE = "backoffice.state"
_PRIMITIVE = {str: "string", int: "long", bool: "boolean", bytes: "bytes"}
_LOGICAL = {dt.date: {"type": "int", "logicalType": "date"},
            dt.datetime: {"type": "long", "logicalType": "timestamp-micros"},
            dt.time: {"type": "long", "logicalType": "time-micros"}}


@dataclass(frozen=True)
class Custom:
    """A non-dataclass type carried as a record: its Avro schema (a record named `name`, built from
    other mapped types' schemas by `schema(mapper)`), and the two conversions."""

    name: str
    schema: Callable[["Mapper"], dict]
    to_avro: Callable[[Any], Any]
    from_avro: Callable[[Any], Any]


def _optional(hint) -> Any | None:
    """X for `X | None` / Optional[X], else None."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
        raise TypeError(f"unsupported union {hint!r}: only X | None")
    return None


def _is_identity(hint) -> bool:
    return hint in _PRIMITIVE or hint in _LOGICAL


class Mapper:
    """Schemas and converters for a family of dataclasses (one namespace, shared named types)."""

    def __init__(self, customs: dict[type, Custom] | None = None, namespace: str = NAMESPACE) -> None:
        self.customs = dict(customs or {})
        self.namespace = namespace
        self._to: dict[Any, Callable] = {}
        self._from: dict[Any, Callable] = {}
        self._count = 0

    # ---------------------------------------------------------------- names
    def type_name(self, hint) -> str:
        """The Avro name a hint defines (records, enums) or a readable tag for container names."""
        if hint in self.customs:
            return self.customs[hint].name
        if isinstance(hint, type) and (dataclasses.is_dataclass(hint) or issubclass(hint, enum.Enum)):
            return hint.__name__
        if hint in _PRIMITIVE or hint in _LOGICAL or hint is Decimal:
            return hint.__name__.capitalize()
        inner = _optional(hint)
        if inner is not None:
            return "Opt" + self.type_name(inner)
        args = typing.get_args(hint)
        if typing.get_origin(hint) is None:
            raise TypeError(f"no Avro mapping for {hint!r}")
        return typing.get_origin(hint).__name__.capitalize() + "".join(self.type_name(a) for a in args
                                                                       if a is not Ellipsis)

    # ---------------------------------------------------------------- schemas
    def schema(self, cls, name: str | None = None) -> dict:
        """A self-contained Avro schema for `cls` (each named type defined at its first use)."""
        return self._schema(cls, set())

    def _schema(self, hint, defined: set[str]) -> Any:
        if hint in _PRIMITIVE:
            return _PRIMITIVE[hint]
        if hint in _LOGICAL:
            return dict(_LOGICAL[hint])
        if hint is Decimal:
            return "string"
        inner = _optional(hint)
        if inner is not None:
            return ["null", self._schema(inner, defined)]
        name = self.type_name(hint)
        full = f"{self.namespace}.{name}"
        if hint in self.customs:
            if full in defined:
                return full
            defined.add(full)
            return self.customs[hint].schema(_Scoped(self, defined))
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            if full in defined:
                return full
            defined.add(full)
            return {"type": "enum", "name": name, "namespace": self.namespace,
                    "symbols": [m.value for m in hint]}
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if full in defined:
                return full
            defined.add(full)
            hints = typing.get_type_hints(hint)
            fields = []
            for f in dataclasses.fields(hint):
                fields.append(self._field(f.name, hints[f.name], f, defined))
            return {"type": "record", "name": name, "namespace": self.namespace, "fields": fields}
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (tuple, list, frozenset, set) and (origin is not tuple or args[-1:] == (Ellipsis,)):
            return {"type": "array", "items": self._schema(args[0], defined)}
        if origin is tuple:
            if full in defined:
                return full
            defined.add(full)
            return {"type": "record", "name": name, "namespace": self.namespace,
                    "fields": [{"name": f"f{i}", "type": self._schema(a, defined)} for i, a in enumerate(args)]}
        if origin is dict:
            key, value = args
            if key is str:
                return {"type": "map", "values": self._schema(value, defined)}
            pair = f"{self.namespace}.KV{self.type_name(key)}{self.type_name(value)}"
            if pair in defined:
                return {"type": "array", "items": pair}
            defined.add(pair)
            return {"type": "array", "items": {
                "type": "record", "name": pair.rsplit(".", 1)[1], "namespace": self.namespace,
                "fields": [{"name": "key", "type": self._schema(key, defined)},
                           {"name": "value", "type": self._schema(value, defined)}]}}
        raise TypeError(f"no Avro mapping for {hint!r}")

    def _field(self, name: str, hint, f: dataclasses.Field, defined: set[str]) -> dict:
        out: dict[str, Any] = {"name": name}
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        inner = _optional(hint)
        if default is dataclasses.MISSING:
            out["type"] = self._schema(hint, defined)
            return out
        if inner is not None and default is not None:          # X | None = <an X>: X first in the union
            out["type"] = [self._schema(inner, defined), "null"]
            out["default"] = self._default(inner, default)
        else:
            out["type"] = self._schema(hint, defined)
            out["default"] = self._default(hint, default)
        return out

    def _default(self, hint, value) -> Any:
        """A Python default as Avro JSON (the default of the union's first branch)."""
        if value is None:
            return None
        datum = self.to_avro(hint)(value)
        if isinstance(datum, tuple):            # a union branch in tuple notation
            datum = datum[1]
        if isinstance(datum, dt.time) and datum.tzinfo is None:     # time-micros: the underlying long
            return ((datum.hour * 60 + datum.minute) * 60 + datum.second) * 1_000_000 + datum.microsecond
        if isinstance(datum, (dt.date, dt.datetime, dt.time)) or isinstance(datum, bytes):
            raise TypeError(f"default {value!r}: dates and bytes defaults are not supported")
        return datum

    # ---------------------------------------------------------------- converters
    def to_avro(self, hint) -> Callable[[Any], Any]:
        fn = self._to.get(hint)
        if fn is None:
            fn = self._to[hint] = self._converter(hint, True)
        return fn

    def from_avro(self, hint) -> Callable[[Any], Any]:
        fn = self._from.get(hint)
        if fn is None:
            fn = self._from[hint] = self._converter(hint, False)
        return fn

    def _converter(self, hint, out: bool) -> Callable[[Any], Any]:
        if _is_identity(hint):
            return _identity
        if hint is Decimal:
            return str if out else Decimal
        if hint in self.customs:
            c = self.customs[hint]
            return c.to_avro if out else c.from_avro
        inner = _optional(hint)
        if inner is not None:
            conv = self._converter(inner, out)
            if out:     # tuple notation: fastavro takes the branch named, without validating the datum
                tag = self._branch(inner)
                return lambda v: None if v is None else (tag, conv(v))
            if conv is _identity:
                return _identity
            return lambda v: None if v is None else conv(v)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            if out:
                return _enum_value
            members = hint._value2member_map_
            return members.__getitem__
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            cache = self._to if out else self._from
            if hint in cache:
                return cache[hint]
            # a placeholder first: a recursive type resolves through the cache
            cell: list[Callable] = []
            cache[hint] = lambda v: cell[0](v)
            fn = self._compile(hint, out)
            cell.append(fn)
            cache[hint] = fn
            return fn
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (tuple, list, frozenset, set) and (origin is not tuple or args[-1:] == (Ellipsis,)):
            conv = self._converter(args[0], out)
            if out:
                return list if conv is _identity else (lambda v: [conv(x) for x in v])
            make = tuple if origin is tuple else origin
            return make if conv is _identity else (lambda v: make([conv(x) for x in v]))
        if origin is tuple:
            convs = [self._converter(a, out) for a in args]
            names = [f"f{i}" for i in range(len(args))]
            if out:
                return lambda v: {n: c(x) for n, c, x in zip(names, convs, v)}
            return lambda v: tuple(c(v[n]) for n, c in zip(names, convs))
        if origin is dict:
            kc, vc = self._converter(args[0], out), self._converter(args[1], out)
            if args[0] is str:
                if vc is _identity:
                    return dict
                return lambda v: {k: vc(x) for k, x in v.items()}
            if out:
                return lambda v: [{"key": kc(k), "value": vc(x)} for k, x in v.items()]
            return lambda v: {kc(p["key"]): vc(p["value"]) for p in v}
        raise TypeError(f"no Avro mapping for {hint!r}")

    def _branch(self, hint) -> str:
        """How fastavro names the union branch that `hint`'s values take (tuple notation)."""
        schema = self._schema(hint, set())
        if isinstance(schema, str):
            return schema if "." in schema or schema in _PRIMITIVE.values() else f"{self.namespace}.{schema}"
        if schema.get("type") in ("record", "enum", "fixed"):
            return f"{schema.get('namespace', self.namespace)}.{schema['name']}"
        return schema["type"]         # array, map, or a logical type's underlying int / long

    def _compile(self, cls, out: bool) -> Callable[[Any], Any]:
        """One generated function per class: identity fields inline, the others through a helper."""
        hints = typing.get_type_hints(cls)
        env: dict[str, Any] = {"_cls": cls}
        parts = []
        for i, f in enumerate(dataclasses.fields(cls)):
            conv = self._converter(hints[f.name], out)
            src = f"o.{f.name}" if out else f"d[{f.name!r}]"
            if conv is _identity:
                expr = src
            elif conv is str:
                expr = f"str({src})"
            elif conv is _enum_value:
                expr = f"{src}.value"
            else:
                env[f"_c{i}"] = conv
                expr = f"_c{i}({src})"
            parts.append(f"{f.name!r}: {expr}" if out else expr)
        self._count += 1
        fname = f"_{'to' if out else 'from'}_{cls.__name__}_{self._count}"
        if out:
            body = "return {" + ", ".join(parts) + "}"
        else:
            body = "return _cls(" + ", ".join(parts) + ")"
        code = f"def {fname}({'o' if out else 'd'}):\n    {body}\n"
        exec(compile(code, f"<state mapping {cls.__qualname__}>", "exec"), env)
        return env[fname]


class _Scoped:
    """The mapper as a Custom's schema() sees it: `schema(hint)` shares the caller's named types."""

    def __init__(self, mapper: Mapper, defined: set[str]) -> None:
        self.mapper, self.defined, self.namespace = mapper, defined, mapper.namespace

    def schema(self, hint) -> Any:
        return self.mapper._schema(hint, self.defined)


def _identity(v):
    return v


def _enum_value(v):
    return v.value
