"""An email the server accepted is never sent again, whatever the server does afterwards, against
a real SMTP server (aiosmtpd) that drops the line at the moments that matter."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import pytest

from backoffice.model import DocumentStatus
from documents.delivery import ACCEPTED, TRANSMITTING, UNCONFIRMED, DeliveryError, FileSentLog, SentRecord
from documents.mailer import Attachment, OutgoingEmail, SmtpConfig, SmtpMailer
from tests.documents import factories
from tests.documents.smtp import RecordingHandler, SmtpServer
from tests.documents.test_delivery import make_service


@dataclass
class DroppingHandler(RecordingHandler):
    """Keeps each message, then drops the line: before its 250 is written ("before_reply"), or right
    after it ("after_reply"). Looks at the sent log when the client says QUIT, if it gets that far."""

    drop: str = "before_reply"
    sent_log: FileSentLog | None = None
    log_at_quit: list | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        reply = await super().handle_DATA(server, session, envelope)
        if self.drop == "before_reply":
            server.transport.close()            # the message is kept; its 250 never leaves
        elif self.drop == "after_reply":
            asyncio.get_running_loop().call_soon(server.transport.close)
        return reply

    async def handle_QUIT(self, server, session, envelope):  # noqa: N802
        if self.sent_log is not None:
            self.log_at_quit = [self.sent_log.get("t1", "inv-1")]
        return await super().handle_QUIT(server, session, envelope)


def service_for(registry, tmp_path, server, attempts=4):
    service = make_service(registry, tmp_path, server.port, [])
    service.mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=server.port, sender="billing@northwind.example",
                                           timeout_seconds=5, attempts=attempts, backoff_seconds=0.01,
                                           backoff_max_seconds=0.02))
    service.sent_log = FileSentLog(tmp_path / "sent")
    return service


def test_a_line_dropped_before_the_answer_is_never_a_second_email(registry, tmp_path):
    with SmtpServer(DroppingHandler(drop="before_reply")) as server:
        service = service_for(registry, tmp_path, server)
        recorded = service.record(factories.invoice()).invoice
        result = service.send(recorded)
        assert len(server.handler.received) == 1, "retried after the server had the message"
        assert not result.sent and "not sent again" in result.error and result.attempts == 1
        assert service.sent_log.get("t1", "inv-1").state == UNCONFIRMED

        with pytest.raises(DeliveryError, match="resend"):          # the automatic retry consults the log
            service.send(recorded)
        restarted = service_for(registry, tmp_path, server)
        with pytest.raises(DeliveryError, match="resend"):
            restarted.send(recorded)
        assert len(server.handler.received) == 1

        server.handler.drop = "none"
        assert restarted.send(recorded, resend=True).sent           # only when asked for
        assert len(server.handler.received) == 2
        assert restarted.sent_log.get("t1", "inv-1").state == ACCEPTED


def test_a_line_dropped_after_the_250_is_sent_once_and_sent(registry, tmp_path):
    with SmtpServer(DroppingHandler(drop="after_reply")) as server:
        service = service_for(registry, tmp_path, server)
        result = service.send(service.record(factories.invoice()).invoice)
        assert result.sent and result.invoice.status is DocumentStatus.SENT
        assert service.send(result.invoice).already_sent
        assert len(server.handler.received) == 1


def test_acceptance_is_on_disk_before_quit(registry, tmp_path):
    with SmtpServer(DroppingHandler(drop="none")) as server:
        service = service_for(registry, tmp_path, server)
        server.handler.sent_log = FileSentLog(tmp_path / "sent")      # read from disk, as after a crash
        assert service.send(service.record(factories.invoice()).invoice).sent
        [at_quit] = server.handler.log_at_quit
        assert at_quit is not None and at_quit.state == ACCEPTED and at_quit.recipients == ("ap@globex.example",)


class FailingOnAcceptance(FileSentLog):
    def add(self, record: SentRecord) -> None:
        if record.state == ACCEPTED:
            raise OSError(28, "No space left on device")
        super().add(record)


def test_a_sent_log_that_cannot_record_the_acceptance_stops_retries(registry, tmp_path):
    with SmtpServer(DroppingHandler(drop="none")) as server:
        service = service_for(registry, tmp_path, server)
        service.sent_log = FailingOnAcceptance(tmp_path / "sent")
        recorded = service.record(factories.invoice()).invoice
        result = service.send(recorded)
        assert not result.sent and "could not record" in result.error
        assert len(server.handler.received) == 1
        # What was written before the body went out still stops an automatic second email.
        assert service.sent_log.get("t1", "inv-1").state == TRANSMITTING
        with pytest.raises(DeliveryError, match="resend"):
            service.send(recorded)
        assert len(server.handler.received) == 1


def test_a_process_that_died_mid_send_does_not_send_again_by_itself(registry, tmp_path):
    with SmtpServer(RecordingHandler()) as server:
        service = service_for(registry, tmp_path, server)
        recorded = service.record(factories.invoice()).invoice
        path = service.sent_log._path("t1", "inv-1")
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"tenant_id": "t1", "invoice_id": "inv-1", "channel": "email",
                                    "recipients": ["ap@globex.example"], "message_id": "<m@x>",
                                    "state": TRANSMITTING}))
        with pytest.raises(DeliveryError, match="resend"):
            service.send(recorded)
        assert server.handler.received == []


def test_refused_bodies_are_retried_and_what_arrives_is_what_was_sent(tmp_path):
    """A 4xx to the body means the server has nothing: that one is retried. The message itself
    (dots at line starts, non-ASCII, an attachment) arrives as built."""
    with SmtpServer(RecordingHandler(fail_next=2)) as server:
        mailer = SmtpMailer(SmtpConfig(port=server.port, attempts=3, backoff_seconds=0.01, timeout_seconds=5))
        body = ".starts with a dot\n..two dots\n.\nend — naïve café\n"
        receipt = mailer.send(OutgoingEmail(("ap@x.example", "ar@x.example"), "Rechnung über 5 €", body,
                                            (Attachment("a.pdf", b"%PDF-1.4\n.\n\r\n.."),)))
        assert receipt.attempts == 3 and server.handler.data_commands == 3
        [got] = server.handler.received
        assert got.rcpt_tos == ["ap@x.example", "ar@x.example"] and got.message["Subject"] == "Rechnung über 5 €"
        assert got.message.get_body(("plain",)).get_content().replace("\r\n", "\n") == body
        [attachment] = list(got.message.iter_attachments())
        assert attachment.get_content() == b"%PDF-1.4\n.\n\r\n.."
