"""Invoices to and from plain JSON-able dicts (ISO dates, decimals as strings), for the CLI and demo."""
from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from backoffice.model import Invoice, Placement, TimesheetApproval

T = TypeVar("T")


def to_dict(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [to_dict(v) for v in value]
    return value


def _convert(kind: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return _convert(options[0], value, where)
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return from_dict(kind, value, where)
    if kind is Decimal:
        if isinstance(value, float):
            raise ValueError(f"{where}: write amounts as strings, not floats ({value!r})")
        return Decimal(str(value))
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if kind is dt.date:
        return dt.date.fromisoformat(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    return value


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build a model dataclass from a dict, converting nested dataclasses, dates, decimals and enums."""
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{where or cls.__name__}: unknown field(s) {', '.join(sorted(unknown))}")
    values = {k: _convert(hints[k], v, f"{where or cls.__name__}.{k}") for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"{where or cls.__name__}: {exc}") from exc


def invoice_from_dict(data: dict[str, Any]) -> Invoice:
    return from_dict(Invoice, data)


def placement_from_dict(data: dict[str, Any]) -> Placement:
    return from_dict(Placement, data)


def approval_from_dict(data: dict[str, Any]) -> TimesheetApproval:
    return from_dict(TimesheetApproval, data)
