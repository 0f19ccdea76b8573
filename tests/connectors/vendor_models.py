"""Request bodies read with the vendors' own SDK models (test-only dependencies):

- Xero: `xero-python` (generated from Xero's xero_accounting.yaml OpenAPI spec): every key must
  be one of the model's attribute_map names, every value of the model's openapi_types, then
  the SDK's own deserializer builds the model (its enum and required-field setters run).
- QuickBooks Online: `python-quickbooks` objects: every key must be an attribute of the
  entity object (or one of its class_dict / list_dict / detail_dict members), Refs carry a
  string `value`, numbers are numbers; then `from_json` builds the object.

On top, the references each vendor requires on a create (a document's customer/contact,
each line's item, an allocation's invoice). The test servers call these on every body they
receive and refuse (and record) the ones that break them, so the whole connector suite runs
through them.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from quickbooks.objects import creditmemo, customer, invoice, item, payment
from quickbooks.objects.base import Ref
from xero_python.accounting import models as xero_models
from xero_python.api_client import ModelFinder
from xero_python.api_client.deserializer import deserialize as xero_deserialize

_XERO_FINDER = ModelFinder(xero_models)
_XERO_PRIMITIVES = {"str": str, "bool": bool, "int": int, "float": (int, float, Decimal)}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+)?$")
_XERO_ROOTS = [(re.compile(r"^(Invoices|CreditNotes|Contacts)$"), None),
               (re.compile(r"^(Invoices|CreditNotes)/[^/]+$"), None),
               (re.compile(r"^CreditNotes/[^/]+/Allocations$"), "Allocations")]


# -- Xero ---------------------------------------------------------------------------------------

def xero_problems(path: str, body: Any) -> list[str]:
    """What xero-python's models refuse in a request body sent to `path` (after /api.xro/2.0/)."""
    root = None
    for pattern, name in _XERO_ROOTS:
        match = pattern.match(path)
        if match:
            root = name or match.group(1)
            break
    if root is None:
        return []
    problems: list[str] = []
    as_sdk = _xero_walk(body, root, root, problems)
    if not problems:
        try:
            xero_deserialize(root, as_sdk, _XERO_FINDER)
        except (ValueError, TypeError, AttributeError) as exc:
            problems.append(f"xero-python {root}: {exc}")
    if not problems:
        problems += _xero_required(root, body)
    return problems


def _xero_walk(value: Any, type_name: str, where: str, problems: list[str]) -> Any:
    """Checks `value` against the SDK's type; returns it as the SDK itself would have sent it
    (Xero takes ISO dates in a request; the SDK's models read MS "/Date(ms)/" dates)."""
    if value is None:
        return None
    if type_name.startswith("list["):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list ({type_name})")
            return value
        return [_xero_walk(v, type_name[5:-1], f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if type_name in _XERO_PRIMITIVES:
        expected = _XERO_PRIMITIVES[type_name]
        if isinstance(value, bool) and type_name != "bool" or not isinstance(value, expected):
            problems.append(f"{where}: {value!r} is not {type_name}")
        return value
    if type_name.startswith(("date", "datetime")):
        if not (isinstance(value, str) and _DATE.match(value)):
            problems.append(f"{where}: {value!r} is not a {type_name}")
            return value
        day = dt.datetime.combine(dt.date.fromisoformat(value[:10]), dt.time(), tzinfo=dt.UTC)
        return f"/Date({int(day.timestamp() * 1000)})/"
    model = _XERO_FINDER.find_model(type_name)
    if not getattr(model, "openapi_types", None):          # an enum: a string of its values
        values = {m.value for m in model} if hasattr(model, "__members__") else None
        if not isinstance(value, str) or (values and value not in values):
            problems.append(f"{where}: {value!r} is not a {type_name}")
        return value
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object ({type_name})")
        return value
    names = {json_name: attr for attr, json_name in model.attribute_map.items()}
    out = {}
    for key, sub in value.items():
        if key not in names:
            problems.append(f"{where}: unknown field {key!r} for xero-python {type_name}")
            continue
        out[key] = _xero_walk(sub, model.openapi_types[names[key]], f"{where}.{key}", problems)
    return out


def _xero_required(root: str, body: dict) -> list[str]:
    problems = []
    for i, element in enumerate(body.get(root) or []):
        where = f"{root}[{i}]"
        if root in ("Invoices", "CreditNotes") and set(element) - {"InvoiceID", "CreditNoteID", "Status"}:
            if not (element.get("Contact") or {}).get("ContactID"):
                problems.append(f"{where}: Contact.ContactID is required")
            if not element.get("LineItems"):
                problems.append(f"{where}: LineItems are required")
        if root == "Allocations" and not (element.get("Invoice") or {}).get("InvoiceID"):
            problems.append(f"{where}: Invoice.InvoiceID is required")
        if root == "Contacts" and not element.get("Name"):
            problems.append(f"{where}: Name is required")
    return problems


# -- QuickBooks Online ----------------------------------------------------------------------------

_QBO_ENTITIES = {"invoice": invoice.Invoice, "creditmemo": creditmemo.CreditMemo, "payment": payment.Payment,
                 "customer": customer.Customer, "item": item.Item}
_QBO_REQUIRED_REFS = {"Invoice": ("CustomerRef",), "CreditMemo": ("CustomerRef",), "Payment": ("CustomerRef",)}


def qbo_problems(endpoint: str, operation: str | None, body: Any) -> list[str]:
    """What python-quickbooks' objects refuse in a body POSTed to /v3/company/{realm}/{endpoint}."""
    if endpoint == "batch":
        problems = []
        for n, entry in enumerate(body.get("BatchItemRequest") or []):
            entity = next((k for k in entry if k not in ("bId", "operation", "optionsData")), None)
            if entity is None or entity.lower() not in _QBO_ENTITIES:
                problems.append(f"BatchItemRequest[{n}]: no entity payload")
                continue
            problems += qbo_problems(entity.lower(), entry.get("operation"), entry[entity])
        return problems
    cls = _QBO_ENTITIES.get(endpoint)
    if cls is None:
        return []
    problems = _qbo_walk(body, cls, cls.__name__)
    if operation in ("void", "delete"):
        return problems + [f"{cls.__name__}: {f} is required to {operation}" for f in ("Id", "SyncToken")
                           if not isinstance(body.get(f), str)]
    if not problems:
        try:
            cls.from_json(body).to_json()
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            problems.append(f"python-quickbooks {cls.__name__}: {exc}")
    problems += [f"{cls.__name__}: {ref}.value is required" for ref in _QBO_REQUIRED_REFS.get(cls.__name__, ())
                 if not (body.get(ref) or {}).get("value")]
    for n, line in enumerate(body.get("Line") or []):
        detail = line.get("SalesItemLineDetail")
        if line.get("DetailType") == "SalesItemLineDetail" and not ((detail or {}).get("ItemRef") or {}).get("value"):
            problems.append(f"{cls.__name__}.Line[{n}]: SalesItemLineDetail.ItemRef.value is required")
    if cls is item.Item and body.get("Type") == "Service" and not (body.get("IncomeAccountRef") or {}).get("value"):
        problems.append("Item: IncomeAccountRef.value is required for a Service item")
    return problems


def _qbo_walk(value: Any, cls: type, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object ({cls.__name__})"]
    blank = cls()
    problems = []
    for key, sub in value.items():
        if key in getattr(cls, "class_dict", {}):
            problems += _qbo_walk(sub, cls.class_dict[key], f"{where}.{key}")
        elif key in getattr(cls, "list_dict", {}):
            if not isinstance(sub, list):
                problems.append(f"{where}.{key}: expected a list")
                continue
            for i, element in enumerate(sub):
                detail = getattr(cls, "detail_dict", {}).get((element or {}).get("DetailType"))
                problems += _qbo_walk(element, detail or cls.list_dict[key], f"{where}.{key}[{i}]")
        elif not hasattr(blank, key):
            problems.append(f"{where}: unknown field {key!r} for python-quickbooks {cls.__name__}")
        else:
            problems += _qbo_scalar(getattr(blank, key), sub, f"{where}.{key}", cls is Ref)
    return problems


# Intuit's XSD types these as strings (IdType, TxnTypeEnum) where python-quickbooks defaults them to 0
_QBO_STRINGS = frozenset({"Id", "SyncToken", "TxnId", "TxnType", "TxnLineId"})


def _qbo_scalar(default: Any, value: Any, where: str, in_ref: bool) -> list[str]:
    if where.rsplit(".", 1)[-1] in _QBO_STRINGS:
        return [] if isinstance(value, str) else [f"{where}: {value!r} is not a string"]
    if in_ref:
        return [] if isinstance(value, str) else [f"{where}: a Ref's {where.rsplit('.', 1)[-1]} must be a string"]
    if isinstance(default, bool):
        return [] if isinstance(value, bool) else [f"{where}: {value!r} is not a boolean"]
    if isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a number"]
    if isinstance(value, (dict, list)) and default is not None and not isinstance(default, (dict, list)):
        return [f"{where}: {type(value).__name__} where python-quickbooks has a scalar"]
    return []
