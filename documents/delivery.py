"""Record & Present, Email & Send, Print & Send (seed 003) as one service the worker and CLI call.

record(): render the PDF(s) completely, store them, then move the document to
Recorded and emit the status change with URIs and SHA-256s. send(): email the
stored PDFs to the AP contact (plus extra recipients); the document becomes Sent
only after the SMTP server accepted the message, and a SentLog makes sure one
invoice is never emailed twice unless a resend is asked for: it is written before
the message body goes out (TRANSMITTING), on the server's 250 (ACCEPTED) or on a line
dropped before the answer (UNCONFIRMED), each time before anything else can fail. A
send finding anything but nothing or ACCEPTED there refuses, naming the resend option.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from backoffice import lifecycle
from backoffice.model import DocumentStatus, Invoice, InvoicingMode, Placement, PlacementType, TimesheetApproval
from documents.mailer import (
    Attachment, DeliveryReceipt, MailDeliveryError, MailDeliveryUnconfirmed, OutgoingEmail, SmtpMailer,
)
from documents.messages import EmailTemplates
from documents.profile import AgencyProfile
from documents.registry import TemplateRegistry
from documents.render import render_document, render_timesheet_report
from documents.store import DocumentStore, StoredDocument, document_key

log = logging.getLogger(__name__)

INVOICE_DOC = "invoice"
CREDIT_MEMO_DOC = "credit_memo"
TIMESHEET_DOC = "timesheet_report"


class DeliveryError(ValueError):
    """A request that cannot be carried out as asked (wrong status, nobody to send to, no documents)."""


@dataclass(frozen=True, slots=True)
class DocumentEvent:
    """A status change to publish: who, what status, which stored documents, and any error."""

    tenant_id: str
    invoice_id: str
    number: str | None
    kind: str
    status: DocumentStatus
    template: str | None
    documents: tuple[StoredDocument, ...] = ()
    recipients: tuple[str, ...] = ()
    message_id: str | None = None
    error: str | None = None
    channel: str | None = None  # "email" or "print" for Sent


@dataclass(frozen=True, slots=True)
class RecordResult:
    invoice: Invoice
    documents: tuple[StoredDocument, ...]

    @property
    def uris(self) -> tuple[str, ...]:
        return tuple(d.uri for d in self.documents)

    @property
    def sha256s(self) -> tuple[str, ...]:
        return tuple(d.sha256 for d in self.documents)


@dataclass(frozen=True, slots=True)
class SendResult:
    invoice: Invoice
    sent: bool
    recipients: tuple[str, ...] = ()
    message_id: str | None = None
    attempts: int = 0
    error: str | None = None
    already_sent: bool = False


ACCEPTED = "ACCEPTED"           # the server answered the message with 250 (or Print & Send)
UNCONFIRMED = "UNCONFIRMED"     # the whole message went out; the line dropped before the answer
TRANSMITTING = "TRANSMITTING"   # written just before the body goes out; still there = the process died


@dataclass(frozen=True, slots=True)
class SentRecord:
    tenant_id: str
    invoice_id: str
    channel: str
    recipients: tuple[str, ...] = ()
    message_id: str | None = None
    state: str = ACCEPTED           # records written before states existed were all acceptances


class SentLog(Protocol):
    """Which invoices went out (FileSentLog in the worker)."""

    def get(self, tenant_id: str, invoice_id: str) -> SentRecord | None: ...

    def add(self, record: SentRecord) -> None: ...

    def remove(self, tenant_id: str, invoice_id: str) -> None: ...


class InMemorySentLog:
    def __init__(self) -> None:
        self._records: dict[tuple[str, str], SentRecord] = {}

    def get(self, tenant_id: str, invoice_id: str) -> SentRecord | None:
        return self._records.get((tenant_id, invoice_id))

    def add(self, record: SentRecord) -> None:
        self._records[(record.tenant_id, record.invoice_id)] = record

    def remove(self, tenant_id: str, invoice_id: str) -> None:
        self._records.pop((tenant_id, invoice_id), None)


class FileSentLog:
    """One small JSON file per sent invoice, written atomically; survives restarts."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, tenant_id: str, invoice_id: str) -> Path:
        return self.root / document_key(tenant_id, invoice_id, "sent", "0" * 12).rsplit("/", 1)[0] / "sent.json"

    def get(self, tenant_id: str, invoice_id: str) -> SentRecord | None:
        path = self._path(tenant_id, invoice_id)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return SentRecord(**{**data, "recipients": tuple(data.get("recipients", ()))})

    def add(self, record: SentRecord) -> None:
        path = self._path(record.tenant_id, record.invoice_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(record), handle)
            handle.flush()
            os.fsync(handle.fileno())       # on disk before the next SMTP step
        os.replace(tmp, path)

    def remove(self, tenant_id: str, invoice_id: str) -> None:
        self._path(tenant_id, invoice_id).unlink(missing_ok=True)


@dataclass
class _SentLogJournal:
    """The mailer's SendJournal over a SentLog: each step of one delivery written as it happens."""

    log: SentLog
    invoice: Invoice
    previous: SentRecord | None

    def _record(self, receipt: DeliveryReceipt, state: str) -> SentRecord:
        return SentRecord(self.invoice.tenant_id, self.invoice.invoice_id, "email", receipt.accepted,
                          receipt.message_id, state)

    def transmitting(self, receipt: DeliveryReceipt) -> None:
        self.log.add(self._record(receipt, TRANSMITTING))

    def answered(self, receipt: DeliveryReceipt, confirmed: bool) -> None:
        self.log.add(self._record(receipt, ACCEPTED if confirmed else UNCONFIRMED))

    def refused(self) -> None:
        if self.previous is not None:
            self.log.add(self.previous)
        else:
            self.log.remove(self.invoice.tenant_id, self.invoice.invoice_id)


def _kind_name(invoice: Invoice) -> str:
    return CREDIT_MEMO_DOC if invoice.is_credit_memo else INVOICE_DOC


@dataclass
class DeliveryService:
    registry: TemplateRegistry
    store: DocumentStore
    agencies: Mapping[str, AgencyProfile] | Callable[[str], AgencyProfile]
    mailer: SmtpMailer | None = None
    email_templates: EmailTemplates | None = None
    sent_log: SentLog = field(default_factory=InMemorySentLog)
    on_status_change: Callable[[DocumentEvent], None] | None = None

    # -- helpers -------------------------------------------------------------------------------

    def agency(self, tenant_id: str) -> AgencyProfile:
        if callable(self.agencies):
            return self.agencies(tenant_id)
        try:
            return self.agencies[tenant_id]
        except KeyError:
            raise DeliveryError(f"no agency profile for tenant {tenant_id!r}") from None

    def _emit(self, event: DocumentEvent) -> None:
        if self.on_status_change is not None:
            self.on_status_change(event)

    def _event(self, invoice: Invoice, documents: Iterable[StoredDocument] = (), **extra) -> DocumentEvent:
        return DocumentEvent(
            tenant_id=invoice.tenant_id, invoice_id=invoice.invoice_id, number=invoice.number,
            kind=invoice.kind.value, status=invoice.status, template=invoice.template, documents=tuple(documents),
            **extra,
        )

    # -- Record & Present ----------------------------------------------------------------------

    def preview(self, invoice: Invoice, template: str | None = None, *, account_default: str | None = None) -> bytes:
        """What Record would produce, with no side effect: nothing stored, no status change."""
        chosen = self.registry.resolve(invoice, explicit=template or invoice.template, account_default=account_default)
        return render_document(invoice, chosen, self.agency(invoice.tenant_id))

    def record(
        self,
        invoice: Invoice,
        template: str | None = None,
        *,
        account_default: str | None = None,
        placements: Sequence[Placement] = (),
        approvals: Sequence[TimesheetApproval] = (),
    ) -> RecordResult:
        """Render (invoice PDF, and timesheet report for temp placements), store, mark Recorded, emit.

        Everything is rendered before anything is stored or changed, so a template error leaves
        the document untouched. Recording again gives the same bytes and the same URIs.
        """
        if invoice.status not in (DocumentStatus.NEW, DocumentStatus.RECORDED):
            raise DeliveryError(f"{invoice.number or invoice.invoice_id} is {invoice.status.value}; only New or Recorded can be recorded")
        chosen = self.registry.resolve(invoice, explicit=template or invoice.template, account_default=account_default)
        agency = self.agency(invoice.tenant_id)
        rendered = [(_kind_name(invoice), render_document(invoice, chosen, agency))]
        on_invoice = {line.placement_id for line in invoice.lines}
        temps = [p for p in placements if p.placement_type is PlacementType.TEMP and p.placement_id in on_invoice]
        temp_ids = {p.placement_id for p in temps}
        their_approvals = [a for a in approvals if a.placement_id in temp_ids]
        if temps and their_approvals and not invoice.is_credit_memo:
            report = render_timesheet_report(
                temps, their_approvals, invoice, template=self.registry.timesheet_report(invoice.tenant_id), agency=agency,
            )
            rendered.append((TIMESHEET_DOC, report))
        recorded = lifecycle.record(invoice, chosen.name)  # raises before storing if the move is illegal
        documents = tuple(self.store.put(invoice.tenant_id, invoice.invoice_id, kind, data) for kind, data in rendered)
        if recorded is not invoice:
            self._emit(self._event(recorded, documents))
        log.info("recorded %s with %s: %s", recorded.number or recorded.invoice_id, chosen.name,
                 ", ".join(d.uri for d in documents))
        return RecordResult(recorded, documents)

    def record_many(self, invoices: Iterable[Invoice], template: str | None = None, **kwargs) -> list[RecordResult | Exception]:
        """Mass Record: each invoice on its own; one failure does not stop the others."""
        results: list[RecordResult | Exception] = []
        for invoice in invoices:
            try:
                results.append(self.record(invoice, template, **kwargs))
            except Exception as exc:  # reported per invoice to the operator
                log.warning("recording %s failed: %s", invoice.invoice_id, exc)
                results.append(exc)
        return results

    # -- Email & Send / Print & Send -----------------------------------------------------------

    def _documents(self, invoice: Invoice, documents: Sequence[StoredDocument] | None) -> list[StoredDocument]:
        found = list(documents) if documents is not None else self.store.list(invoice.tenant_id, invoice.invoice_id)
        if not any(d.kind == _kind_name(invoice) for d in found):
            raise DeliveryError(f"{invoice.number or invoice.invoice_id} has no recorded PDF; record it first")
        return found

    def recipients(self, invoice: Invoice, extra_to: Iterable[str] = ()) -> tuple[str, ...]:
        """The AP contact first, then any extra recipients; duplicates dropped."""
        ordered: list[str] = []
        ap = invoice.bill_to_contact.email if invoice.bill_to_contact else None
        for address in ([ap] if ap else []) + [a.strip() for a in extra_to]:
            if "@" not in address or any(c in address for c in "\r\n,;<> "):
                raise DeliveryError(f"not an email address: {address!r}")
            if address.lower() not in (o.lower() for o in ordered):
                ordered.append(address)
        return tuple(ordered)

    def send(
        self,
        invoice: Invoice,
        *,
        extra_to: Iterable[str] = (),
        resend: bool = False,
        documents: Sequence[StoredDocument] | None = None,
        email_template: str | None = None,
    ) -> SendResult:
        """Email & Send. Sent only once the SMTP server accepted; a failure leaves it Recorded with the error."""
        if self.mailer is None or self.email_templates is None:
            raise DeliveryError("no SMTP mailer configured")
        if invoice.status is DocumentStatus.VOID or invoice.status is DocumentStatus.NEW:
            raise DeliveryError(f"{invoice.number or invoice.invoice_id} is {invoice.status.value}; record it before sending")
        previous = self.sent_log.get(invoice.tenant_id, invoice.invoice_id)
        if previous is not None and previous.state != ACCEPTED and not resend:
            raise DeliveryError(
                f"{invoice.number or invoice.invoice_id} may already have been emailed to "
                f"{', '.join(previous.recipients) or 'its recipients'} ({previous.state.lower()}: the message went out "
                "but the server's answer never came); not sent again automatically: send with resend to email it anyway")
        if (previous is not None or invoice.status is DocumentStatus.SENT) and not resend:
            # Already out (perhaps the process died after the server accepted): never a second email,
            # but the status change that may have been lost is emitted again.
            marked = lifecycle.mark_sent(invoice)
            recipients = previous.recipients if previous else ()
            message_id = previous.message_id if previous else None
            if marked is not invoice:
                self._emit(self._event(marked, recipients=recipients, message_id=message_id,
                                       channel=previous.channel if previous else None))
            return SendResult(marked, sent=False, already_sent=True, recipients=recipients, message_id=message_id)
        stored = self._documents(invoice, documents)
        recipients = self.recipients(invoice, extra_to)
        if not recipients:
            raise DeliveryError(f"{invoice.number or invoice.invoice_id}: the account has no AP contact email and no recipient was given")
        agency = self.agency(invoice.tenant_id)
        text = self.email_templates.render(email_template or self.email_templates.default_for(invoice), invoice, agency)
        number = invoice.number or invoice.invoice_id
        title = "Credit-Memo" if invoice.is_credit_memo else "Invoice"
        names = {INVOICE_DOC: f"{title}-{number}.pdf", CREDIT_MEMO_DOC: f"{title}-{number}.pdf",
                 TIMESHEET_DOC: f"Timesheet-Report-{number}.pdf"}
        attachments = tuple(
            Attachment(names.get(d.kind, f"{d.kind}-{number}.pdf"), self.store.get(d.uri))
            for d in sorted(stored, key=lambda d: d.kind != _kind_name(invoice))
        )
        email = OutgoingEmail(recipients, text.subject, text.body, attachments, message_id_seed=invoice.invoice_id)
        try:
            receipt = self.mailer.send(email, _SentLogJournal(self.sent_log, invoice, previous))
        except MailDeliveryError as exc:
            level = logging.ERROR if isinstance(exc, MailDeliveryUnconfirmed) else logging.WARNING
            log.log(level, "sending %s failed after %d attempt(s): %s", number, exc.attempts, exc)
            self._emit(self._event(invoice, stored, recipients=recipients, error=str(exc), channel="email"))
            return SendResult(invoice, sent=False, recipients=recipients, attempts=exc.attempts, error=str(exc))
        sent = lifecycle.mark_sent(invoice)
        self._emit(self._event(sent, stored, recipients=receipt.accepted, message_id=receipt.message_id, channel="email"))
        return SendResult(sent, sent=True, recipients=receipt.accepted, message_id=receipt.message_id,
                          attempts=receipt.attempts)

    def send_many(self, invoices: Iterable[Invoice], **kwargs) -> list[SendResult | Exception]:
        """Mass Email & Send: each invoice on its own; one failure does not stop the others."""
        results: list[SendResult | Exception] = []
        for invoice in invoices:
            try:
                results.append(self.send(invoice, **kwargs))
            except Exception as exc:  # reported per invoice to the operator
                log.warning("sending %s failed: %s", invoice.invoice_id, exc)
                results.append(exc)
        return results

    def print_and_send(self, invoice: Invoice, documents: Sequence[StoredDocument] | None = None) -> RecordResult:
        """Print & Send: the operator prints the stored PDF; the document becomes Sent without an email."""
        if invoice.status not in (DocumentStatus.RECORDED, DocumentStatus.SENT):
            raise DeliveryError(f"{invoice.number or invoice.invoice_id} is {invoice.status.value}; record it before Print & Send")
        stored = tuple(self._documents(invoice, documents))
        sent = lifecycle.mark_sent(invoice)
        if sent is not invoice:
            self.sent_log.add(SentRecord(invoice.tenant_id, invoice.invoice_id, "print"))
            self._emit(self._event(sent, stored, channel="print"))
        return RecordResult(sent, stored)

    # -- modes ----------------------------------------------------------------------------------

    def process_generated(
        self,
        invoice: Invoice,
        *,
        account_default: str | None = None,
        placements: Sequence[Placement] = (),
        approvals: Sequence[TimesheetApproval] = (),
    ) -> Invoice:
        """What happens right after a batch generated a document, by the account's invoicing mode.

        Fully-automatic: recorded with the account's default template and sent at once.
        Semi-automatic and manual: left in New for an operator's Record & Present.
        """
        if invoice.invoicing_mode is not InvoicingMode.AUTOMATIC or invoice.status is not DocumentStatus.NEW:
            return invoice
        recorded = self.record(invoice, account_default=account_default, placements=placements, approvals=approvals)
        result = self.send(recorded.invoice, documents=recorded.documents)
        return result.invoice
