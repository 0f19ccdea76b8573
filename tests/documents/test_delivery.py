"""Record & Present, Email & Send and Print & Send against a real SMTP server on loopback."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from backoffice.lifecycle import IllegalDocumentTransition
from backoffice.model import DocumentStatus, InvoicingMode, LineItemStatus
from documents.delivery import DeliveryError, DeliveryService, FileSentLog, InMemorySentLog
from documents.mailer import SmtpConfig, SmtpMailer
from documents.messages import EmailTemplates
from documents.registry import TemplateError
from documents.store import LocalDocumentStore
from tests.documents import factories
from tests.documents.conftest import TEMPLATES
from tests.documents.pdfs import pdf_text
from tests.documents.smtp import Authenticator, RecordingHandler, SmtpServer, self_signed


@pytest.fixture
def smtp():
    with SmtpServer(RecordingHandler()) as server:
        yield server


def make_service(registry, tmp_path: Path, port: int | None, events: list, **smtp_options) -> DeliveryService:
    config = SmtpConfig(host="127.0.0.1", port=port or 1, sender="billing@northwind.example", timeout_seconds=5,
                        attempts=3, backoff_seconds=0.01, backoff_max_seconds=0.05, **smtp_options)
    return DeliveryService(
        registry=registry,
        store=LocalDocumentStore(tmp_path / "store"),
        agencies={"t1": factories.agency()},
        mailer=SmtpMailer(config),
        email_templates=EmailTemplates(TEMPLATES / "email"),
        sent_log=InMemorySentLog(),
        on_status_change=events.append,
    )


def test_record_stores_pdfs_marks_recorded_and_emits(registry, tmp_path):
    events: list = []
    service = make_service(registry, tmp_path, None, events)
    invoice = factories.invoice()
    result = service.record(invoice, "standard_invoice", placements=[factories.temp_placement()],
                            approvals=[factories.approval()])

    assert result.invoice.status is DocumentStatus.RECORDED and result.invoice.template == "standard_invoice"
    assert all(line.status is LineItemStatus.RECORDED for line in result.invoice.lines)
    assert [d.kind for d in result.documents] == ["invoice", "timesheet_report"]
    invoice_pdf = service.store.get(result.uris[0])
    assert "INV-1001" in pdf_text(invoice_pdf) and "Globex Corporation" in pdf_text(invoice_pdf)
    assert "Maria Manager" in pdf_text(service.store.get(result.uris[1]))
    assert len(events) == 1
    assert events[0].status is DocumentStatus.RECORDED and events[0].documents == result.documents
    assert events[0].documents[0].sha256 == result.sha256s[0] and len(result.sha256s[0]) == 64

    again = service.record(result.invoice, placements=[factories.temp_placement()], approvals=[factories.approval()])
    assert again.uris == result.uris and again.sha256s == result.sha256s and again.invoice == result.invoice
    fresh = service.record(invoice, "standard_invoice", placements=[factories.temp_placement()],
                           approvals=[factories.approval()])
    assert fresh.uris == result.uris, "same invoice, same bytes, same URIs"
    assert len(list((tmp_path / "store").rglob("*.pdf"))) == 2


def test_preview_has_no_side_effects(registry, tmp_path):
    events: list = []
    service = make_service(registry, tmp_path, None, events)
    invoice = factories.invoice()
    data = service.preview(invoice, "standard_invoice")
    assert data.startswith(b"%PDF") and "INV-1001" in pdf_text(data)
    assert events == [] and not (tmp_path / "store").exists()


def test_a_failing_template_changes_nothing(template_root, tmp_path):
    (template_root / "standard_invoice" / "invoice.html").write_text(
        '{% extends "standard.html" %}{% block title %}{{ nope }}{% endblock %}'
    )
    from documents.registry import TemplateRegistry

    events: list = []
    service = make_service(TemplateRegistry.load(template_root), tmp_path, None, events)
    with pytest.raises(TemplateError):
        service.record(factories.invoice(), "standard_invoice")
    assert events == [] and not (tmp_path / "store").exists()


def test_recording_with_another_template_after_recording_is_refused(registry, tmp_path):
    service = make_service(registry, tmp_path, None, [])
    recorded = service.record(factories.invoice(), "standard_invoice").invoice
    with pytest.raises(IllegalDocumentTransition):
        service.record(recorded, "standard_credit_memo")


def test_credit_memo_records_with_its_default(registry, tmp_path):
    service = make_service(registry, tmp_path, None, [])
    result = service.record(factories.credit_memo())
    assert result.invoice.template == "standard_credit_memo"
    assert [d.kind for d in result.documents] == ["credit_memo"]
    assert "Credit Memo" in pdf_text(service.store.get(result.uris[0]))


def test_email_and_send(registry, tmp_path, smtp):
    events: list = []
    service = make_service(registry, tmp_path, smtp.port, events)
    recorded = service.record(factories.invoice(), placements=[factories.temp_placement()],
                              approvals=[factories.approval()])
    result = service.send(recorded.invoice, extra_to=["controller@globex.example", "AP@globex.example"])

    assert result.sent and result.invoice.status is DocumentStatus.SENT
    assert result.recipients == ("ap@globex.example", "controller@globex.example")
    [received] = smtp.handler.received
    assert sorted(received.rcpt_tos) == ["ap@globex.example", "controller@globex.example"]
    assert received.mail_from == "billing@northwind.example"
    message = received.message
    assert message["Subject"].strip() == "Invoice INV-1001 from Northwind Staffing LLC - 21,004.17 USD due Apr 16, 2026"
    assert "Dear Alice Payable," in message.get_body(("plain",)).get_content()
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attachments) == {"Invoice-INV-1001.pdf", "Timesheet-Report-INV-1001.pdf"}
    assert attachments["Invoice-INV-1001.pdf"] == service.store.get(recorded.uris[0])
    assert "Total Amount 21,004.17 USD" in " ".join(pdf_text(attachments["Invoice-INV-1001.pdf"]).split())
    assert "03/09/2026 Mon REG" in " ".join(pdf_text(attachments["Timesheet-Report-INV-1001.pdf"]).split())
    assert [e.status for e in events] == [DocumentStatus.RECORDED, DocumentStatus.SENT]
    assert events[1].message_id == result.message_id == message["Message-ID"]

    twice = service.send(result.invoice)
    assert twice.already_sent and len(events) == 2
    again_from_recorded = service.send(recorded.invoice)  # e.g. a restart lost the Sent status change
    assert again_from_recorded.already_sent and again_from_recorded.invoice.status is DocumentStatus.SENT
    assert events[-1].status is DocumentStatus.SENT and events[-1].message_id == result.message_id
    assert len(smtp.handler.received) == 1, "never sent twice unless asked"
    resent = service.send(result.invoice, resend=True)
    assert resent.sent and len(smtp.handler.received) == 2


def test_transient_smtp_failure_is_retried_then_sent(registry, tmp_path, smtp):
    events: list = []
    service = make_service(registry, tmp_path, smtp.port, events)
    recorded = service.record(factories.invoice()).invoice
    smtp.handler.fail_next = 2
    result = service.send(recorded)
    assert result.sent and result.attempts == 3
    assert smtp.handler.data_commands == 3 and len(smtp.handler.received) == 1


def test_an_odd_quit_reply_after_acceptance_sends_once(registry, tmp_path, smtp):
    """smtplib's context manager raises on a non-221 QUIT; a retry then would mail the invoice twice."""
    service = make_service(registry, tmp_path, smtp.port, [])
    recorded = service.record(factories.invoice()).invoice
    smtp.handler.quit_reply = "421 4.3.2 Service shutting down"
    result = service.send(recorded)
    assert result.sent and result.attempts == 1 and result.invoice.status is DocumentStatus.SENT
    assert smtp.handler.data_commands == 1 and len(smtp.handler.received) == 1


def test_smtp_retries_are_counted(registry, tmp_path, smtp):
    from prometheus_client import REGISTRY

    def retries():
        return REGISTRY.get_sample_value("backoffice_retries_total", {"system": "smtp"}) or 0

    service = make_service(registry, tmp_path, smtp.port, [])
    recorded = service.record(factories.invoice()).invoice
    before = retries()
    smtp.handler.fail_next = 2
    assert service.send(recorded).sent
    assert retries() - before == 2


def test_smtp_failure_leaves_it_recorded_with_the_error(registry, tmp_path, smtp):
    events: list = []
    service = make_service(registry, tmp_path, smtp.port, events)
    recorded = service.record(factories.invoice()).invoice
    smtp.handler.fail_next = 10
    result = service.send(recorded)

    assert not result.sent and result.invoice.status is DocumentStatus.RECORDED
    assert result.attempts == 3 and smtp.handler.data_commands == 3
    assert "451" in result.error
    assert events[-1].status is DocumentStatus.RECORDED and events[-1].error == result.error
    assert service.sent_log.get("t1", recorded.invoice_id) is None

    smtp.handler.fail_next = 0
    assert service.send(recorded).sent, "a later attempt may still send it"


def test_permanent_refusal_is_not_retried(registry, tmp_path, smtp):
    service = make_service(registry, tmp_path, smtp.port, [])
    recorded = service.record(factories.invoice()).invoice
    smtp.handler.fail_next = 1
    smtp.handler.failure_reply = "554 5.7.1 Message rejected"
    result = service.send(recorded)
    assert not result.sent and result.attempts == 1 and "554" in result.error


def test_unreachable_server_is_retried_then_reported(registry, tmp_path):
    from tests.documents.smtp import free_port

    service = make_service(registry, tmp_path, free_port(), [])
    recorded = service.record(factories.invoice()).invoice
    result = service.send(recorded)
    assert not result.sent and result.attempts == 3 and result.invoice.status is DocumentStatus.RECORDED


def test_starttls_and_login(registry, tmp_path):
    server_ctx, client_ctx = self_signed(tmp_path)
    auth = Authenticator("billing", "s3cret")
    handler = RecordingHandler()
    with SmtpServer(handler, tls_context=server_ctx, require_starttls=True, authenticator=auth,
                    auth_required=True) as server:
        service = make_service(registry, tmp_path, server.port, [], starttls=True, username="billing",
                               password="s3cret", ssl_context=client_ctx)
        result = service.send(service.record(factories.invoice()).invoice)
        assert result.sent and auth.logins == [b"billing"] and len(handler.received) == 1

        wrong = make_service(registry, tmp_path / "other", server.port, [], starttls=True, username="billing",
                             password="wrong", ssl_context=client_ctx)
        failed = wrong.send(wrong.record(factories.invoice()).invoice)
        assert not failed.sent and failed.attempts == 1 and "535" in failed.error


def test_send_needs_a_recorded_document_and_a_recipient(registry, tmp_path, smtp):
    service = make_service(registry, tmp_path, smtp.port, [])
    with pytest.raises(DeliveryError, match="record it"):
        service.send(factories.invoice())
    nobody = replace(factories.invoice(), bill_to_contact=None)
    with pytest.raises(DeliveryError, match="no AP contact"):
        service.send(service.record(nobody).invoice)
    with pytest.raises(DeliveryError, match="not an email"):
        service.send(service.record(factories.invoice(invoice_id="inv-2")).invoice, extra_to=["x@y\r\nBcc: z@w"])
    assert smtp.handler.received == []


def test_print_and_send_marks_sent_without_email(registry, tmp_path, smtp):
    events: list = []
    service = make_service(registry, tmp_path, smtp.port, events)
    recorded = service.record(factories.invoice())
    printed = service.print_and_send(recorded.invoice)
    assert printed.invoice.status is DocumentStatus.SENT and printed.uris == recorded.uris
    assert events[-1].channel == "print" and smtp.handler.received == []
    assert service.send(recorded.invoice).already_sent and smtp.handler.received == []


def test_modes(registry, tmp_path, smtp):
    service = make_service(registry, tmp_path, smtp.port, [])
    automatic = factories.invoice(mode=InvoicingMode.AUTOMATIC, invoice_id="inv-auto")
    done = service.process_generated(automatic, account_default="standard_invoice")
    assert done.status is DocumentStatus.SENT and done.template == "standard_invoice"
    assert len(smtp.handler.received) == 1

    for mode in (InvoicingMode.SEMI_AUTOMATIC, InvoicingMode.MANUAL):
        waiting = service.process_generated(factories.invoice(mode=mode, invoice_id=f"inv-{mode.value}"))
        assert waiting.status is DocumentStatus.NEW
    assert len(smtp.handler.received) == 1

    batch = [factories.invoice(invoice_id=f"inv-s{i}", number=f"INV-20{i}") for i in range(3)]
    recorded = service.record_many(batch, "standard_invoice")
    sent = service.send_many([r.invoice for r in recorded] + [factories.invoice(invoice_id="inv-new")])
    assert [r.sent for r in sent[:3]] == [True, True, True] and isinstance(sent[3], DeliveryError)
    assert len(smtp.handler.received) == 4


def test_file_sent_log_survives_restarts(registry, tmp_path, smtp):
    service = make_service(registry, tmp_path, smtp.port, [])
    service.sent_log = FileSentLog(tmp_path / "sent")
    recorded = service.record(factories.invoice()).invoice
    assert service.send(recorded).sent

    restarted = make_service(registry, tmp_path, smtp.port, [])
    restarted.sent_log = FileSentLog(tmp_path / "sent")
    assert restarted.send(recorded).already_sent
    assert len(smtp.handler.received) == 1


def test_credit_memo_email(registry, tmp_path, smtp):
    service = make_service(registry, tmp_path, smtp.port, [])
    result = service.send(service.record(factories.credit_memo()).invoice)
    assert result.sent
    message = smtp.handler.received[0].message
    assert message["Subject"].strip() == "Credit Memo CM-2001 from Northwind Staffing LLC - -9,250.00 USD"
    assert "no payment is due" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Credit-Memo-CM-2001.pdf"
    assert "Credit Memo" in pdf_text(attachment.get_content())
