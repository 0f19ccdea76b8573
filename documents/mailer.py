"""Email & Send over SMTP: one message, PDFs attached, retried with backoff on transient failures.

A message counts as delivered only when the server answered its body with 250. Failures
before the body went out (connect, EHLO, AUTH, MAIL, RCPT, DATA) are retried on 4xx, dropped
connections and timeouts; 5xx replies are final. Once the body has gone out, a dropped line or
a timeout instead of the answer is *unconfirmed*: the server may have the message, so it is
never retried (MailDeliveryUnconfirmed); retrying is how one invoice was emailed three times.
A SendJournal hears of each step as it happens (before the body goes out, the server's answer,
a refusal), so the caller's sent log knows of an accepted message before QUIT, or anything
else, can fail.
"""
from __future__ import annotations

import io
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from documents.settings import DocumentSettings
from ops import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "billing@localhost"
    timeout_seconds: float = 10.0
    attempts: int = 4
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_settings(cls, settings: DocumentSettings) -> SmtpConfig:
        return cls(
            host=settings.smtp_host, port=settings.smtp_port, starttls=settings.smtp_starttls, ssl=settings.smtp_ssl,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            sender=settings.smtp_from, timeout_seconds=settings.smtp_timeout_seconds, attempts=settings.smtp_attempts,
            backoff_seconds=settings.smtp_backoff_seconds, backoff_max_seconds=settings.smtp_backoff_max_seconds,
        )


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str = "application"
    subtype: str = "pdf"


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    message_id_seed: str | None = None  # e.g. the invoice id, to make the Message-ID traceable


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    message_id: str
    accepted: tuple[str, ...]
    refused: tuple[str, ...]
    attempts: int


class MailDeliveryError(RuntimeError):
    def __init__(self, message: str, attempts: int, permanent: bool) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.permanent = permanent


class MailDeliveryUnconfirmed(MailDeliveryError):
    """The whole message went out but the server's answer never came (line dropped, timeout):
    it may have been delivered, so it is not sent again without an explicit resend."""

    def __init__(self, message: str, receipt: DeliveryReceipt) -> None:
        super().__init__(message, receipt.attempts, True)
        self.receipt = receipt


class SendJournal(Protocol):
    """Told of each step of a delivery, in order, so a record of it exists before the next step can fail."""

    def transmitting(self, receipt: DeliveryReceipt) -> None:
        """The body is about to go out to these recipients (after it, the server may have it)."""

    def answered(self, receipt: DeliveryReceipt, confirmed: bool) -> None:
        """The server answered the body with 250 (confirmed), or the line dropped before any answer."""

    def refused(self) -> None:
        """The server answered the body with an error, or the body did not go out whole: it has no message."""


class _NoJournal:
    def transmitting(self, receipt: DeliveryReceipt) -> None: ...

    def answered(self, receipt: DeliveryReceipt, confirmed: bool) -> None: ...

    def refused(self) -> None: ...


class _JournalFailed(MailDeliveryError):
    """The journal could not be written: never retried (after acceptance a retry is a second email)."""


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 4.5.2: CRLF line ends, a leading "." doubled, then the terminating <CRLF>.<CRLF>."""
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))


def _journal(step, *args) -> None:
    try:
        step(*args)
    except Exception as exc:
        raise _JournalFailed(f"the send log could not record the delivery ({exc}); not retried", 0, True) from exc


class SmtpMailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def build(self, email: OutgoingEmail) -> EmailMessage:
        if not email.to:
            raise ValueError("an email needs at least one recipient")
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = ", ".join(email.to)
        message["Subject"] = " ".join(email.subject.split())  # no header injection through a newline
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(idstring=email.message_id_seed, domain=self.config.sender.rpartition("@")[2] or None)
        message.set_content(email.body)
        for attachment in email.attachments:
            message.add_attachment(attachment.data, maintype=attachment.maintype, subtype=attachment.subtype,
                                   filename=attachment.filename)
        return message

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = cfg.ssl_context or ssl.create_default_context()
        if cfg.ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=cfg.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
        try:
            client.ehlo()
            if cfg.starttls and not cfg.ssl:
                client.starttls(context=context)
                client.ehlo()
            if cfg.username:
                client.login(cfg.username, cfg.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _envelope(self, client: smtplib.SMTP, message: EmailMessage, recipients: Sequence[str]
                  ) -> tuple[bytes, dict[str, tuple[int, bytes]]]:
        """MAIL FROM and RCPT TO (what smtplib's send_message does up to DATA): the flattened
        message and the refused recipients; raises when the server takes nobody."""
        international = not all(a.isascii() for a in (self.config.sender, *recipients))
        policy = message.policy.clone(linesep="\r\n", utf8=international)
        buffer = io.BytesIO()
        BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
        flat = buffer.getvalue()
        options: list[str] = []
        if international:
            if not client.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("a non-ASCII address needs SMTPUTF8, which the server lacks")
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        if client.does_esmtp and client.has_extn("size"):
            options.append(f"size={len(flat)}")
        code, reply = client.mail(self.config.sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, self.config.sender)
        refused: dict[str, tuple[int, bytes]] = {}
        for rcpt in recipients:
            code, reply = client.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, reply)
        if len(refused) == len(recipients):
            raise smtplib.SMTPRecipientsRefused(refused)
        return flat, refused

    def _deliver_once(self, message: EmailMessage, recipients: Sequence[str], attempt: int,
                      journal: SendJournal) -> dict[str, tuple[int, bytes]]:
        client = self._connect()
        message_id = str(message["Message-ID"])
        try:
            flat, refused = self._envelope(client, message, recipients)
            code, reply = client.docmd("DATA")
            if code != 354:
                raise smtplib.SMTPDataError(code, reply)
            receipt = DeliveryReceipt(message_id, tuple(r for r in recipients if r not in refused),
                                      tuple(refused), attempt)
            _journal(journal.transmitting, receipt)
            try:
                client.send(_dot_stuffed(flat))
            except BaseException:
                _journal(journal.refused)            # not all of it went out: the server has nothing
                raise
        except BaseException:
            client.close()
            raise
        try:
            code, reply = client.getreply()
        except (smtplib.SMTPException, OSError) as exc:     # the body went out, its answer did not come back
            client.close()
            _journal(journal.answered, receipt, False)
            raise MailDeliveryUnconfirmed(f"the server received the message but its answer never came ({exc}): "
                                          "it may have been delivered; not sent again", receipt) from exc
        if code != 250:
            client.close()
            _journal(journal.refused)
            raise smtplib.SMTPDataError(code, reply)
        _journal(journal.answered, receipt, True)
        # Accepted and recorded: whatever QUIT answers (or a dropped line) must not turn into a retry.
        try:
            client.quit()
        except (smtplib.SMTPException, OSError) as exc:
            log.info("SMTP QUIT after %s was accepted failed (ignored): %s", message_id, exc)
            client.close()
        return refused

    @staticmethod
    def _before_retry(state, message: EmailMessage) -> None:
        metrics.record_retry("smtp")
        log.warning("SMTP attempt %d for %s failed: %s", state.attempt_number, message["Message-ID"],
                    state.outcome.exception() if state.outcome else None)

    def send(self, email: OutgoingEmail, journal: SendJournal | None = None) -> DeliveryReceipt:
        """Send until the server accepts, a permanent error, an unconfirmed delivery
        (MailDeliveryUnconfirmed), or attempts run out (MailDeliveryError)."""
        journal = journal or _NoJournal()
        message = self.build(email)
        cfg = self.config
        retrying = Retrying(
            stop=stop_after_attempt(cfg.attempts),
            wait=wait_exponential(multiplier=cfg.backoff_seconds, max=cfg.backoff_max_seconds),
            retry=retry_if_exception(_transient),
            before_sleep=lambda state: self._before_retry(state, message),
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    refused = self._deliver_once(message, email.to, attempts, journal)
        except MailDeliveryError as exc:
            exc.attempts = attempts
            raise
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise MailDeliveryError(f"SMTP gave up after {attempts} attempts: {cause}", attempts, False) from cause
        except (smtplib.SMTPException, OSError) as exc:
            raise MailDeliveryError(f"SMTP refused the message: {exc}", attempts, not _transient(exc)) from exc
        accepted = tuple(r for r in email.to if r not in refused)
        return DeliveryReceipt(str(message["Message-ID"]), accepted, tuple(refused), attempts)
