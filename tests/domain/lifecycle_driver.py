"""Drives the pure domain the way the workers do, for the lifecycle model test.

One tenant, three Billto accounts (one per invoicing mode), placements on every cycle.
A batch window is what workers/ledger_logic.collect + window_logic.generate + settle do:
`ledger.due_lines` from every ledger of the window's cycle, `generation.generate_invoices`,
then the settle step on each ledger; automatic accounts' documents are then recorded and
sent (agents_documents). Void releases the invoice's lines (`ledger.release_invoice`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import event

from backoffice import consolidation, lifecycle
from backoffice import ledger as L
from backoffice.billto import BilltoHierarchy
from backoffice.generation import GenerationRequest, generate_invoices
from backoffice.model import (
    Address, BilltoNode, Contact, DocumentKind, DocumentStatus, EntityType, Invoice, InvoicingMode, PayLine,
    PayLineSource, PayLineStatus,
)
from backoffice.numbering import TenantSequence

TENANT = "t1"
ACCOUNTS = {            # account id -> (mode, tax rate)
    "acc-auto": (InvoicingMode.AUTOMATIC, Decimal("0.0825")),
    "acc-semi": (InvoicingMode.SEMI_AUTOMATIC, Decimal("0.0725")),
    "acc-manual": (InvoicingMode.MANUAL, Decimal("0")),
}


def tenant_hierarchy() -> BilltoHierarchy:
    nodes = [BilltoNode(TENANT, EntityType.COMPANY, account_id, None, f"Account {account_id}",
                        Contact("AP", f"ap@{account_id}.example"), Address("1 Main St"), mode, 30, tax, None, "USD", 1)
             for account_id, (mode, tax) in ACCOUNTS.items()]
    return BilltoHierarchy(nodes)


def settle_step(led: L.PlacementLedger, drafted: list[tuple[PayLine, str]], today: dt.date) -> L.PlacementLedger:
    """The Settle a window sends this ledger: the lead's `settle_invoiced` once it is on main,
    else `mark_invoiced` as workers/ledger_logic.settle calls it today."""
    settle_invoiced = getattr(L, "settle_invoiced", None)
    if settle_invoiced is not None:
        return settle_invoiced(led, drafted, today).ledger
    mine = {line.pay_line_id: invoice_id for line, invoice_id in drafted if line.pay_line_id in led.lines}
    return L.mark_invoiced(led, mine).ledger if mine else led


@dataclass(frozen=True)
class OpenWindow:
    """Generated, not yet settled: its documents are numbered, its lines reserved."""

    key: str
    as_of: dt.date
    invoices: tuple[Invoice, ...]
    drafted: tuple[tuple[PayLine, str], ...]


@dataclass
class Domain:
    """The real domain objects plus what the model remembers about them."""

    ledgers: dict[str, L.PlacementLedger] = field(default_factory=dict)
    hierarchy: BilltoHierarchy = field(default_factory=tenant_hierarchy)
    sequence: TenantSequence = field(default_factory=lambda: TenantSequence(TENANT))
    documents: dict[str, Invoice] = field(default_factory=dict)
    #: (invoice id, pay line id) -> the date as of which the line went on the document
    added_on: dict[tuple[str, str], dt.date] = field(default_factory=dict)
    #: pay line id -> the pay line exactly as it was drafted onto its (latest) document
    drafted: dict[str, PayLine] = field(default_factory=dict)
    #: invoice id -> its line items when first seen (later only appended to by Consolidate)
    first_lines: dict[str, tuple] = field(default_factory=dict)
    batches: int = 0
    #: pay line id -> key of the window that collected it and has not settled yet
    reserved: dict[str, str] = field(default_factory=dict)
    open_windows: dict[str, OpenWindow] = field(default_factory=dict)

    @property
    def placements(self):
        return {pid: led.placement for pid, led in self.ledgers.items()}

    def all_lines(self) -> dict[str, PayLine]:
        return {k: v for led in self.ledgers.values() for k, v in led.lines.items()}

    def live_documents(self) -> list[Invoice]:
        return [d for d in self.documents.values() if d.status is not DocumentStatus.VOID]

    def account_of(self, placement_id: str) -> str:
        return self.hierarchy.resolve(self.ledgers[placement_id].placement).account.entity_id

    # -- generation -----------------------------------------------------------------
    def generate(self, *, key: str, cycle: str | None, period_start: dt.date, period_end: dt.date, as_of: dt.date,
                 today: dt.date, on_demand: bool, account_id: str | None = None) -> list[Invoice]:
        """Collect, generate, settle: one window or one Generate on demand."""
        window = self.collect(key=key, cycle=cycle, period_start=period_start, period_end=period_end, as_of=as_of,
                              on_demand=on_demand, account_id=account_id)
        return self.finish(window, today)

    def collect(self, *, key: str, cycle: str | None, period_start: dt.date, period_end: dt.date, as_of: dt.date,
                on_demand: bool, account_id: str | None = None) -> OpenWindow:
        """Collect and generate (workers: Collect reserves the due lines, the assembler numbers and
        emits the documents); the Settle comes later (`finish`), maybe after other commands."""
        due = []
        for led in self.ledgers.values():
            if led.placement is None or (cycle is not None and led.placement.billing_cycle.value != cycle):
                continue
            due.extend(x for x in L.due_lines(led, period_end, as_of) if x.pay_line_id not in self.reserved)
        due.sort(key=lambda x: x.pay_line_id)
        if on_demand and due:
            period_start = min(x.work_date for x in due)
            period_end = max(x.work_date for x in due)
        request = GenerationRequest(TENANT, key, as_of, period_start, period_end,
                                    dt.datetime.combine(as_of, dt.time(0), tzinfo=dt.timezone.utc),
                                    on_demand=on_demand, account_id=account_id)
        result = generate_invoices(due, self.placements, self.hierarchy, self.sequence, request)
        assert not result.blocked, f"health check blocked a run: {result.report.errors}"
        self.sequence = result.sequence
        self.batches += 1
        self.reserved.update({x.pay_line_id: key for x in due})
        drafted_on = {line.pay_line_id: line for line in due}
        window = OpenWindow(key, as_of, result.invoices,
                            tuple((drafted_on[pid], inv) for pid, inv in result.assignments.items()))
        self.open_windows[key] = window
        return window

    def finish(self, window: OpenWindow, today: dt.date) -> list[Invoice]:
        """Settle the window's lines as drawn, release its reservations, issue its documents."""
        del self.open_windows[window.key]
        self._settle(list(window.drafted), today)
        self.reserved = {k: v for k, v in self.reserved.items() if v != window.key}
        for invoice in window.invoices:
            assert invoice.invoice_id not in self.documents, f"document id {invoice.invoice_id} drafted twice"
            self._remember(invoice, window.as_of)
            if invoice.invoicing_mode is InvoicingMode.AUTOMATIC:       # agents_documents: record and send
                invoice = lifecycle.mark_sent(lifecycle.record(invoice, "default"))
            self.documents[invoice.invoice_id] = invoice
        return list(window.invoices)

    def _remember(self, invoice: Invoice, as_of: dt.date) -> None:
        self.first_lines.setdefault(invoice.invoice_id, invoice.lines)
        for line in invoice.lines:
            self.added_on.setdefault((invoice.invoice_id, line.pay_line_id), as_of)

    def _settle(self, drafted: list[tuple[PayLine, str]], today: dt.date) -> None:
        by_placement: dict[str, list[tuple[PayLine, str]]] = {}
        for line, invoice_id in drafted:
            by_placement.setdefault(line.placement_id, []).append((line, invoice_id))
            self.drafted[line.pay_line_id] = line
        for pid, mine in sorted(by_placement.items()):
            for line, _ in mine:
                stored = self.ledgers[pid].lines.get(line.pay_line_id)
                if stored is None:
                    event("settled a line removed meanwhile")
                elif stored.status is not PayLineStatus.PENDING:
                    event(f"settled a line stored {stored.status.value}")
                elif stored.amount != line.amount:
                    event("settled a line re-rated meanwhile")
            self.ledgers[pid] = settle_step(self.ledgers[pid], mine, today)

    def consolidate(self, invoice_id: str, pick: list[int], as_of: dt.date, today: dt.date) -> int:
        """Manual Consolidate (workers/consolidate_logic): due lines of the invoice's account join it."""
        existing = self.documents[invoice_id]
        present = {x.pay_line_id for x in existing.lines}
        candidates = []
        for led in self.ledgers.values():
            if self.account_of(led.placement_id) != existing.account_id:
                continue
            candidates += [x for x in L.due_lines(led, as_of, as_of)
                           if x.pay_line_id not in present and x.pay_line_id not in self.reserved
                           and x.is_credit == existing.is_credit_memo]
        candidates.sort(key=lambda x: x.pay_line_id)
        if pick and candidates:
            candidates = sorted({candidates[i % len(candidates)].pay_line_id: candidates[i % len(candidates)]
                                 for i in pick}.values(), key=lambda x: x.pay_line_id)
        if not candidates:
            return 0
        grown = consolidation.consolidate_into(existing, candidates, self.placements, self.hierarchy)
        self.documents[invoice_id] = grown
        self._remember(grown, as_of)
        self._settle([(line, invoice_id) for line in candidates], today)
        return len(candidates)

    def void(self, invoice_id: str, today: dt.date) -> None:
        document = self.documents[invoice_id]
        self.documents[invoice_id] = lifecycle.void(document)
        for pid in sorted({line.placement_id for line in document.lines}):
            self.ledgers[pid] = L.release_invoice(self.ledgers[pid], invoice_id, today).ledger


def item_of(line: PayLine) -> tuple:
    """What a pay line bills, in the reference model's terms."""
    if line.source in (PayLineSource.TIMESHEET, PayLineSource.TIMESHEET_ADJUSTMENT):
        return ("TS", line.timesheet_id, line.pay_code.value)
    if line.source is PayLineSource.FEE:
        return ("FEE", line.fee_id)
    return ("CR", line.pay_line_id.rsplit("|CR|", 1)[1])


def is_credit_document(invoice: Invoice) -> bool:
    return invoice.kind is DocumentKind.CREDIT_MEMO


SNOOZABLE = (PayLineStatus.PENDING, PayLineStatus.SCHEDULED)
