"""Hypothesis strategies generated from an Avro schema, so every schema is
round-tripped with records it has never seen."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import strategies as st

UTC = dt.timezone.utc


def _decimal(schema: dict) -> st.SearchStrategy:
    scale, precision = schema["scale"], schema["precision"]
    bound = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
    return st.decimals(min_value=-bound, max_value=bound, places=scale, allow_nan=False, allow_infinity=False)


def strategy_for(schema, named: dict | None = None) -> st.SearchStrategy:
    named = {} if named is None else named
    if isinstance(schema, str):
        if schema in named:
            return named[schema]
        return {
            "null": st.none(), "boolean": st.booleans(), "string": st.text(max_size=20),
            "bytes": st.binary(max_size=30), "int": st.integers(-(2**31), 2**31 - 1),
            "long": st.integers(-(2**63), 2**63 - 1), "double": st.floats(allow_nan=False),
        }[schema]
    if isinstance(schema, list):
        return st.one_of([strategy_for(s, named) for s in schema])
    logical = schema.get("logicalType")
    if logical == "decimal":
        return _decimal(schema)
    if logical == "date":
        return st.dates(dt.date(1971, 1, 1), dt.date(2100, 12, 31))
    if logical == "timestamp-millis":
        return st.datetimes(dt.datetime(1971, 1, 1), dt.datetime(2100, 1, 1)).map(
            lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=UTC))
    kind = schema["type"]
    if kind == "enum":
        strat = st.sampled_from(schema["symbols"])
    elif kind == "array":
        return st.lists(strategy_for(schema["items"], named), max_size=4)
    elif kind == "record":
        fields = {}
        full = _full_name(schema)
        named[full] = st.deferred(lambda: named["__rec__" + full])
        for f in schema["fields"]:
            fields[f["name"]] = strategy_for(f["type"], named)
        strat = st.fixed_dictionaries(fields)
        named["__rec__" + full] = strat
    elif isinstance(kind, (dict, list)) or kind in ("string", "long", "int", "bytes", "boolean", "null"):
        return strategy_for(kind, named)
    else:
        raise NotImplementedError(kind)
    named[_full_name(schema)] = strat
    named[schema["name"]] = strat
    return strat


def _full_name(schema: dict) -> str:
    name = schema["name"]
    return name if "." in name else f"{schema.get('namespace', 'backoffice.events')}.{name}"
