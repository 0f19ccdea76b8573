"""Pure conversions between Avro records (dicts as fastavro gives them) and the
domain dataclasses of backoffice.model.

Structural problems (negative hours, non-positive quantity, an unknown enum
symbol, a missing id) raise InvalidEvent with a reason an operator can act on;
whether a placement exists or has a bill rate is the domain's business.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any, Callable, TypeVar

from backoffice.figures import complete
from backoffice.model import (
    Address, BatchOption, BillingCycle, BilltoNode, Contact, DocumentKind, DocumentStatus, EntityType,
    CreditAllocation, FeeKind, FeeRealized, Invoice, InvoiceLine, InvoicingMode, LineCategory, LineItemStatus, PayCode,
    Placement, PlacementStatus, PlacementType, TimesheetApproval, TimesheetEntry,
)

E = TypeVar("E")
UTC = dt.timezone.utc


class InvalidEvent(ValueError):
    """A decoded event whose content breaks the contract's rules."""

    code = "INVALID_EVENT"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _enum(cls: Callable[[str], E], value: Any, field: str) -> E:
    try:
        return cls(value)
    except ValueError:
        raise InvalidEvent(f"{field}: unknown value {value!r}") from None


def _required(record: dict, *names: str) -> None:
    for name in names:
        if not record.get(name):
            raise InvalidEvent(f"{name} is required and empty")


def _contact(rec: dict | None) -> Contact | None:
    return None if rec is None else Contact(rec["name"], rec.get("email"), rec.get("phone"))


def _contact_rec(c: Contact | None) -> dict | None:
    return None if c is None else {"name": c.name, "email": c.email, "phone": c.phone}


def _address(rec: dict | None) -> Address | None:
    return None if rec is None else Address(rec.get("line1", ""), rec.get("line2", ""), rec.get("city", ""),
                                            rec.get("region", ""), rec.get("postal_code", ""), rec.get("country", ""))


def _address_rec(a: Address | None) -> dict | None:
    if a is None:
        return None
    return {"line1": a.line1, "line2": a.line2, "city": a.city, "region": a.region,
            "postal_code": a.postal_code, "country": a.country}


def account_from_record(rec: dict) -> BilltoNode:
    _required(rec, "tenant_id", "entity_id")
    entity_type = _enum(EntityType, rec["entity_type"], "entity_type")
    if entity_type is not EntityType.COMPANY and not rec.get("parent_id"):
        raise InvalidEvent(f"{entity_type.value} {rec['entity_id']} has no parent_id")
    if rec.get("tax_rate", Decimal(0)) < 0:
        raise InvalidEvent(f"tax_rate must not be negative, got {rec['tax_rate']}")
    if rec.get("net_terms_days", 0) < 0:
        raise InvalidEvent(f"net_terms_days must not be negative, got {rec['net_terms_days']}")
    return BilltoNode(
        tenant_id=rec["tenant_id"], entity_type=entity_type, entity_id=rec["entity_id"],
        parent_id=rec.get("parent_id"), account_name=rec.get("account_name") or None,
        ap_contact=_contact(rec.get("ap_contact")), address=_address(rec.get("address")),
        invoicing_mode=_enum(InvoicingMode, rec.get("invoicing_mode", "SEMI_AUTOMATIC"), "invoicing_mode"),
        net_terms_days=rec.get("net_terms_days", 30), tax_rate=rec.get("tax_rate", Decimal(0)),
        default_template=rec.get("default_template"), currency=rec.get("currency", "USD"),
        version=rec.get("version", 0),
    )


def account_to_record(node: BilltoNode, *, event_id: str, occurred_at: dt.datetime) -> dict:
    return {
        "event_id": event_id, "tenant_id": node.tenant_id, "occurred_at": occurred_at,
        "entity_type": node.entity_type.value, "entity_id": node.entity_id, "parent_id": node.parent_id,
        "account_name": node.account_name, "ap_contact": _contact_rec(node.ap_contact),
        "address": _address_rec(node.address), "invoicing_mode": node.invoicing_mode.value,
        "net_terms_days": node.net_terms_days, "tax_rate": node.tax_rate, "default_template": node.default_template,
        "currency": node.currency, "version": node.version,
    }


def placement_from_record(rec: dict) -> Placement:
    _required(rec, "tenant_id", "placement_id", "company_id")
    rates = []
    for item in rec.get("bill_rates", []):
        if item["rate"] < 0:
            raise InvalidEvent(f"bill rate for {item['pay_code']} must not be negative, got {item['rate']}")
        rates.append((_enum(PayCode, item["pay_code"], "bill_rates.pay_code"), item["rate"]))
    start, end = rec.get("start_date"), rec.get("end_date")
    if start and end and end < start:
        raise InvalidEvent(f"end_date {end} is before start_date {start}")
    return Placement(
        tenant_id=rec["tenant_id"], placement_id=rec["placement_id"],
        placement_type=_enum(PlacementType, rec["placement_type"], "placement_type"),
        candidate_name=rec.get("candidate_name", ""), company_id=rec["company_id"],
        client_id=rec.get("client_id"), office_id=rec.get("office_id"),
        batch_option=_enum(BatchOption, rec.get("batch_option", "ACCOUNT"), "batch_option"),
        purchase_order=rec.get("purchase_order"), ap_contact_override=_contact(rec.get("ap_contact_override")),
        billing_cycle=_enum(BillingCycle, rec.get("billing_cycle", "WEEKLY"), "billing_cycle"),
        bill_rates=tuple(rates), start_date=start, end_date=end,
        status=_enum(PlacementStatus, rec["status"], "status"), version=rec["version"],
        job_title=rec.get("job_title", ""),
    )


def placement_to_record(p: Placement, *, event_id: str, occurred_at: dt.datetime) -> dict:
    return {
        "event_id": event_id, "tenant_id": p.tenant_id, "occurred_at": occurred_at,
        "placement_id": p.placement_id, "placement_type": p.placement_type.value,
        "candidate_name": p.candidate_name, "job_title": p.job_title, "company_id": p.company_id,
        "client_id": p.client_id, "office_id": p.office_id, "batch_option": p.batch_option.value,
        "purchase_order": p.purchase_order, "ap_contact_override": _contact_rec(p.ap_contact_override),
        "billing_cycle": p.billing_cycle.value,
        "bill_rates": [{"pay_code": c.value, "rate": r} for c, r in p.bill_rates],
        "start_date": p.start_date, "end_date": p.end_date, "status": p.status.value, "version": p.version,
    }


def timesheet_from_record(rec: dict) -> TimesheetApproval:
    _required(rec, "tenant_id", "timesheet_id", "placement_id", "event_id")
    entries = []
    for e in rec["entries"]:
        if e["hours"] < 0:
            raise InvalidEvent(f"timesheet {rec['timesheet_id']}: negative hours {e['hours']} on {e['work_date']}")
        if e["work_date"] > rec["week_ending"] or (rec["week_ending"] - e["work_date"]).days > 6:
            raise InvalidEvent(f"timesheet {rec['timesheet_id']}: work date {e['work_date']} is outside the week "
                               f"ending {rec['week_ending']}")
        entries.append(TimesheetEntry(e["work_date"], _enum(PayCode, e["pay_code"], "entries.pay_code"), e["hours"]))
    return TimesheetApproval(
        tenant_id=rec["tenant_id"], event_id=rec["event_id"], timesheet_id=rec["timesheet_id"],
        placement_id=rec["placement_id"], week_ending=rec["week_ending"], entries=tuple(entries),
        approved_at=rec["approved_at"], version=rec["version"], approver=rec.get("approver", ""),
    )


def timesheet_to_record(t: TimesheetApproval, *, occurred_at: dt.datetime | None = None) -> dict:
    return {
        "event_id": t.event_id, "tenant_id": t.tenant_id, "occurred_at": occurred_at or t.approved_at,
        "timesheet_id": t.timesheet_id, "placement_id": t.placement_id, "week_ending": t.week_ending,
        "entries": [{"work_date": e.work_date, "pay_code": e.pay_code.value, "hours": e.hours} for e in t.entries],
        "approved_at": t.approved_at, "approver": t.approver, "version": t.version,
    }


def fee_from_record(rec: dict) -> FeeRealized:
    _required(rec, "tenant_id", "fee_id", "placement_id", "event_id")
    if rec["quantity"] <= 0:
        raise InvalidEvent(f"fee {rec['fee_id']}: quantity must be positive, got {rec['quantity']}")
    if rec["unit_price"] < 0:
        raise InvalidEvent(f"fee {rec['fee_id']}: unit price must not be negative, got {rec['unit_price']}")
    return FeeRealized(
        tenant_id=rec["tenant_id"], event_id=rec["event_id"], fee_id=rec["fee_id"],
        placement_id=rec["placement_id"], kind=_enum(FeeKind, rec["kind"], "kind"),
        description=rec["description"], quantity=rec["quantity"], unit_price=rec["unit_price"],
        effective_date=rec["effective_date"], taxable=rec.get("taxable", True),
        catalog_item_id=rec.get("catalog_item_id"), version=rec.get("version", 0),
    )


def fee_to_record(f: FeeRealized, *, occurred_at: dt.datetime) -> dict:
    return {
        "event_id": f.event_id, "tenant_id": f.tenant_id, "occurred_at": occurred_at, "fee_id": f.fee_id,
        "placement_id": f.placement_id, "kind": f.kind.value, "catalog_item_id": f.catalog_item_id,
        "description": f.description, "quantity": f.quantity, "unit_price": f.unit_price,
        "effective_date": f.effective_date, "taxable": f.taxable, "version": f.version,
    }


def _line_rec(line: InvoiceLine) -> dict:
    return {
        "line_id": line.line_id, "pay_line_id": line.pay_line_id, "placement_id": line.placement_id,
        "description": line.description, "quantity": line.quantity, "rate": line.rate, "amount": line.amount,
        "taxable": line.taxable, "category": line.category.value, "status": line.status.value,
        "pay_code": line.pay_code, "work_date": line.work_date,
        "credited_line_id": line.credited_line_id, "credited_invoice_id": line.credited_invoice_id,
        "work_start": line.work_start,
        "priced_quantity": line.priced_quantity, "priced_rate": line.priced_rate, "tax_share": line.tax_share,
        "line_total": line.line_total,
    }


def _line(rec: dict) -> InvoiceLine:
    return InvoiceLine(
        line_id=rec["line_id"], pay_line_id=rec["pay_line_id"], placement_id=rec["placement_id"],
        description=rec["description"], quantity=rec["quantity"], rate=rec["rate"], amount=rec["amount"],
        taxable=rec["taxable"], category=LineCategory(rec["category"]), status=LineItemStatus(rec["status"]),
        pay_code=rec.get("pay_code"), work_date=rec.get("work_date"),
        credited_line_id=rec.get("credited_line_id"), credited_invoice_id=rec.get("credited_invoice_id"),
        work_start=rec.get("work_start"),
        priced_quantity=rec.get("priced_quantity"), priced_rate=rec.get("priced_rate"), tax_share=rec.get("tax_share"),
        line_total=rec.get("line_total"),
    )


def invoice_to_record(inv: Invoice, *, event_id: str, event_type: str, occurred_at: dt.datetime,
                      document_uris: list[str] | tuple[str, ...] = (), sha256: list[str] | tuple[str, ...] = (),
                      error: str | None = None) -> dict:
    return {
        "event_id": event_id, "tenant_id": inv.tenant_id, "occurred_at": occurred_at, "event_type": event_type,
        "invoice_id": inv.invoice_id, "batch_id": inv.batch_id, "kind": inv.kind.value, "number": inv.number,
        "status": inv.status.value, "account_id": inv.account_id, "account_name": inv.account_name,
        "grouping_key": inv.grouping_key, "currency": inv.currency, "lines": [_line_rec(x) for x in inv.lines],
        "subtotal": inv.subtotal, "tax": inv.tax, "total": inv.total, "tax_rate": inv.tax_rate,
        "issue_date": inv.issue_date, "due_date": inv.due_date, "period_start": inv.period_start,
        "period_end": inv.period_end, "net_terms_days": inv.net_terms_days,
        "invoicing_mode": inv.invoicing_mode.value, "bill_to_contact": _contact_rec(inv.bill_to_contact),
        "bill_to_address": _address_rec(inv.bill_to_address), "purchase_order": inv.purchase_order,
        "template": inv.template, "version": inv.version, "document_uris": list(document_uris),
        "document_sha256": list(sha256), "error": error,
        "allocations": [{"invoice_id": a.invoice_id, "amount": a.amount} for a in inv.allocations],
    }


def invoice_from_record(rec: dict) -> Invoice:
    """The document with its figures; one written before they travelled gets them from the domain."""
    return complete(Invoice(
        tenant_id=rec["tenant_id"], invoice_id=rec["invoice_id"], batch_id=rec["batch_id"],
        kind=DocumentKind(rec["kind"]), account_id=rec["account_id"], account_name=rec["account_name"],
        grouping_key=rec["grouping_key"], currency=rec["currency"], lines=tuple(_line(x) for x in rec["lines"]),
        subtotal=rec["subtotal"], tax=rec["tax"], total=rec["total"], tax_rate=rec["tax_rate"],
        issue_date=rec["issue_date"], due_date=rec["due_date"], period_start=rec["period_start"],
        period_end=rec["period_end"], net_terms_days=rec["net_terms_days"],
        invoicing_mode=InvoicingMode(rec["invoicing_mode"]), number=rec.get("number"),
        status=DocumentStatus(rec["status"]), bill_to_contact=_contact(rec.get("bill_to_contact")),
        bill_to_address=_address(rec.get("bill_to_address")), purchase_order=rec.get("purchase_order"),
        template=rec.get("template"), version=rec.get("version", 0),
        allocations=tuple(CreditAllocation(a["invoice_id"], a["amount"]) for a in rec.get("allocations") or ()),
    ))


#: What a dead letter keeps of the original by default; larger values are truncated (see below).
DEAD_LETTER_VALUE_BYTES = 64 * 1024
DEAD_LETTER_KEY_BYTES = 512
DEAD_LETTER_REASON_CHARS = 4096


def dead_letter_record(*, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                       error: BaseException, first_seen: dt.datetime, tenant_id: str = "",
                       max_value_bytes: int = DEAD_LETTER_VALUE_BYTES) -> dict:
    """The dead letter of one message. A value larger than `max_value_bytes` (or a key larger
    than DEAD_LETTER_KEY_BYTES) is kept truncated, and the reason then says the original size
    and its sha256, so the dead letter itself always fits the broker's limit."""
    reason = getattr(error, "reason", None) or str(error)
    if len(reason) > DEAD_LETTER_REASON_CHARS:
        reason = reason[:DEAD_LETTER_REASON_CHARS] + f"... ({len(reason)} characters)"
    value = value or b""
    if len(value) > max_value_bytes:
        reason += (f" [original value truncated: {len(value)} bytes, sha256 {hashlib.sha256(value).hexdigest()}, "
                   f"first {max_value_bytes} bytes kept]")
        value = value[:max_value_bytes]
    if key is not None and len(key) > DEAD_LETTER_KEY_BYTES:
        reason += (f" [original key truncated: {len(key)} bytes, sha256 {hashlib.sha256(key).hexdigest()}, "
                   f"first {DEAD_LETTER_KEY_BYTES} bytes kept]")
        key = key[:DEAD_LETTER_KEY_BYTES]
    return {
        "event_id": f"{topic}/{partition}/{offset}", "tenant_id": tenant_id[:DEAD_LETTER_KEY_BYTES],
        "original_topic": topic, "original_partition": partition, "original_offset": offset, "original_key": key,
        "original_value": value, "error_type": type(error).__name__, "error": reason,
        "first_seen": first_seen,
    }
