"""Messages on the app's internal topics (versioned Avro, workers/state.py; written and read only by our workers)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from backoffice.billto import BilltoHierarchy
from backoffice.model import CreditMemoRequest, Invoice, PayLine, Placement


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """Close a window (scheduled) or generate now (on demand) for one tenant."""

    tenant_id: str
    window_key: str              # batch key: "WEEKLY:2026-11-22" or "cmd:<command id>"
    command_id: str
    cycle: str | None            # WEEKLY/SEMI_MONTHLY/MONTHLY, or None on demand (every cycle)
    period_start: dt.date
    period_end: dt.date
    as_of: dt.date
    on_demand: bool = False
    account_id: str | None = None
    first_number: int | None = None
    created_at: dt.datetime | None = None
    consolidate_into: str | None = None     # manual Consolidate: add the lines to this New invoice
    pay_line_ids: tuple[str, ...] = ()      # ... only these, when given


@dataclass(frozen=True, slots=True)
class Collect:
    """To one ledger partition: reserve your due lines for the window and send them."""

    request: WindowRequest
    partition: int
    partitions: int


@dataclass(frozen=True, slots=True)
class LinesChunk:
    request: WindowRequest
    source_partition: int
    chunk: int
    lines: tuple[PayLine, ...]
    placements: tuple[Placement, ...]
    #: timesheet id -> Avro bytes of the approval behind the chunk's timesheet lines (reports)
    approvals: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowEnd:
    request: WindowRequest
    source_partition: int
    partitions: int
    chunks: int
    expired_orphans: int = 0


@dataclass(frozen=True, slots=True)
class Settle:
    """To one ledger partition: these lines were invoiced; release the rest of the window's reservations."""

    window_key: str
    tenant_id: str
    #: placement key -> {pay_line_id: (the line as the window drew it, invoice id)}; {} only releases
    assignments: dict[str, dict[str, tuple[PayLine, str]]]
    #: the placements whose last lines this message carries (only they release the window's
    #: reservations: a placement's lines may span messages, workers.window_logic.split_assignments);
    #: None: all of them
    final: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """To one ledger partition, after the window is settled (or was already done): let go of
    whatever this tenant's lines there still hold for the window. Idempotent; it is what makes
    a replayed Collect (or a second one racing the first) unable to strand its reservations."""

    window_key: str
    tenant_id: str
    partition: int


@dataclass(frozen=True, slots=True)
class SweepParked:
    """To one ledger partition, from a timer: dead-letter the events parked there past the grace
    period (a placement that never came, for a tenant that may never get a window)."""

    partition: int


@dataclass(frozen=True, slots=True)
class LineCommand:
    """Snooze / unsnooze / credit / release for one placement's ledger."""

    command_id: str
    tenant_id: str
    placement_key: str
    action: str                              # SNOOZE, UNSNOOZE, CREDIT, RELEASE_INVOICE
    pay_line_id: str | None = None
    credit: CreditMemoRequest | None = None
    invoice_id: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentCommand:
    """For the owner of one invoice: store a generated one, or record/send/void it."""

    action: str                              # GENERATED, RECORD, SEND, PRINT_AND_SEND, VOID
    invoice_id: str
    command_id: str = ""
    invoice: Invoice | None = None
    template: str | None = None
    recipients: tuple[str, ...] = ()
    resend: bool = False
    pay_line_ids: tuple[str, ...] = ()
    placements: tuple[Placement, ...] = field(default=())
    lines: tuple[PayLine, ...] = ()          # CONSOLIDATE: the window's due lines (reserved for window_key)
    hierarchy: BilltoHierarchy | None = None
    window_key: str | None = None
    #: Avro bytes of the approved timesheets behind the lines (GENERATED, CONSOLIDATE): the
    #: timesheet report, drawn by the invoice's owner, which does not hold the placements' ledgers
    approvals: tuple[bytes, ...] = ()
    tenant_id: str | None = None             # operator commands: the tenant that asked (checked by the owner)

