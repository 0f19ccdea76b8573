"""The one small interface every AR/GL connector implements.

The runner (not the connector) decides ordering, retries across messages, offsets and
dead letters; a connector only turns our documents into the vendor's calls, and must
make every create idempotent on the vendor's side (request ids / idempotency keys
derived from `operation_key`), so a retry after a timeout never books a document twice.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, runtime_checkable

from backoffice.model import Invoice


class SyncStatus(str, Enum):
    SYNCED = "SYNCED"
    FAILED = "FAILED"
    NEEDS_REAUTH = "NEEDS_REAUTH"


@dataclass(frozen=True, slots=True)
class CustomerRef:
    external_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class ExternalDocument:
    """A document as the AR/GL system knows it."""

    system: str
    external_id: str
    number: str
    kind: str                       # "INVOICE" | "CREDIT_MEMO"
    total: str | None = None        # as the vendor reports it, for reconciliation
    version_token: str | None = None    # QBO SyncToken; unused by Xero
    voided: bool = False


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    invoice_id: str
    status: SyncStatus
    external: ExternalDocument | None = None
    error: str | None = None
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class OutgoingDocument:
    """What a connector is asked to book: our document, its PDF, and (for a linked credit
    memo) the external id and the printed number of each invoice it credits."""

    invoice: Invoice
    pdf: bytes | None = None
    pdf_name: str | None = None
    credited_external_ids: tuple[str, ...] = field(default_factory=tuple)
    credited_numbers: tuple[str, ...] = field(default_factory=tuple)    # what the customer can read


class ConnectorError(Exception):
    """A failure worth retrying later (network, 5xx, rate limit beyond the budget)."""


class PermanentError(ConnectorError):
    """The vendor refused the document itself (validation): retrying will not help."""


class NeedsReauthorization(ConnectorError):
    """The tenant's connection lost its grant (invalid_grant): pause that tenant only."""


def operation_key(tenant_id: str, invoice_id: str, operation: str, limit: int = 50) -> str:
    """A deterministic id for one vendor write, reused on every retry of that write
    (QBO `requestid`: the QBO connector asks for <= 36 characters, its batch limit; Xero `Idempotency-Key`)."""
    digest = hashlib.sha256(f"{tenant_id}\x1f{invoice_id}\x1f{operation}".encode()).hexdigest()
    prefix = operation[:8]
    return f"{prefix}-{digest}"[:limit]


@runtime_checkable
class Connector(Protocol):
    """One tenant's connection to one AR/GL system (async: a slow tenant never blocks another)."""

    system: str

    async def find_or_create_customer(self, invoice: Invoice) -> CustomerRef: ...

    async def create_invoice(self, doc: OutgoingDocument, customer: CustomerRef) -> ExternalDocument: ...

    async def create_credit_memo(self, doc: OutgoingDocument, customer: CustomerRef) -> ExternalDocument: ...

    async def attach_pdf(self, external: ExternalDocument, name: str, pdf: bytes) -> None: ...

    async def void(self, external: ExternalDocument) -> ExternalDocument: ...

    async def find_by_number(self, kind: str, number: str) -> ExternalDocument | None: ...

    async def sync_many(self, docs: list[OutgoingDocument]) -> list[SyncOutcome]:
        """Bulk path (QBO batch <= 10, Xero <= 50 per request), per-item faults reported per item."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TokenProvider(Protocol):
    """OAuth 2.0 access tokens for one tenant's connection (see connectors.oauth).

    `access_token()` refreshes ahead of expiry; `refreshed(stale)` is called after a 401:
    it refreshes once unless another caller already replaced `stale`. Both raise
    NeedsReauthorization when the grant is gone (invalid_grant)."""

    async def access_token(self) -> str: ...

    async def refreshed(self, stale: str) -> str: ...
