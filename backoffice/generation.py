"""Generate Invoices (seed 000): health check, consolidation, numbering, batch.

One pure function the workers call when a batch window closes or an operator asks
for invoices now. Errors in the health check block the whole run; the caller keeps
every line pending and reports the findings.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping

from backoffice.billto import BilltoHierarchy, BilltoUnresolved
from backoffice.consolidation import DEFAULT_SIZE, InvoiceSize, consolidate, line_bytes, skipped_by_window, stable_id
from backoffice.figures import batch_amounts, category_amounts
from backoffice.health import HealthReport, health_check
from backoffice.model import Batch, DocumentKind, Invoice, LineCategory, PayLine, Placement
from backoffice.numbering import TenantSequence, number_invoices


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    tenant_id: str
    batch_key: str              # window id or command id: the batch id derives from it
    issue_date: dt.date
    period_start: dt.date
    period_end: dt.date
    created_at: dt.datetime
    on_demand: bool = False     # on demand includes manual-mode accounts
    account_id: str | None = None
    first_number: int | None = None


@dataclass(frozen=True)
class GenerationResult:
    report: HealthReport
    invoices: tuple[Invoice, ...] = ()
    batch: Batch | None = None
    sequence: TenantSequence | None = None
    assignments: dict[str, str] = field(default_factory=dict)   # pay_line_id -> invoice_id
    left_pending: tuple[str, ...] = ()                            # considered but not invoiced

    @property
    def blocked(self) -> bool:
        return not self.report.ok


def batch_id_for(tenant_id: str, batch_key: str) -> str:
    return stable_id("batch", tenant_id, batch_key, length=16)


def select_lines(lines: Iterable[PayLine], placements: Mapping[str, Placement], hierarchy: BilltoHierarchy,
                 request: GenerationRequest) -> tuple[list[PayLine], list[str]]:
    """Lines this run invoices, and those it leaves pending (manual mode, other accounts)."""
    chosen, left = [], []
    for line in lines:
        placement = placements.get(line.placement_id)
        if placement is not None:
            try:
                resolved = hierarchy.resolve(placement)
            except BilltoUnresolved:
                chosen.append(line)     # the health check reports it
                continue
            if request.account_id is not None and resolved.account.entity_id != request.account_id:
                left.append(line.pay_line_id)
                continue
            if not request.on_demand and skipped_by_window(placement, hierarchy):
                left.append(line.pay_line_id)
                continue
        chosen.append(line)
    return chosen, left


def build_batch(request: GenerationRequest, batch_id: str, invoices: list[Invoice]) -> Batch:
    amounts = batch_amounts(invoices)
    numbers = [int(i.number) for i in invoices if i.number]
    return Batch(
        tenant_id=request.tenant_id, batch_id=batch_id, created_at=request.created_at,
        period_start=request.period_start, period_end=request.period_end,
        invoice_ids=tuple(i.invoice_id for i in invoices),
        first_number=str(min(numbers)) if numbers else None, last_number=str(max(numbers)) if numbers else None,
        amount_timesheets=amounts[LineCategory.TIMESHEETS],
        amount_products_services=amounts[LineCategory.PRODUCTS_SERVICES],
        invoice_count=sum(1 for i in invoices if i.kind is DocumentKind.INVOICE),
        credit_memo_count=sum(1 for i in invoices if i.kind is DocumentKind.CREDIT_MEMO))


def own_period(invoice: Invoice) -> Invoice:
    """An on-demand invoice covers no window: it prints the days of its own lines,
    from the first day worked (work_start, else work_date) to the last work_date."""
    starts = [x.work_start or x.work_date for x in invoice.lines if x.work_date is not None]
    ends = [x.work_date for x in invoice.lines if x.work_date is not None]
    if not ends:
        return invoice
    return replace(invoice, period_start=min(starts), period_end=max(ends))


def generate_invoices(lines: Iterable[PayLine], placements: Mapping[str, Placement], hierarchy: BilltoHierarchy,
                      sequence: TenantSequence, request: GenerationRequest, size: InvoiceSize = DEFAULT_SIZE,
                      cost: Callable[[PayLine], int] = line_bytes) -> GenerationResult:
    """`size`/`cost`: how much one document holds; a bigger group continues on numbered
    continuation documents (backoffice.consolidation.split_group)."""
    chosen, left = select_lines(lines, placements, hierarchy, request)
    report = health_check(chosen, placements, hierarchy)
    if not report.ok:
        return GenerationResult(report, left_pending=tuple(sorted([x.pay_line_id for x in chosen] + left)))
    batch_id = batch_id_for(request.tenant_id, request.batch_key)
    drafts = consolidate(chosen, placements, hierarchy, tenant_id=request.tenant_id, batch_id=batch_id,
                         issue_date=request.issue_date, period_start=request.period_start,
                         period_end=request.period_end, size=size, cost=cost)
    if request.on_demand:
        drafts = [own_period(d) for d in drafts]
    numbered, new_sequence = number_invoices(drafts, sequence, request.first_number)
    assignments = {line.pay_line_id: inv.invoice_id for inv in numbered for line in inv.lines}
    batch = build_batch(request, batch_id, numbered) if numbered else None
    return GenerationResult(report, tuple(numbered), batch, new_sequence, assignments, tuple(sorted(left)))


def pending_amounts(lines: Iterable[PayLine]) -> dict[LineCategory, object]:
    """List Batches' Pending row: Amount: Timesheets and Amount: Products & Services."""
    return category_amounts(lines)


@dataclass(frozen=True, slots=True)
class AccountPending:
    """One row of List Batches' Pending list (seed 000): an account's two amounts."""

    account_id: str | None          # None: lines whose Billto cannot be resolved (the health check says why)
    account_name: str
    currency: str | None
    timesheets: object
    products_services: object
    pay_lines: int


def pending_by_account(lines: Iterable[PayLine], placements: Mapping[str, Placement],
                       hierarchy: BilltoHierarchy) -> list[AccountPending]:
    """Pending lines per Billto account (resolved as generation would now), split Amount:
    Timesheets / Amount: Products & Services; by account name, the unresolved ones last."""
    groups: dict[str | None, list[PayLine]] = {}
    names: dict[str | None, tuple[str, str | None]] = {None: ("(no Billto)", None)}
    for line in lines:
        placement = placements.get(line.placement_id)
        account = None
        if placement is not None:
            try:
                account = hierarchy.resolve(placement).account
            except BilltoUnresolved:
                account = None
        key = account.entity_id if account is not None else None
        if account is not None:
            names[key] = (account.account_name or key, account.currency)
        groups.setdefault(key, []).append(line)
    rows = []
    for key, mine in groups.items():
        amounts = category_amounts(mine)
        name, currency = names[key]
        rows.append(AccountPending(key, name, currency, amounts[LineCategory.TIMESHEETS],
                                   amounts[LineCategory.PRODUCTS_SERVICES], len(mine)))
    return sorted(rows, key=lambda r: (r.account_id is None, r.account_name, r.account_id or ""))
