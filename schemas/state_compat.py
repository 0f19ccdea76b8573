"""Can a reader schema read what a writer schema wrote? Avro's resolution rules, on the JSON.

Used by the contract test between consecutive versions of each state schema (schemas/state/):
version N+1 must read everything version N wrote (a table's changelog keeps old values until
they are rewritten; a restarted worker reads them). Stricter than Avro on one point: a logical
type may not change (a date read as a timestamp is a bug, not an evolution).
"""
from __future__ import annotations

from typing import Any

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_PROMOTIONS = {("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"), ("long", "double"),
               ("float", "double"), ("string", "bytes"), ("bytes", "string")}


def _names(schema: Any, namespace: str, out: dict[str, dict]) -> None:
    """Every named type defined in `schema`, by full name (and short name)."""
    if isinstance(schema, list):
        for branch in schema:
            _names(branch, namespace, out)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed", "error"):
            ns = schema.get("namespace", namespace)
            name = schema["name"]
            full = name if "." in name else f"{ns}.{name}"
            out[full] = schema
            out.setdefault(name.rsplit(".", 1)[-1], schema)
            for f in schema.get("fields", ()):
                _names(f["type"], ns, out)
        elif kind == "array":
            _names(schema["items"], namespace, out)
        elif kind == "map":
            _names(schema["values"], namespace, out)
        elif isinstance(kind, (dict, list)):
            _names(kind, namespace, out)


class _Side:
    def __init__(self, schema: Any) -> None:
        self.named: dict[str, dict] = {}
        _names(schema, schema.get("namespace", "") if isinstance(schema, dict) else "", self.named)

    def resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            return self.named.get(schema) or self.named[schema.rsplit(".", 1)[-1]]
        if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)) and len(schema) == 1:
            return self.resolve(schema["type"])
        return schema


def _kind(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, str):
        return schema
    kind = schema["type"]
    return "record" if kind == "error" else kind


def _logical(schema: Any) -> str | None:
    return schema.get("logicalType") if isinstance(schema, dict) else None


def problems(writer: Any, reader: Any) -> list[str]:
    """What stops `reader` from reading data written with `writer` ([] when nothing does)."""
    w, r = _Side(writer), _Side(reader)
    out: list[str] = []
    _check(w, r, writer, reader, "$", out, set())
    return out


def _check(w: _Side, r: _Side, ws: Any, rs: Any, path: str, out: list[str], seen: set) -> None:
    ws, rs = w.resolve(ws), r.resolve(rs)
    wk, rk = _kind(ws), _kind(rs)
    if wk == "union":
        for i, branch in enumerate(ws):
            _check(w, r, branch, rs, f"{path}|{i}", out, seen)
        return
    if rk == "union":
        for branch in rs:
            trial: list[str] = []
            _check(w, r, ws, branch, path, trial, seen)
            if not trial:
                return
        out.append(f"{path}: the reader's union has no branch for the writer's {wk}")
        return
    if _logical(ws) != _logical(rs):
        out.append(f"{path}: logical type {_logical(ws)} became {_logical(rs)}")
        return
    if wk in _PRIMITIVES or rk in _PRIMITIVES:
        if wk != rk and (wk, rk) not in _PROMOTIONS:
            out.append(f"{path}: {wk} cannot be read as {rk}")
        return
    if wk != rk:
        out.append(f"{path}: {wk} cannot be read as {rk}")
        return
    if wk == "array":
        _check(w, r, ws["items"], rs["items"], f"{path}[]", out, seen)
    elif wk == "map":
        _check(w, r, ws["values"], rs["values"], f"{path}{{}}", out, seen)
    elif wk == "enum":
        missing = [s for s in ws["symbols"] if s not in rs["symbols"]]
        if missing and "default" not in rs:
            out.append(f"{path}: enum {rs['name']} lost symbols {missing} (and has no default)")
    elif wk == "fixed":
        if ws["size"] != rs["size"]:
            out.append(f"{path}: fixed size {ws['size']} became {rs['size']}")
    elif wk == "record":
        if ws["name"].rsplit(".", 1)[-1] != rs["name"].rsplit(".", 1)[-1]:
            out.append(f"{path}: record {ws['name']} became {rs['name']}")
            return
        if (id(ws), id(rs)) in seen:          # a recursive type: checked once
            return
        seen.add((id(ws), id(rs)))
        written = {f["name"]: f for f in ws["fields"]}
        for f in rs["fields"]:
            source = next((written[n] for n in (f["name"], *f.get("aliases", ())) if n in written), None)
            if source is None:
                if "default" not in f:
                    out.append(f"{path}.{f['name']}: new field without a default")
            else:
                _check(w, r, source["type"], f["type"], f"{path}.{f['name']}", out, seen)
