"""Document lifecycle (seed 003): invoices and credit memos go New -> Recorded -> Sent,
or Void; line items go New -> Recorded when their document is recorded.

Each transition is a pure function returning a new Invoice; an illegal one raises
IllegalDocumentTransition naming the document and both statuses.
"""
from __future__ import annotations

from dataclasses import replace

from backoffice.model import DocumentStatus, Invoice, LineItemStatus

_ALLOWED: dict[DocumentStatus, frozenset[DocumentStatus]] = {
    DocumentStatus.NEW: frozenset({DocumentStatus.RECORDED, DocumentStatus.VOID}),
    DocumentStatus.RECORDED: frozenset({DocumentStatus.SENT, DocumentStatus.VOID}),
    DocumentStatus.SENT: frozenset({DocumentStatus.VOID}),
    DocumentStatus.VOID: frozenset(),
}


class IllegalDocumentTransition(ValueError):
    def __init__(self, invoice: Invoice, target: DocumentStatus) -> None:
        super().__init__(
            f"{invoice.kind.value.lower().replace('_', ' ')} {invoice.number or invoice.invoice_id} "
            f"cannot go from {invoice.status.value} to {target.value}"
        )
        self.invoice_id = invoice.invoice_id
        self.current = invoice.status
        self.target = target


def _move(invoice: Invoice, target: DocumentStatus) -> Invoice:
    if target not in _ALLOWED[invoice.status]:
        raise IllegalDocumentTransition(invoice, target)
    return replace(invoice, status=target, version=invoice.version + 1)


def record(invoice: Invoice, template: str) -> Invoice:
    """Record with a template: the document and all its line items become Recorded.

    Recording an already-recorded document with the same template is a no-op (idempotent).
    """
    if invoice.status is DocumentStatus.RECORDED and invoice.template == template:
        return invoice
    moved = _move(invoice, DocumentStatus.RECORDED)
    lines = tuple(replace(line, status=LineItemStatus.RECORDED) for line in moved.lines)
    return replace(moved, lines=lines, template=template)


def mark_sent(invoice: Invoice) -> Invoice:
    """Sent after the SMTP server accepted it (Email & Send) or by Print & Send."""
    if invoice.status is DocumentStatus.SENT:
        return invoice
    return _move(invoice, DocumentStatus.SENT)


def void(invoice: Invoice) -> Invoice:
    """Cancel a document; the caller returns its pay lines to Pending."""
    return _move(invoice, DocumentStatus.VOID)
