"""JSON-lines (or text) logging with the event's context, and redaction of secrets.

Agents set the context (tenant, topic, partition, offset, event id, invoice id) with
`log_context(...)`; a filter copies it onto every record. The redaction filter runs
last and masks OAuth tokens, passwords and long account/card numbers wherever they
appear in the message or its arguments, so a careless log line cannot leak them.

The worker replaces Faust's root handler with one of ours in both formats
(`setup_root_logger`): the redaction filter leaves a record with its final message and
no arguments, and Faust's text formatter re-applied "arguments" to it (None became
`(None,)`, so every formatted message raised inside logging and printed
"--- Logging error ---" instead of the line).
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from typing import Iterator

from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("tenant_id", "topic", "partition", "offset", "event_id", "invoice_id")
_context: contextvars.ContextVar[dict] = contextvars.ContextVar("backoffice_log_context", default={})

_SECRET_PATTERNS = [
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 [REDACTED]"),
    (re.compile(r"(?i)\b(access_token|refresh_token|id_token|client_secret|password|passwd|smtp_password|"
                r"authorization|api_key)([\"']?\s*[:=]\s*[\"']?)([^\s\"',&}]+)"), r"\1\2[REDACTED]"),
    (re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b"), None),      # IBAN
    (re.compile(r"\b\d(?:[ -]?\d){11,18}\b"), None),                                        # card / account numbers
]


def _mask_number(match: re.Match) -> str:
    raw = match.group(0)
    digits = re.sub(r"[^A-Za-z0-9]", "", raw)
    return "*" * (len(digits) - 4) + digits[-4:]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement if replacement is not None else _mask_number, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:        # a broken format string: keep what there is
            message = str(record.msg)
        # () and not None: a formatter that re-applies arguments must find none to apply
        record.msg, record.args = redact(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


@contextlib.contextmanager
def log_context(**fields) -> Iterator[None]:
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if k in CONTEXT_FIELDS and v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class TextFormatter(logging.Formatter):
    """One line (plus the traceback) per record; the context fields the record has, as key=value."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s] %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        context = " ".join(f"{key}={getattr(record, key)}" for key in CONTEXT_FIELDS if hasattr(record, key))
        return f"{line} [{context}]" if context else line


def make_handler(fmt: str = "json", stream=None) -> logging.Handler:
    """A stream handler (stderr by default) writing JSON lines or text, with context, redacted."""
    if fmt not in ("json", "text"):
        raise ValueError(f"log format must be json or text, got {fmt!r}")
    handler = logging.StreamHandler(stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())
    return handler


def setup_root_logger(logger: logging.Logger, level: int | str, fmt: str = "json", stream=None) -> logging.Handler:
    """Replace the logger's handlers (Faust's, or the defaults) with one of ours at `level`."""
    handler = make_handler(fmt, stream)
    handler.setLevel(level)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def configure_logging(fmt: str = "json", level: int | str = logging.INFO) -> logging.Handler:
    """Replace the root handlers with one JSON (or text) handler that redacts."""
    return setup_root_logger(logging.getLogger(), level, fmt)
