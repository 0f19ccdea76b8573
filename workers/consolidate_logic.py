"""Manual Consolidate on the invoice's owner, without Faust: which of the window's
reserved lines join the invoice, and how every ledger partition settles its reservations."""
from __future__ import annotations

from dataclasses import dataclass

from backoffice.consolidation import DEFAULT_SIZE, InvoiceSize, consolidate_into
from backoffice.errors import DomainError, NotConsolidatable
from backoffice.model import DocumentStatus, Invoice
from workers.messages import DocumentCommand, Settle
from workers.partitioning import partition_for


@dataclass(frozen=True, slots=True)
class ConsolidationResult:
    ok: bool
    message: str
    invoice: Invoice | None = None            # the grown invoice, when ok
    taken: tuple[str, ...] = ()               # pay line ids now on the invoice


def consolidate(existing: Invoice | None, msg: DocumentCommand, size: InvoiceSize = DEFAULT_SIZE
                ) -> ConsolidationResult:
    if existing is None:
        return ConsolidationResult(False, f"invoice {msg.invoice_id} is unknown: nothing to consolidate into")
    if existing.status is not DocumentStatus.NEW:
        return ConsolidationResult(False, f"invoice {existing.number} is {existing.status.value}: "
                                          f"only New invoices take more line items")
    placements = {p.placement_id: p for p in msg.placements}
    present = {line.pay_line_id for line in existing.lines}
    candidates = []
    for line in msg.lines:
        placement = placements.get(line.placement_id)
        if placement is None or line.pay_line_id in present or line.is_credit != existing.is_credit_memo:
            continue
        try:
            account = msg.hierarchy.resolve(placement).account
        except DomainError:
            continue
        if account.entity_id == existing.account_id:
            candidates.append(line)
    if not candidates:
        return ConsolidationResult(False, f"no pending line items of {existing.account_name} to add to invoice "
                                          f"{existing.number}")
    try:
        grown = consolidate_into(existing, candidates, placements, msg.hierarchy, size)
    except NotConsolidatable as exc:
        return ConsolidationResult(False, exc.reason)
    return ConsolidationResult(True, f"added {len(candidates)} line item(s) to invoice {existing.number}; "
                                     f"total now {grown.total}", grown,
                               tuple(line.pay_line_id for line in candidates))


def settlements(msg: DocumentCommand, taken: tuple[str, ...], partitions: int) -> dict[int, Settle]:
    """One Settle per ledger partition that reserved lines: taken lines are invoiced, the rest released."""
    chosen = set(taken)
    by_partition: dict[int, dict[str, dict[str, tuple]]] = {}
    for line in msg.lines:
        pkey = f"{line.tenant_id}:{line.placement_id}"
        part = by_partition.setdefault(partition_for(pkey.encode(), partitions), {})
        assigned = part.setdefault(pkey, {})
        if line.pay_line_id in chosen:
            assigned[line.pay_line_id] = (line, msg.invoice_id)
    tenant = msg.lines[0].tenant_id if msg.lines else ""
    return {p: Settle(msg.window_key or "", tenant, a) for p, a in by_partition.items()}


def lines_of_account(lines, placements, hierarchy, account_id: str) -> tuple:
    """The lines whose placement bills `account_id` (resolution is per placement)."""
    by_id = {p.placement_id: p for p in placements}
    keep = set()
    for pid, placement in by_id.items():
        try:
            if hierarchy.resolve(placement).account.entity_id == account_id:
                keep.add(pid)
        except DomainError:
            continue
    return tuple(line for line in lines if line.placement_id in keep)


def release_all(window_key: str, tenant_id: str, lines, partitions: int) -> dict[int, Settle]:
    """Settles that only release the window's reservations of these lines' placements."""
    out: dict[int, dict[str, dict[str, tuple]]] = {}
    for line in lines:
        pkey = f"{line.tenant_id}:{line.placement_id}"
        out.setdefault(partition_for(pkey.encode(), partitions), {})[pkey] = {}
    return {p: Settle(window_key, tenant_id, a) for p, a in out.items()}
