"""Consolidation (seed 003): pending lines are grouped per tenant and Billto account,
then sub-grouped by the placement's Invoice Batch option (Account, Placement,
Purchase Order, AP Contact). Credit lines form credit memos grouped the same way,
never mixed with invoice lines. Ids derive from (tenant, batch, kind, account,
grouping key), so a replay drafts the very same documents.

A group too big for one document (more than `InvoiceSize.max_lines` lines, or lines
weighing more than `max_bytes`) continues on numbered continuation documents: the first
keeps the group's id and key, the k-th has the key `<key>#00k`, so they take consecutive
numbers in order. One document then always fits a broker message (1 MiB), whatever the
consolidation holds.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping

from backoffice.billto import BilltoHierarchy, ResolvedBillto
from backoffice.errors import MixedCurrency, NotConsolidatable
from backoffice.model import (
    BatchOption, DocumentKind, DocumentStatus, Invoice, InvoiceLine, InvoicingMode, PayLine, Placement,
)
from backoffice.figures import settle
from backoffice.money import ZERO


def stable_id(prefix: str, *parts: str, length: int = 20) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]
    return f"{prefix}-{digest}"


def grouping_key(placement: Placement, resolved: ResolvedBillto) -> str:
    option = placement.batch_option
    if option is BatchOption.PLACEMENT:
        return f"PLACEMENT:{placement.placement_id}"
    if option is BatchOption.PURCHASE_ORDER:
        return f"PO:{placement.purchase_order or '-'}"
    if option is BatchOption.AP_CONTACT:
        contact = resolved.contact
        return f"AP:{(contact.email or contact.name) if contact else '-'}"
    return "ACCOUNT"


def line_currency(resolved: ResolvedBillto) -> str:
    """A line is billed in its Billto account's currency (nodes above or below it don't matter)."""
    return resolved.account.currency


def currency_mismatch(line: PayLine, resolved: ResolvedBillto, invoice: Invoice) -> str | None:
    """Why `line` cannot join `invoice` (a different currency), or None."""
    currency = line_currency(resolved)
    if currency == invoice.currency:
        return None
    return (f"pay line {line.pay_line_id} bills {resolved.account.account_name} in {currency}; "
            f"invoice {invoice.number or invoice.invoice_id} is in {invoice.currency}")


def invoice_line(line: PayLine) -> InvoiceLine:
    return InvoiceLine(
        line_id=stable_id("li", line.pay_line_id, length=16), pay_line_id=line.pay_line_id,
        placement_id=line.placement_id, description=line.description, quantity=line.quantity, rate=line.rate,
        amount=line.amount, taxable=line.taxable, category=line.category,
        pay_code=line.pay_code.value if line.pay_code else None, work_date=line.work_date,
        credited_line_id=line.credited_line_id, credited_invoice_id=line.credited_invoice_id,
        work_start=line.work_start)


@dataclass(frozen=True, slots=True)
class InvoiceSize:
    """How much one document may hold before its group continues on another one."""

    max_lines: int = 250
    max_bytes: int = 384 * 1024


DEFAULT_SIZE = InvoiceSize()


def line_bytes(line: PayLine) -> int:
    """An upper bound of one line's share of a document as the topics carry it: its texts
    (UTF-8) twice (the pay line id and the invoice line's copy) plus the fixed-size fields."""
    texts = (line.pay_line_id, line.placement_id, line.description, line.timesheet_id, line.fee_id,
             line.catalog_item_id, line.credited_line_id, line.credited_invoice_id, line.reason, line.invoice_id)
    return 256 + 2 * sum(len(t.encode()) for t in texts if t)


@dataclass(frozen=True, slots=True)
class Group:
    kind: DocumentKind
    resolved: ResolvedBillto
    key: str
    purchase_order: str | None
    lines: tuple[PayLine, ...]


def group_lines(lines: Iterable[PayLine], placements: Mapping[str, Placement], hierarchy: BilltoHierarchy
                ) -> list[Group]:
    """Bucket lines by (kind, account, grouping key); deterministic order."""
    buckets: dict[tuple, list[PayLine]] = {}
    meta: dict[tuple, tuple[ResolvedBillto, str | None]] = {}
    for line in lines:
        placement = placements[line.placement_id]
        resolved = hierarchy.resolve(placement)
        kind = DocumentKind.CREDIT_MEMO if line.is_credit else DocumentKind.INVOICE
        key = (kind.value, resolved.account.entity_id, grouping_key(placement, resolved))
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = bucket = []
            po = placement.purchase_order if placement.batch_option is BatchOption.PURCHASE_ORDER else None
            meta[key] = (resolved, po)
        bucket.append(line)
    groups = []
    for key in sorted(buckets):
        resolved, po = meta[key]
        groups.append(Group(DocumentKind(key[0]), resolved, key[2], po,
                            tuple(sorted(buckets[key], key=lambda x: (x.work_date, x.pay_line_id)))))
    return groups


def continuation_key(key: str, part: int) -> str:
    """The grouping key of the part-th document of a group (1 is the group itself)."""
    return key if part == 1 else f"{key}#{part:03d}"


def split_group(group: Group, size: InvoiceSize = DEFAULT_SIZE,
                cost: Callable[[PayLine], int] = line_bytes) -> list[Group]:
    """The group as one or more documents of at most `size` each, lines in the group's order.
    A single line heavier than max_bytes still goes alone on its own document."""
    parts: list[list[PayLine]] = [[]]
    used = 0
    for line in group.lines:
        weight = cost(line)
        if parts[-1] and (len(parts[-1]) >= size.max_lines or used + weight > size.max_bytes):
            parts.append([])
            used = 0
        parts[-1].append(line)
        used += weight
    if len(parts) == 1:
        return [group]
    return [replace(group, key=continuation_key(group.key, k), lines=tuple(p)) for k, p in enumerate(parts, 1)]


def draft(group: Group, *, tenant_id: str, batch_id: str, issue_date: dt.date, period_start: dt.date,
          period_end: dt.date) -> Invoice:
    """One unnumbered document. The account's default template is an invoice template, so a
    credit memo gets none and the registry's credit-memo default applies."""
    account = group.resolved.account
    lines = tuple(invoice_line(x) for x in group.lines)
    prefix = "cm" if group.kind is DocumentKind.CREDIT_MEMO else "inv"
    return settle(Invoice(
        tenant_id=tenant_id, invoice_id=stable_id(prefix, tenant_id, batch_id, group.kind.value, account.entity_id,
                                                  group.key),
        batch_id=batch_id, kind=group.kind, account_id=account.entity_id, account_name=account.account_name or "",
        grouping_key=group.key, currency=line_currency(group.resolved), lines=lines, subtotal=ZERO, tax=ZERO, total=ZERO,
        tax_rate=account.tax_rate, issue_date=issue_date, due_date=issue_date + dt.timedelta(days=account.net_terms_days),
        period_start=period_start, period_end=period_end, net_terms_days=account.net_terms_days,
        invoicing_mode=account.invoicing_mode, bill_to_contact=group.resolved.contact,
        bill_to_address=account.address, purchase_order=group.purchase_order,
        template=account.default_template if group.kind is DocumentKind.INVOICE else None))


def consolidate(lines: Iterable[PayLine], placements: Mapping[str, Placement], hierarchy: BilltoHierarchy, *,
                tenant_id: str, batch_id: str, issue_date: dt.date, period_start: dt.date,
                period_end: dt.date, size: InvoiceSize = DEFAULT_SIZE,
                cost: Callable[[PayLine], int] = line_bytes) -> list[Invoice]:
    """Unnumbered drafts, one per group (or per part of a group too big for one document),
    in a deterministic order."""
    return [draft(part, tenant_id=tenant_id, batch_id=batch_id, issue_date=issue_date, period_start=period_start,
                  period_end=period_end)
            for g in group_lines(lines, placements, hierarchy) for part in split_group(g, size, cost)]


def consolidate_into(existing: Invoice, lines: Iterable[PayLine], placements: Mapping[str, Placement],
                     hierarchy: BilltoHierarchy, size: InvoiceSize = DEFAULT_SIZE) -> Invoice:
    """Manual Consolidate: add line items to an invoice of the same account still in New,
    refused when the invoice would hold more than `size.max_lines` lines."""
    if existing.status is not DocumentStatus.NEW:
        raise NotConsolidatable(f"invoice {existing.number or existing.invoice_id} is {existing.status.value}, "
                                f"only New invoices take more lines")
    new_lines = list(existing.lines)
    present = {x.pay_line_id for x in existing.lines}
    for line in lines:
        if line.pay_line_id in present:
            continue
        resolved = hierarchy.resolve(placements[line.placement_id])
        if resolved.account.entity_id != existing.account_id:
            raise NotConsolidatable(f"pay line {line.pay_line_id} bills {resolved.account.account_name}, "
                                    f"not {existing.account_name}")
        if line.is_credit != existing.is_credit_memo:
            raise NotConsolidatable(f"pay line {line.pay_line_id}: credit lines and invoice lines never mix")
        mismatch = currency_mismatch(line, resolved, existing)
        if mismatch:
            raise MixedCurrency(mismatch)
        new_lines.append(invoice_line(line))
    if len(new_lines) > size.max_lines:
        raise NotConsolidatable(f"invoice {existing.number or existing.invoice_id} would hold {len(new_lines)} "
                                f"lines; one document holds at most {size.max_lines} (generate the rest instead)")
    return settle(replace(existing, lines=tuple(new_lines), version=existing.version + 1))


def open_invoices_for(account_id: str, invoices: Iterable[Invoice], kind: DocumentKind = DocumentKind.INVOICE
                      ) -> list[Invoice]:
    """Consolidation targets: the account's documents of that kind still in New."""
    return [i for i in invoices if i.account_id == account_id and i.kind is kind and i.status is DocumentStatus.NEW]


def skipped_by_window(placement: Placement, hierarchy: BilltoHierarchy) -> bool:
    """Manual-mode accounts are left to on-demand generation."""
    return hierarchy.resolve(placement).account.invoicing_mode is InvoicingMode.MANUAL
