"""Email & Send over SMTP: one message, PDFs attached, retried with backoff on transient failures.

A message counts as delivered only when the server accepted it (send_message
returned without raising); 4xx replies, dropped connections and timeouts are
retried, 5xx replies are final.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

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


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    return isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError))


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

    def _deliver_once(self, message: EmailMessage, recipients: Sequence[str]) -> dict[str, tuple[int, bytes]]:
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
            refused = client.send_message(message, from_addr=cfg.sender, to_addrs=list(recipients))
        except BaseException:
            client.close()
            raise
        # Accepted: whatever QUIT answers (or a dropped line) must not turn into a retry, i.e. a second email.
        try:
            client.quit()
        except (smtplib.SMTPException, OSError) as exc:
            log.info("SMTP QUIT after %s was accepted failed (ignored): %s", message["Message-ID"], exc)
            client.close()
        return refused

    @staticmethod
    def _before_retry(state, message: EmailMessage) -> None:
        metrics.record_retry("smtp")
        log.warning("SMTP attempt %d for %s failed: %s", state.attempt_number, message["Message-ID"],
                    state.outcome.exception() if state.outcome else None)

    def send(self, email: OutgoingEmail) -> DeliveryReceipt:
        """Send until the server accepts, a permanent error, or attempts run out (MailDeliveryError)."""
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
                    refused = self._deliver_once(message, email.to)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            raise MailDeliveryError(f"SMTP gave up after {attempts} attempts: {cause}", attempts, False) from cause
        except (smtplib.SMTPException, OSError) as exc:
            raise MailDeliveryError(f"SMTP refused the message: {exc}", attempts, not _transient(exc)) from exc
        accepted = tuple(r for r in email.to if r not in refused)
        return DeliveryReceipt(str(message["Message-ID"]), accepted, tuple(refused), attempts)
